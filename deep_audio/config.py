"""Typed settings, loaded from ``configs/default.yaml`` plus user overrides.

Every default lives in the YAML file; the dataclasses here only give the settings
types and names. A :class:`Config` is built once (by a CLI or a Python entry point) and
passed down explicitly; it is also stored, as a plain dict, inside every model file.

>>> config = load_config(epochs=3, n_mels=64)
>>> config.training.epochs, config.front_end.n_mels
(3, 64)
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deep_audio.errors import ConfigError


@dataclass(frozen=True)
class FrontEndConfig:
    """Waveform to log-mel settings; see :class:`deep_audio.features.LogMel`."""

    sample_rate: int
    window_seconds: float
    hop_seconds: float
    n_fft: int
    n_mels: int
    f_min: float
    f_max: float | None

    def __post_init__(self):
        _require(self.sample_rate > 0, "sample_rate", self.sample_rate, "> 0")
        _require(self.hop_seconds > 0, "hop_seconds", self.hop_seconds, "> 0")
        _require(self.window_seconds > 0, "window_seconds", self.window_seconds, "> 0")
        _require(self.n_mels > 0, "n_mels", self.n_mels, "> 0")
        _require(self.n_fft >= self.win_length, "n_fft", self.n_fft,
                 f">= the window length in samples ({self.win_length})")
        nyquist = self.sample_rate / 2
        f_max = nyquist if self.f_max is None else self.f_max
        _require(0 <= self.f_min < f_max <= nyquist, "f_min/f_max", (self.f_min, self.f_max),
                 f"0 <= f_min < f_max <= sample_rate / 2 = {nyquist}")

    @property
    def win_length(self) -> int:
        """Window length in samples."""
        return seconds_to_samples(self.window_seconds, self.sample_rate)

    @property
    def hop_length(self) -> int:
        """Hop length in samples."""
        return seconds_to_samples(self.hop_seconds, self.sample_rate)


@dataclass(frozen=True)
class SegmentConfig:
    """How files are cut into fixed-length segments."""

    segment_seconds: float
    segment_hop_seconds: float
    min_file_seconds: float
    event_overlap_fraction: float

    def __post_init__(self):
        _require(self.segment_seconds > 0, "segment_seconds", self.segment_seconds, "> 0")
        _require(0 < self.event_overlap_fraction <= 1, "event_overlap_fraction",
                 self.event_overlap_fraction, "in (0, 1]")
        _require(self.segment_hop_seconds > 0, "segment_hop_seconds",
                 self.segment_hop_seconds, "> 0")
        _require(self.min_file_seconds >= 0, "min_file_seconds", self.min_file_seconds, ">= 0")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the seed CNN; see :class:`deep_audio.models.SeedBackbone`."""

    conv_channels: tuple[int, ...]
    kernel_size: int
    hidden_units: tuple[int, ...]
    dropout: tuple[float, ...]
    pooling: str
    output_activation: bool
    frame_time_pooling: int = 2  # frame tasks: blocks that halve time (the others halve
                                 # frequency only): frames of hop_seconds * 2**k
    frame_recurrent_units: int = 0  # frame tasks: 0 = a linear layer per frame; n = a
                                    # bidirectional GRU of n units per direction (CRNN)

    def __post_init__(self):
        _require(len(self.conv_channels) >= 1, "conv_channels", self.conv_channels,
                 "at least one block")
        _require(len(self.dropout) == len(self.hidden_units), "dropout", self.dropout,
                 f"one value per hidden layer ({len(self.hidden_units)})")
        _require(self.kernel_size % 2 == 1, "kernel_size", self.kernel_size, "odd")
        _require(self.pooling in POOLINGS, "pooling", self.pooling,
                 f"one of {', '.join(POOLINGS)}")
        _require(0 <= self.frame_time_pooling <= len(self.conv_channels),
                 "frame_time_pooling", self.frame_time_pooling,
                 f"between 0 and the number of blocks ({len(self.conv_channels)})")
        _require(self.frame_recurrent_units >= 0, "frame_recurrent_units",
                 self.frame_recurrent_units, ">= 0")


