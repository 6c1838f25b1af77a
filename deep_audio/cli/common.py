"""Argument parsing shared by every command module.

Every command module (:mod:`deep_audio.cli.train`, ...) has the same parts: a module
docstring that is its ``--help`` text (a summary line, prose, then ``Examples:``),
``add_arguments(parser)``, ``run(args) -> int``, ``build_parser(prog=None)`` and
``main(argv=None)``. :mod:`deep_audio.cli.main` makes the ``deep-audio`` subcommands from
the docstring, ``add_arguments`` and ``run``.

Each flag means the same thing in every command: ``-i`` inputs, ``-o`` output, ``-m`` a
model file, ``-c`` a YAML config, ``--set KEY=VALUE`` any setting, ``-v``/``-q``
verbosity. :func:`execute` turns package errors into a one-line message and exit status
2 instead of a traceback, and makes every printed file name printable (a name that is not
valid UTF-8 shows its odd bytes as ``\\xNN``, as :func:`deep_audio.io.audio.printable`)."""

from __future__ import annotations

import argparse
import codecs
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Sequence

from deep_audio.config import TASK_NAMES, Config, leaf_names, load_config
from deep_audio.errors import ConfigError, DeepAudioError

# Flags that set one config value each; every other setting goes through --set.
CONFIG_FLAGS = {
    "epochs": int,
    "batch_size": int,
    "learning_rate": float,
    "device": str,
    "precision": str,
    "seed": int,
    "segment_seconds": float,
    "segment_hop_seconds": float,
    "num_workers": int,
    "cache_dir": str,
    "background_folder": str,
    # the classic path (deep_audio.classic)
    "models_dir": str,
    "classifier": str,
    "cv_folds": int,
    "mid_window_seconds": float,
    "mid_step_seconds": float,
    "short_window_seconds": float,
    "short_step_seconds": float,
    "spectrogram_window_seconds": float,
    "spectrogram_step_seconds": float,
    "scatter_x_feature": str,
    "scatter_y_feature": str,
    "task": str,  # set by add_task's --task / --multi-label
}
# The flags of a command that names none (the CNN path's).
DEFAULT_FLAGS = ("epochs", "batch_size", "learning_rate", "device", "precision", "seed",
                 "segment_seconds", "segment_hop_seconds", "num_workers", "cache_dir",
                 "background_folder")
# The four window flags of the hand-crafted features; see add_feature_windows.
FEATURE_WINDOW_FLAGS = ("mid_window_seconds", "mid_step_seconds", "short_window_seconds",
                        "short_step_seconds")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples keep their line breaks; an option's default is shown
    when it has one worth showing (not ``None``, ``False`` or empty) and its help does
    not already name it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, [], argparse.SUPPRESS)
                or not action.option_strings):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        return f"{text} (default: {shown})".strip()


def build_parser(doc: str, add_arguments: Callable[[argparse.ArgumentParser], None], *,
                 prog: str | None = None, note: str | None = None) -> argparse.ArgumentParser:
    """A command's parser: its module docstring as help text (an ``Examples:`` section
    goes below the options), the verbosity flags, then ``add_arguments``. ``note`` is
    a paragraph put first (an old script name says so)."""
    parser = argparse.ArgumentParser(prog=prog, formatter_class=HelpFormatter)
    configure(parser, doc, add_arguments, note=note)
    return parser


def configure(parser: argparse.ArgumentParser, doc: str,
              add_arguments: Callable[[argparse.ArgumentParser], None], *,
              note: str | None = None) -> None:
    """Fill ``parser`` (a new parser or a ``deep-audio`` subcommand's) as
    :func:`build_parser` describes."""
    description, _, examples = textwrap.dedent(doc).replace("``", "").partition("\nExamples:")
    description = description.strip()
    if note:
        description = f"{note}\n\n{description}"
    parser.description = description
    parser.epilog = f"examples:{examples.rstrip()}" if examples else None
    parser.formatter_class = HelpFormatter
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="show warnings and errors only, no progress bars")
    add_arguments(parser)
    parser.usage = _short_usage(parser)


