"""The ``deep-audio`` command: one subcommand per module of :mod:`deep_audio.cli`.

Only the module of the command that runs is imported, so ``deep-audio --help`` is quick
and ``deep-audio test -m model.onnx`` runs without torch. The seed's spellings
(``python -m deep_audio.bin.basic_training``, ...) and the older console scripts
(``deep-audio-train``, ...) run the same modules.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

import deep_audio
from deep_audio.cli import common as _cli


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, its module in :mod:`deep_audio.cli`, one line of help and
    the modules of ``deep_audio.bin`` that run it under the seed's names."""

    name: str
    module: str
    summary: str
    seed_modules: tuple[str, ...] = ()

    def load(self) -> ModuleType:
        return importlib.import_module(f"deep_audio.cli.{self.module}")


GROUPS: dict[str, tuple[Command, ...]] = {
    "train and use a CNN": (
        Command("train", "train", "train a spectrogram CNN on class folders or a manifest",
                ("basic_training",)),
        Command("transfer", "transfer", "train new classes on top of a trained or "
                "pretrained network", ("transfer_learning",)),
        Command("test", "test", "classify audio files (a .pt model, or .onnx without torch)",
                ("basic_test", "onnx_classify")),
        Command("report", "report", "score a model on labelled folders or a manifest",
                ("classification_report",)),
        Command("segment", "segment", "label the regions or sound events of long recordings",
                ("segment_recording",)),
        Command("listen", "listen", "classify or detect live: a microphone, a pipe, a replay",
                ("listen",)),
        Command("architecture", "architecture", "print a model's layers, shapes and settings",
                ("model_architecture",)),
    ),
    "embeddings (a network's deep features)": (
        Command("embed", "embed", "write the file embeddings of folders to .npz or .csv",
                ("extract_features",)),
        Command("similar", "similar", "index sounds, then find the nearest files to a query",
                ("similar_sounds",)),
        Command("deep-feature-train", "deep_feature_train",
                "train an SVM & co. on a network's embeddings", ("deep_feature_training",)),
        Command("deep-feature-test", "deep_feature_test",
                "classify files with a classifier on embeddings", ("deep_feature_test",)),
    ),
    "classic (hand-crafted features, pyAudioAnalysis style)": (
        Command("features", "features", "write hand-crafted features to .npz or .csv",
                ("feature_extraction",)),
        Command("plot", "plot", "draw a spectrogram or a 2-D feature scatter",
                ("feature_plots",)),
        Command("classic-train", "classic_train", "train an SVM & co. on hand-crafted features",
                ("classic_training",)),
        Command("classic-test", "classic_test", "classify files with a classic model",
                ("classic_test",)),
    ),
    "export": (
        Command("export", "export", "write ONNX and TorchScript copies and check them",
                ("export_model",)),
    ),
}
COMMANDS: dict[str, Command] = {c.name: c for group in GROUPS.values() for c in group}
PROG = "deep-audio"


def command_list() -> str:
    """The commands by group, one line each, as ``deep-audio --help`` shows them."""
    width = max(map(len, COMMANDS)) + 2
    lines = []
    for title, commands in GROUPS.items():
        lines.append(f"{title}:")
        lines += [f"  {c.name:<{width}}{c.summary}" for c in commands]
        lines.append("")
    return "\n".join(lines)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``deep-audio`` parser; the arguments of ``command`` only (the others are
    listed but their modules not imported)."""
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=f"{PROG} [-h] [--version] COMMAND [options]",
        description="Recognise sounds with PyTorch: train, test and export audio "
                    "classifiers.\n\n" + command_list(),
        epilog=f"'{PROG} COMMAND --help' shows a command's options and examples.\n"
               "The seed's spellings run the same commands: 'python -m\n"
               f"deep_audio.bin.basic_training' is '{PROG} train'.")
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {deep_audio.__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                        help=argparse.SUPPRESS)
    for name, spec in COMMANDS.items():
        subparser = subcommands.add_parser(name, help=spec.summary, prog=f"{PROG} {name}")
        if name == command:
            module = spec.load()
            _cli.configure(subparser, module.__doc__, module.add_arguments)
            subparser.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``deep-audio COMMAND [options]``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        build_parser().print_help()
        return 2
    args = build_parser(argv[0] if argv[0] in COMMANDS else None).parse_args(argv)
    return _cli.execute(args.run, args)


def _old_script(script: str, command: str) -> Callable[[], int]:
    def run_old_script() -> int:
        module = COMMANDS[command].load()
        note = (f"{script} is the older name of '{PROG} {command}', kept through "
                "deep_audio 0.2.")
        parser = _cli.build_parser(module.__doc__, module.add_arguments, prog=script,
                                   note=note)
        return _cli.execute(module.run, parser.parse_args())

    run_old_script.__name__ = script.replace("-", "_")
    return run_old_script


# The console scripts from before ``deep-audio`` (pyproject.toml's [project.scripts]).
deep_audio_train = _old_script("deep-audio-train", "train")
deep_audio_test = _old_script("deep-audio-test", "test")
deep_audio_report = _old_script("deep-audio-report", "report")
deep_audio_architecture = _old_script("deep-audio-architecture", "architecture")
deep_audio_segment = _old_script("deep-audio-segment", "segment")
deep_audio_export = _old_script("deep-audio-export", "export")
deep_audio_onnx_classify = _old_script("deep-audio-onnx-classify", "test")