@dataclass(frozen=True)
class TrainingConfig:
    """Optimiser, schedule, early stopping, device and precision."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    schedule: str
    warmup_fraction: float
    lr_factor: float
    lr_patience: int
    early_stopping_patience: int
    early_stopping_min_delta: float
    min_epochs: int
    validation_fraction: float
    validation_fold: str | None
    class_weighting: bool
    mean_teacher_weight: float
    mean_teacher_decay: float
    seed: int
    device: str
    precision: str
    num_workers: int
    cpu_threads: int
    compile_model: bool
    cache_dir: str | None
    models_dir: str
    task: str

    def __post_init__(self):
        _require(self.task in ("auto", *TASK_NAMES), "task", self.task,
                 f"auto or one of {', '.join(TASK_NAMES)}")
        _require(self.epochs >= 1, "epochs", self.epochs, ">= 1")
        _require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        _require(self.learning_rate > 0, "learning_rate", self.learning_rate, "> 0")
        _require(self.schedule in SCHEDULES, "schedule", self.schedule,
                 f"one of {', '.join(SCHEDULES)}")
        _require(0 < self.warmup_fraction < 1, "warmup_fraction", self.warmup_fraction,
                 "in (0, 1)")
        _require(self.early_stopping_min_delta >= 0, "early_stopping_min_delta",
                 self.early_stopping_min_delta, ">= 0")
        _require(0 < self.validation_fraction < 1, "validation_fraction",
                 self.validation_fraction, "in (0, 1)")
        _require(self.precision in PRECISIONS, "precision", self.precision,
                 f"one of {', '.join(PRECISIONS)}")
        _require(self.num_workers >= -1, "num_workers", self.num_workers, ">= 0, or -1 (auto)")
        _require(self.mean_teacher_weight >= 0, "mean_teacher_weight",
                 self.mean_teacher_weight, ">= 0")
        _require(0 < self.mean_teacher_decay < 1, "mean_teacher_decay",
                 self.mean_teacher_decay, "in (0, 1)")
        _require(self.cpu_threads >= 0, "cpu_threads", self.cpu_threads, ">= 0 (0 = auto)")


@dataclass(frozen=True)
class InferenceConfig:
    """Settings for classifying files."""

    inference_batch_size: int
    read_block_seconds: float
    smoothing_segments: int
    min_region_seconds: float
    evaluation_step_seconds: float
    event_median_filter_seconds: float
    event_min_gap_seconds: float
    frame_median_filter_seconds: float = 0.12  # frame models' median filter (frames are
                                               # short: 1 s would erase a 0.2 s event)

    def __post_init__(self):
        _require(self.frame_median_filter_seconds >= 0, "frame_median_filter_seconds",
                 self.frame_median_filter_seconds, ">= 0")
        _require(self.event_median_filter_seconds >= 0, "event_median_filter_seconds",
                 self.event_median_filter_seconds, ">= 0")
        _require(self.event_min_gap_seconds >= 0, "event_min_gap_seconds",
                 self.event_min_gap_seconds, ">= 0")
        _require(self.inference_batch_size >= 1, "inference_batch_size",
                 self.inference_batch_size, ">= 1")
        _require(self.read_block_seconds > 0, "read_block_seconds",
                 self.read_block_seconds, "> 0")
        _require(self.smoothing_segments >= 1, "smoothing_segments",
                 self.smoothing_segments, ">= 1")
        _require(self.min_region_seconds >= 0, "min_region_seconds",
                 self.min_region_seconds, ">= 0")
        _require(self.evaluation_step_seconds > 0, "evaluation_step_seconds",
                 self.evaluation_step_seconds, "> 0")


@dataclass(frozen=True)
class AugmentationConfig:
    """Training-time augmentation; see :class:`deep_audio.training.augment.Augmentation`.

    A zero turns each kind off: ``gain_db``, ``filter_db``, ``time_shift_seconds``,
    ``time_stretch``, ``freq_shift_bands``, ``spec_time_masks``, ``spec_freq_masks``,
    ``mixup_alpha``; background mixing is off while ``background_folder`` is empty.
    """

    background_folder: str
    background_snr_db: tuple[float, ...]
    background_probability: float
    gain_db: float
    filter_db: float
    filter_bands: int
    time_shift_seconds: float
    time_stretch: float
    freq_shift_bands: int
    spec_time_masks: int
    spec_time_mask_seconds: float
    spec_freq_masks: int
    spec_freq_mask_bands: int
    mixup_alpha: float

    def __post_init__(self):
        _require(self.filter_bands >= 1, "filter_bands", self.filter_bands, ">= 1")
        _require(len(self.background_snr_db) == 2
                 and self.background_snr_db[0] <= self.background_snr_db[1],
                 "background_snr_db", list(self.background_snr_db), "[low, high], low <= high")
        _require(0 <= self.background_probability <= 1, "background_probability",
                 self.background_probability, "in [0, 1]")
        for name in ("gain_db", "filter_db", "time_shift_seconds", "time_stretch",
                     "freq_shift_bands",
                     "spec_time_masks",
                     "spec_time_mask_seconds", "spec_freq_masks", "spec_freq_mask_bands",
                     "mixup_alpha"):
            _require(getattr(self, name) >= 0, name, getattr(self, name), ">= 0")


@dataclass(frozen=True)
class TransferConfig:
    """Reusing a trained model: learning rates, the new head and the few-shot schedule;
    see :mod:`deep_audio.training.transfer`."""

    source_model: str
    transfer_learning_rate: float
    fine_tune_learning_rate: float
    head: str
    min_steps: int
    few_shot_files_per_class: int
    head_weight_decay: float
    head_pooling: str

    def __post_init__(self):
        _require(self.head_pooling in POOLINGS[1:], "head_pooling", self.head_pooling,
                 " or ".join(POOLINGS[1:]))
        _require(self.transfer_learning_rate > 0, "transfer_learning_rate",
                 self.transfer_learning_rate, "> 0")
        _require(self.fine_tune_learning_rate > 0, "fine_tune_learning_rate",
                 self.fine_tune_learning_rate, "> 0")
        _require(self.head in ("embedding", "source"), "head", self.head,
                 "embedding or source")
        _require(self.min_steps >= 0, "min_steps", self.min_steps, ">= 0")
        _require(self.few_shot_files_per_class >= 0, "few_shot_files_per_class",
                 self.few_shot_files_per_class, ">= 0")
        _require(self.head_weight_decay >= 0, "head_weight_decay", self.head_weight_decay,
                 ">= 0")


@dataclass(frozen=True)
class ClassicConfig:
    """The classic path: hand-crafted feature windows, classifier, plots; see
    :mod:`deep_audio.classic` (seed and models folder come from ``training``)."""

    mid_window_seconds: float
    mid_step_seconds: float
    short_window_seconds: float
    short_step_seconds: float
    classifier: str
    cv_folds: int
    spectrogram_window_seconds: float
    spectrogram_step_seconds: float
    scatter_x_feature: str
    scatter_y_feature: str

    def __post_init__(self):
        for name in ("mid_window_seconds", "mid_step_seconds", "short_window_seconds",
                     "short_step_seconds", "spectrogram_window_seconds",
                     "spectrogram_step_seconds"):
            _require(getattr(self, name) > 0, name, getattr(self, name), "> 0")
        # How the windows fit together depends on each file's rate; the feature code
        # checks that (deep_audio.features.handcrafted).
        _require(self.classifier in CLASSIFIER_TYPES, "classifier", self.classifier,
                 f"one of {', '.join(CLASSIFIER_TYPES)}")
        _require(self.cv_folds >= 2, "cv_folds", self.cv_folds, ">= 2")

    @property
    def windows(self) -> dict[str, float]:
        """The four window settings by name, as the feature functions take them."""
        return {"mid_window_seconds": self.mid_window_seconds,
                "mid_step_seconds": self.mid_step_seconds,
                "short_window_seconds": self.short_window_seconds,
                "short_step_seconds": self.short_step_seconds}


@dataclass(frozen=True)
class Config:
    """All settings of a run. Sections are frozen dataclasses."""

    front_end: FrontEndConfig
    segments: SegmentConfig
    model: ModelConfig
    training: TrainingConfig
    inference: InferenceConfig
    augmentation: AugmentationConfig
    transfer: TransferConfig
    classic: ClassicConfig

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (lists, numbers, strings), as stored in model files."""
        return {
            field.name: _plain(dataclasses.asdict(getattr(self, field.name)))
            for field in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Mapping[str, Any]]) -> Config:
        """Build from a complete nested dict, checking names and types."""
        hints = typing.get_type_hints(cls)
        unknown = set(values) - set(hints)
        if unknown:
            raise ConfigError(f"unknown config section(s) {sorted(unknown)}; "
                              f"expected {sorted(hints)}")
        sections = {}
        for name, section_type in hints.items():
            if name not in values:
                raise ConfigError(f"config section '{name}' is missing")
            sections[name] = _build_section(section_type, name, values[name])
        return cls(**sections)