def _short_usage(parser: argparse.ArgumentParser) -> str:
    """``PROG`` and what must be given, then ``[options]``: the help lists the rest."""
    needed_groups = [g for g in parser._mutually_exclusive_groups if g.required]
    needed = [action for action in parser._actions
              if action.required or not action.option_strings
              or any(action in g._group_actions for g in needed_groups)]
    formatter = parser._get_formatter()
    given = formatter._format_actions_usage(needed, needed_groups)
    return f"{parser.prog} {given} [options]".replace("  ", " ")


def add_inputs(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *,
               help: str) -> None:
    parser.add_argument("-i", "--input", nargs="+", required=True, metavar="PATH", help=help)


def add_folders_or_manifest(parser: argparse.ArgumentParser, *, help: str) -> None:
    """``-i`` class folders, or ``--manifest`` (a CSV/TSV of clips and labels) with
    ``--audio-root`` and the column flags (read with :func:`manifest_from_args`)."""
    group = parser.add_argument_group("input: class folders, or a manifest")
    group.add_argument("-i", "--input", nargs="+", metavar="FOLDER", help=help)
    group.add_argument("--manifest", nargs="+", metavar="CSV",
                       help="CSV or TSV with a path and a labels column (several labels "
                            "separated by ';'), optional fold, onset and offset columns; "
                            "several are read as one (DESED's strong and weak sets)")
    group.add_argument("--audio-root", nargs="+", metavar="DIR",
                       help="folder the manifest's paths are relative to, or one per "
                            "manifest (default: each manifest's folder)")
    for role, default in (("path", "path"), ("label", "labels"), ("fold", "fold"),
                          ("onset", "onset"), ("offset", "offset")):
        group.add_argument(f"--{role}-column", default=default, metavar="NAME",
                           help=f"name of the manifest's {role} column")


def add_unlabelled(parser: argparse.ArgumentParser) -> None:
    """``--unlabelled``: folders of clips without labels (a frame detector's mean teacher)."""
    parser.add_argument("--unlabelled", nargs="+", default=(), metavar="FOLDER",
                        help="clips without labels that train a frame detector through a "
                             "mean teacher (with a manifest of onsets and offsets)")


def add_task(parser: argparse.ArgumentParser) -> None:
    """``--task`` (the ``training.task`` setting) and its shortcut ``--multi-label``."""
    group = parser.add_argument_group("task")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--task", choices=("auto", *TASK_NAMES), default=None,
                        help="single_label: one class per clip (softmax); multi_label: a "
                             "tagger, one sigmoid per class; auto: multi_label when a "
                             "manifest row has several labels (default: training.task "
                             "of the config, auto)")
    choice.add_argument("--multi-label", dest="task", action="store_const",
                        const="multi_label", help="short for --task multi_label")


def manifest_from_args(args: argparse.Namespace):
    """The manifest named by ``--manifest`` (rows that cannot be used are reported), or
    ``None``; ``-i`` and ``--manifest`` exclude each other, one is needed."""
    from deep_audio.data.manifest import ManifestColumns, read_manifest

    if (args.manifest is None) == (not args.input):
        raise DeepAudioError("give class folders (-i) or a manifest (--manifest), not both")
    if args.manifest is None:
        return None
    manifest = read_manifest(args.manifest, audio_root=args.audio_root, columns=ManifestColumns(
        args.path_column, args.label_column, args.fold_column, args.onset_column,
        args.offset_column))
    if manifest.problems:
        print(f"{len(manifest.problems)} manifest row(s) left out:\n"
              + manifest.format_problems(), file=sys.stderr)
    if manifest.unlabelled:
        print(f"{len(manifest.unlabelled)} manifest row(s) without a label: unlabelled clips, "
              "which only a frame detector's mean teacher trains on", file=sys.stderr)
    return manifest


def add_model(parser: argparse.ArgumentParser, *, required: bool = True,
              default_source: bool = False, ensemble: bool = False) -> None:
    """``-m/--model``; with ``default_source`` it may be left out for the shipped general
    network (the setting transfer.source_model, resolved by :func:`source_model_from_args`);
    with ``ensemble`` it takes several files (a list), whose posteriors are averaged."""
    parser.add_argument("-m", "--model", required=required and not default_source,
                        metavar="MODEL.pt", nargs="+" if ensemble else None,
                        help="a model file written by deep_audio" + (
                            " (default: the shipped general network, "
                            "models/pretrained_general.pt)" if default_source else "") + (
                            "; several: an ensemble, their posteriors averaged (same "
                            "classes and segments)" if ensemble else ""))


def source_model_from_args(args: argparse.Namespace, config) -> str:
    """``-m``, or the default source model of ``config`` when ``-m`` and ``--backbone``
    are both left out."""
    from deep_audio.models.registry import default_source_model

    if args.model is not None:
        return args.model
    if getattr(args, "backbone", None) not in (None, "seed_cnn"):
        raise DeepAudioError(f"--backbone {args.backbone} needs its checkpoint as -m")
    return str(default_source_model(config))


def add_backbone(parser: argparse.ArgumentParser) -> None:
    """``--backbone NAME``: read ``-m`` as a pretrained network's published checkpoint."""
    from deep_audio.models.registry import BACKBONES

    parser.add_argument("--backbone", default=None, choices=BACKBONES,
                        help="read -m as this network's published checkpoint: panns_cnn14 "
                             "(Cnn14_mAP=0.431.pth), panns_cnn14_16k (Cnn14_16k_mAP=0.438.pth), "
                             "hf (a Hugging Face folder or hub id; pip install "
                             "'deep_audio[hf]'); default seed_cnn: a deep_audio model file")


def add_config(parser: argparse.ArgumentParser, *, flags: Sequence[str] = DEFAULT_FLAGS
               ) -> None:
    """``-c/--config``, ``--set`` and one flag per name in ``flags`` (see CONFIG_FLAGS);
    each flag's help names its setting and its value in configs/default.yaml."""
    group = parser.add_argument_group("settings (override configs/default.yaml)")
    group.add_argument("-c", "--config", metavar="YAML", help="a YAML file of settings")
    group.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any setting, e.g. --set n_mels=64 --set training.lr_patience=5")
    defaults = _default_settings()
    for name in flags:
        section, value = defaults.get(name, (None, None))
        where = f"{section}.{name}" if section else name
        shown = repr(value) if value == "" else value  # an empty path shows as ''
        group.add_argument("--" + name.replace("_", "-"), type=CONFIG_FLAGS[name],
                           dest=name, metavar=name.upper(),
                           help=f"setting {where} (default {shown})" if section
                           else f"setting {where}")


def _default_settings() -> dict[str, tuple[str, object]]:
    """Each setting's section and value in configs/default.yaml; empty when that file
    cannot be read (the command then reports it when it loads its config)."""
    try:
        config = load_config()
    except ConfigError:
        return {}
    values = config.to_dict()
    return {name: (section, values[section][name])
            for name, section in leaf_names(config).items()}


def config_from_args(args: argparse.Namespace) -> Config:
    """Defaults, then ``--config``, then ``--set`` pairs, then the named flags."""
    return load_config(args.config, **overrides_from_args(args))


def overrides_from_args(args: argparse.Namespace) -> dict[str, object]:
    """The single settings given by ``--set`` pairs and named flags, by name."""
    overrides = {}
    for pair in args.set:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r} must look like KEY=VALUE")
        overrides[key.strip()] = _yaml_scalar(value.strip())
    overrides.update({name: getattr(args, name) for name in CONFIG_FLAGS
                      if getattr(args, name, None) is not None})
    return overrides