PRECISIONS = ("fp32", "bf16", "fp16", "auto")
TASK_NAMES = ("single_label", "multi_label",
              "frame_detection")  # deep_audio.tasks: what a classifier is asked
SCHEDULES = ("onecycle", "plateau")
POOLINGS = ("flatten", "time_mean", "time_max")
# Settings added after model files were first written, with the values that reproduce
# what those files compute: an older file lacks them and must not get today's defaults.
_VALUES_BEFORE_SETTING_EXISTED = {"model": {"pooling": "flatten", "output_activation": True}}
# The classic path's classifier types (deep_audio.classic.classifiers.PARAMETER_GRIDS keys).
CLASSIFIER_TYPES = ("svm", "svm_rbf", "knn", "randomforest", "gradientboosting",
                    "extratrees", "logistic")


def default_config_path() -> Path:
    """Path of ``configs/default.yaml`` (source checkout or installed data files)."""
    candidates = [
        Path(__file__).resolve().parent.parent / "configs" / "default.yaml",
        Path(sys.prefix) / "share" / "deep_audio" / "configs" / "default.yaml",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(f"default config not found; looked in {[str(p) for p in candidates]}")


def load_config(path: str | Path | None = None, /, **overrides: Any) -> Config:
    """Defaults from ``configs/default.yaml``, then the YAML file ``path``, then overrides.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file with some sections and keys of the default file; keys it does not
        name keep their defaults.
    **overrides
        Single settings by name, either a unique leaf name (``epochs=3``) or a dotted
        ``section.name`` (passed as ``**{"training.batch_size": 8}``).
    """
    values = _read_yaml(default_config_path())
    if path is not None:
        _merge(values, _read_yaml(Path(path)), source=str(path))
    config = Config.from_dict(values)
    return override(config, **overrides) if overrides else config


def stored_config(values: Mapping[str, Mapping[str, Any]], *, source: str) -> Config:
    """The config stored in a model file, completed with today's defaults.

    A model file written before a setting existed lacks it; the setting takes the
    value that reproduces what the file computed then (the network's shape), otherwise
    its default from ``configs/default.yaml``. Unknown sections or names are still errors.
    """
    defaults = _read_yaml(default_config_path())
    _merge(defaults, _VALUES_BEFORE_SETTING_EXISTED, source="deep_audio.config")
    _merge(defaults, _renamed_settings(values), source=source)
    return Config.from_dict(defaults)


def _renamed_settings(values: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stored settings under today's names: ``model.multi_label`` (files written before
    the task setting) is ``training.task``."""
    values = {section: dict(keys) for section, keys in values.items()}
    if "multi_label" in values.get("model", {}):
        multi_label = values["model"].pop("multi_label")
        values.setdefault("training", {})["task"] = (
            "multi_label" if multi_label else "single_label")
    return values


def override(config: Config, **overrides: Any) -> Config:
    """Copy of ``config`` with settings replaced; ``None`` values are ignored.

    Keys are unique leaf names (``epochs``) or dotted names (``training.epochs``).

    >>> override(load_config(), batch_size=None, device="cpu").training.device
    'cpu'
    """
    values = config.to_dict()
    for key, value in overrides.items():
        if key == "multi_label":  # the name of training.task before it existed
            key, value = "task", ("multi_label" if value else None)
        if value is None:
            continue
        section, name = _locate(values, key)
        values[section][name] = value
    return Config.from_dict(values)


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    """Round a duration in seconds to a whole number of samples at ``sample_rate`` Hz.

    >>> seconds_to_samples(0.010, 16000)
    160
    """
    return int(round(seconds * sample_rate))


def leaf_names(config: Config) -> dict[str, str]:
    """Map each leaf setting name to its section (names are unique across sections)."""
    return {name: section for section, keys in config.to_dict().items() for name in keys}


def _locate(values: dict[str, dict[str, Any]], key: str) -> tuple[str, str]:
    if "." in key:
        section, name = key.split(".", 1)
        if section in values and name in values[section]:
            return section, name
        raise ConfigError(f"unknown setting '{key}'")
    sections = [section for section, keys in values.items() if key in keys]
    if len(sections) == 1:
        return sections[0], key
    if not sections:
        known = sorted(name for keys in values.values() for name in keys)
        raise ConfigError(f"unknown setting '{key}'; known settings: {', '.join(known)}")
    raise ConfigError(f"setting '{key}' is ambiguous; write one of "
                      f"{', '.join(s + '.' + key for s in sections)}")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as stream:
            values = yaml.safe_load(stream)
    except OSError as error:
        raise ConfigError(f"cannot read config file '{path}': {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"config file '{path}' is not valid YAML: {error}") from error
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of sections")
    return values


def _merge(base: dict[str, Any], update: Mapping[str, Any], *, source: str) -> None:
    for section, keys in update.items():
        if section not in base:
            raise ConfigError(f"{source}: unknown section '{section}'; "
                              f"expected one of {sorted(base)}")
        if not isinstance(keys, Mapping):
            raise ConfigError(f"{source}: section '{section}' must be a mapping")
        for name, value in keys.items():
            if name not in base[section]:
                raise ConfigError(f"{source}: unknown setting '{section}.{name}'; "
                                  f"expected one of {sorted(base[section])}")
            base[section][name] = value


def _build_section(section_type: type, section: str, values: Mapping[str, Any]):
    if not isinstance(values, Mapping):
        raise ConfigError(f"config section '{section}' must be a mapping, got {values!r}")
    hints = typing.get_type_hints(section_type)
    unknown = set(values) - set(hints)
    if unknown:
        raise ConfigError(f"unknown setting(s) {sorted(unknown)} in section '{section}'")
    missing = set(hints) - set(values)
    if missing:
        raise ConfigError(f"missing setting(s) {sorted(missing)} in section '{section}'")
    kwargs = {name: _coerce(values[name], hint, f"{section}.{name}")
              for name, hint in hints.items()}
    try:
        return section_type(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"section '{section}': {error}") from error


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """Convert a YAML/CLI value to the annotated type, or fail naming the setting."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        return _coerce(value, hint, name)
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}={value!r} must be a list")
        return tuple(_coerce(v, args[0], name) for v in value)
    try:
        if hint is bool:
            if isinstance(value, str):
                lowered = value.lower()
                if lowered in ("true", "yes", "1", "on"):
                    return True
                if lowered in ("false", "no", "0", "off"):
                    return False
                raise ValueError
            if isinstance(value, (bool, int)):
                return bool(value)
            raise ValueError
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if hint is str:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a valid {hint.__name__}") from None
    return value


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _require(condition: bool, name: str, value: Any, rule: str) -> None:
    if not condition:
        raise ConfigError(f"{name}={value!r} must be {rule}")