def run(command: Callable[[argparse.Namespace], int | None],
        build_parser: Callable[[], argparse.ArgumentParser],
        argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``build_parser()`` and :func:`execute` ``command``."""
    return execute(command, build_parser().parse_args(argv))


def execute(command: Callable[[argparse.Namespace], int | None],
            args: argparse.Namespace) -> int:
    """Set up logging from ``-v``/``-q``, call ``command(args)`` and return its exit
    status; package errors and unwritable outputs print one line and give 2."""
    printable_output()
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    if not is_main_process():
        level = max(level, logging.WARNING)  # one log of a distributed run, from rank 0
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    try:
        return command(args) or 0
    except DeepAudioError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. an output folder that cannot be written
        where = f" '{error.filename}'" if error.filename else ""
        print(f"error: {error.strerror or error}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _escape_unprintable(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte escaped into a surrogate (``os.fsdecode`` of a name
    that is not UTF-8) is written ``\\xNN``; any other unencodable character as
    ``backslashreplace`` writes it."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = []
    for char in error.object[error.start:error.end]:
        code = ord(char)
        text.append(f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF
                    else char.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(text), error.end


codecs.register_error("deep_audio.printable", _escape_unprintable)


def printable_output() -> None:
    """Make stdout and stderr write unprintable characters escaped, never fail on them."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="deep_audio.printable")
        except (AttributeError, ValueError, OSError):  # a replaced or closed stream
            pass


def is_main_process() -> bool:
    """False in the processes of a torchrun launch other than rank 0."""
    return int(os.environ.get("RANK", "0")) == 0


def _yaml_scalar(text: str):
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def add_feature_windows(parser: argparse.ArgumentParser) -> None:
    """The four window flags of the hand-crafted (classic) features, in seconds.

    They have no argparse defaults (a flag left out is absent from the namespace): a flag
    that is given overrides its ``classic`` setting through :func:`overrides_from_args`;
    read the values from :func:`config_from_args`'s ``config.classic``.
    """
    group = parser.add_argument_group("feature windows (seconds; override configs/default.yaml)")
    for name in FEATURE_WINDOW_FLAGS:
        group.add_argument("--" + name.replace("_", "-"), type=CONFIG_FLAGS[name], dest=name,
                           default=argparse.SUPPRESS, metavar="SECONDS",
                           help=f"default: classic.{name} of the config")


def probability_columns(probabilities) -> str:
    """Tab-separated probabilities with three decimals, as every classifying command prints."""
    return "\t".join(f"{p:.3f}" for p in probabilities)


def print_results(results, class_names: Sequence[str], *, segments: bool = False) -> int:
    """Print file results (:class:`~deep_audio.predict.predictor.FileResult`) as every
    classifying command does; returns how many were printed.

    One tab-separated line per file (path, class, its probability, every class's
    probability) under one header; with ``segments``, per file a ``# path: class
    probability`` line, a header and one line per segment (start and end seconds, class,
    probability, every class's probability).
    """
    columns = "\t".join(f"p({name})" for name in class_names)
    if not segments:
        print(f"file\tclass\tprobability\t{columns}")
    printed = 0
    for result in results:
        printed += 1
        probability = result.posteriors[result.class_index]
        if not segments:
            print(f"{result.path}\t{result.class_name}\t{probability:.3f}\t"
                  + probability_columns(result.posteriors))
            continue
        print(f"# {result.path}: {result.class_name} {probability:.3f}")
        print(f"start_seconds\tend_seconds\tclass\tprobability\t{columns}")
        for start, end, row in zip(result.starts_seconds, result.ends_seconds,
                                   result.segment_posteriors):
            winner = int(row.argmax())
            print(f"{start:.3f}\t{end:.3f}\t{class_names[winner]}\t{row[winner]:.3f}\t"
                  + probability_columns(row))
    return printed


def classify_and_print(model, inputs: Sequence[str], *, segments: bool = False,
                       precision: str = "fp32", device: str = "cpu") -> int:
    """Classify ``inputs`` with any predictor (or model, or model file), print the
    results (:func:`print_results`) and return the exit status (:func:`exit_status`).

    One input that cannot be used raises its error (a one-line ``error:``, status 2);
    among several, each is skipped with a warning and the status is 1.
    """
    from deep_audio.predict.classify import as_predictor, classify_files

    predictor = as_predictor(model, precision=precision, device=device)
    results = classify_files(inputs, predictor, skip_unreadable=len(inputs) > 1)
    return exit_status(print_results(results, predictor.class_names, segments=segments),
                       len(inputs))


def exit_status(done: int, total: int, *, what: str = "read") -> int:
    """0 when all ``total`` inputs were handled, else 1 after saying how many were not."""
    if done < total:
        print(f"{total - done} file(s) could not be {what} (see above)", file=sys.stderr)
        return 1
    return 0
