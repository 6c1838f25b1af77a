"""Classic classifiers (SVM & co.) on deep features, optionally with hand-crafted ones.

What deep_audio_features' ``combine`` was meant to do: a trained CNN embeds every file
(:mod:`deep_audio.predict.embeddings`), the embedding is optionally concatenated with
the 136 hand-crafted statistics of :func:`deep_audio.features.handcrafted.file_features`,
and a scikit-learn pipeline of :mod:`deep_audio.classic` (scaler + classifier, one
hyper-parameter chosen by cross-validation on macro-F1) learns the classes.

The model is a classic skops file (see :mod:`deep_audio.classic.model_file`) with one
more entry::

    "deep_features": {"cnn_model": "/abs/path/cnn.pt", "layer": "linear1",
                      "combine_classic": False, "signature": {...}}

``signature`` (:func:`~deep_audio.predict.embeddings.feature_signature`) records the
CNN's feature settings and a hash of its weights; classifying with a CNN that embeds
differently (other settings, retrained weights) is refused.

A loaded classifier is a :class:`DeepFeatureClassifier` (``predict_proba``, ``save``,
``load``, typed attributes instead of the file's keys) and, unless it appends
hand-crafted statistics, a predictor (:mod:`deep_audio.predict.predictor`):
``classify_files(paths, DeepFeatureClassifier.load("dog_cat_deep_svm"))`` reads, cuts
and reports files like the PyTorch and ONNX models do, with segment posteriors.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline

from deep_audio.classic import (
    find_classic_model,
    load_classic_model,
    resolve_classic_model_path,
    save_classic_model,
    train_classifier,
)
from deep_audio.classic.classifiers import check_classifier_type
from deep_audio.classic.training import ClassicTrainingResult
from deep_audio.config import Config, load_config, override
from deep_audio.data import class_folders
from deep_audio.data.plan import SegmentPlan
from deep_audio.device import autocast_dtype
from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.features.handcrafted import MID_TERM_NAMES, file_features
from deep_audio.io.model_files import load_model
from deep_audio.models import Classifier
from deep_audio.predict.embeddings import (
    check_layer,
    check_signature,
    default_layer,
    embed_files,
    embed_segments,
    feature_names,
    feature_signature,
    model_path_of,
)
from deep_audio.predict.predictor import FilePrediction
from deep_audio.predict.torch_predictor import as_model
from deep_audio.tasks import SingleLabel, Task

logger = logging.getLogger(__name__)


@dataclass
class DeepFeatureClassifier:
    """A deep-feature classifier: the CNN it embeds with and the scikit-learn pipeline.

    A predictor (see :mod:`deep_audio.predict.predictor`) unless ``combine_classic``:
    :func:`deep_audio.predict.predictor.classify_files` takes it like any PyTorch or ONNX
    model. Load one with :meth:`load`, write it with :meth:`save`.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
    class_names : list of str
    cnn : Classifier
        Checked against the classifier's stored feature signature.
    layer : str
    combine_classic : bool
        Whether the 136 hand-crafted statistics follow the embedding.
    windows : dict of str to float, optional
        The hand-crafted features' windows in seconds, when ``combine_classic``.
    path : Path or None
        The classifier's model file (``None`` until saved).
    per_segment : bool
        Trained on segment embeddings (a file's probabilities are the mean of its
        segments') rather than on one mean embedding per file.
    classifier_type : str
        ``svm``, ``logistic``, ... (see :func:`deep_audio.classic.make_pipeline`).
    feature_names : list of str
        Column names of the pipeline's input, ``(n_features,)``.
    cnn_path : str or None
        The CNN's model file recorded at training time.
    signature : dict
        :func:`~deep_audio.predict.embeddings.feature_signature` of the CNN at
        training time.
    training : dict
        Training figures stored in the file: ``parameter`` (name and value),
        ``cv_macro_f1``, ``confusion_matrix``.
    precision : str
        Of the CNN's forward passes in :meth:`posteriors` (``fp32``, ``bf16``, ...).
    """

    pipeline: Pipeline
    class_names: list[str]
    cnn: Classifier
    layer: str
    combine_classic: bool
    windows: dict[str, float] | None
    path: Path | None
    per_segment: bool = False
    classifier_type: str = ""
    feature_names: list[str] = field(default_factory=list)
    cnn_path: str | None = None
    signature: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"

    @property
    def task(self) -> Task:
        """One class per file or segment: the scikit-learn pipeline's probabilities."""
        return SingleLabel()

    @property
    def plan(self) -> SegmentPlan:
        """The CNN's segment plan: files are read and cut as for the CNN itself."""
        return self.cnn.plan

    @property
    def config(self) -> Config:
        """The CNN's settings."""
        return self.cnn.config

    @property
    def batch_size(self) -> int:
        """Segments per forward pass of the CNN (``inference.inference_batch_size``)."""
        return self.cnn.config.inference.inference_batch_size

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities of feature rows.

        Parameters
        ----------
        features : np.ndarray, shape (n_rows, len(feature_names))
            Embeddings (segment embeddings for a ``per_segment`` classifier, mean file
            embeddings otherwise), followed by the hand-crafted statistics when
            ``combine_classic``.

        Returns
        -------
        np.ndarray, float64, shape (n_rows, len(class_names))
            Zero for a class the pipeline never saw in training.
        """
        features = np.asarray(features, dtype=np.float64)
        raw = self.pipeline.predict_proba(features)
        probabilities = np.zeros((len(features), len(self.class_names)))
        probabilities[:, np.asarray(self.pipeline.classes_, dtype=int)] = raw
        return probabilities

    def embed(self, segments: np.ndarray) -> np.ndarray:
        """The CNN's ``layer`` embeddings of waveform segments.

        ``(n, plan.segment_samples)`` float32 -> ``(n, size)`` float64.
        """
        amp_dtype = autocast_dtype(self.precision, next(self.cnn.parameters()).device)
        return embed_segments(self.cnn, segments, layer=self.layer,
                              batch_size=self.batch_size,
                              amp_dtype=amp_dtype).astype(np.float64)

    def posteriors(self, segments: np.ndarray) -> np.ndarray:
        """Class posteriors of waveform segments: the pipeline on their embeddings.

        For a ``per_segment`` classifier these are exactly the segment probabilities
        whose mean :func:`classify_files_deep` reports. A per-file classifier learnt
        from mean file embeddings; here it sees each segment's embedding, so a file's
        posterior from :func:`deep_audio.predict.predictor.classify_files` (the mean of its
        segments') may differ from :func:`classify_files_deep`'s (the posterior of the
        mean embedding).

        Parameters
        ----------
        segments : np.ndarray, float32, shape (n_segments, plan.segment_samples)

        Returns
        -------
        np.ndarray, float32, shape (n_segments, len(class_names))

        Raises
        ------
        DeepAudioError
            ``combine_classic``: the hand-crafted statistics are those of whole files;
            use :func:`classify_files_deep`.
        """
        if self.combine_classic:
            raise DeepAudioError(
                f"classifier '{self.path}' appends hand-crafted statistics of whole files "
                "to the embedding, so it cannot classify segments; use classify_files_deep")
        return self.predict_proba(self.embed(segments)).astype(np.float32)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the classifier (not the CNN: its path and signature) as a skops file.

        ``path`` is used as given; sets and returns :attr:`path`.
        """
        training = self.training
        self.path = save_classic_model(path, {
            "pipeline": self.pipeline, "classifier_type": self.classifier_type,
            "class_names": list(self.class_names), "feature_names": list(self.feature_names),
            "windows": self.windows,
            "sample_rate": self.cnn.config.front_end.sample_rate,
            **{key: training[key] for key in ("parameter", "cv_macro_f1", "confusion_matrix")
               if key in training},
            "deep_features": {"cnn_model": self.cnn_path, "layer": self.layer,
                              "combine_classic": bool(self.combine_classic),
                              "per_segment": bool(self.per_segment),
                              "signature": self.signature,
                              # a pretrained backbone's checkpoint is read as that network
                              "backbone": (self.cnn.backbone.name if "backbone_source"
                                           in self.cnn.metadata else None)}})
        return self.path

    @classmethod
    def load(cls, model_name: str | os.PathLike, *,
             cnn_model: Classifier | str | os.PathLike | None = None,
             models_dir: str | os.PathLike | None = None,
             device: torch.device | str = "cpu") -> DeepFeatureClassifier:
        """Load a deep-feature classifier and its CNN, and check that they still match.

        Parameters
        ----------
        model_name : str or PathLike
            As given to :func:`train_deep_feature_classifier` (a bare name is looked up
            in ``models_dir``, default: the config's ``training.models_dir``).
        cnn_model : Classifier or path, optional
            The CNN to embed with; default: the file recorded at training time.
        models_dir : str or PathLike, optional
        device : torch.device or str
            Where the recorded CNN file is loaded (a given ``cnn_model`` stays where it
            is).

        Raises
        ------
        ModelFileError
            The file is not a deep-feature classifier, the CNN file is missing, or the
            CNN embeds differently (other feature settings or weights) from the one used
            in training.
        """
        path = find_classic_model(model_name, models_dir)
        model = load_classic_model(path)
        deep = model.get("deep_features")
        if not deep:
            raise ModelFileError(f"'{path}' is a classic model on hand-crafted features, not "
                                 "a deep-feature classifier; use deep_audio.cli.classic_test")
        cnn = (_load_embedding_model(deep, device) if cnn_model is None
               else as_model(cnn_model))
        check_signature(deep["signature"], cnn, what=f"classifier '{path}'")
        return cls(model["pipeline"], list(model["class_names"]), cnn, deep["layer"],
                   bool(deep["combine_classic"]), model["windows"], path,
                   per_segment=bool(deep.get("per_segment", False)),
                   classifier_type=str(model.get("classifier_type", "")),
                   feature_names=list(model.get("feature_names", [])),
                   cnn_path=deep["cnn_model"], signature=dict(deep["signature"]),
                   training={key: model[key] for key in
                             ("parameter", "cv_macro_f1", "confusion_matrix") if key in model})


def _load_embedding_model(deep: dict[str, Any], device: torch.device | str):
    """The model a classifier embeds with: a deep_audio model file, or a pretrained
    backbone's checkpoint cut into the segments it was trained with."""
    backbone = deep.get("backbone")
    if not backbone:
        return load_model(deep["cnn_model"], device=device)
    segments = deep["signature"]["settings"]["segments"]
    config = load_config(**{f"segments.{name}": value for name, value in segments.items()})
    return load_model(deep["cnn_model"], device=device, backbone=backbone, config=config)


def segment_feature_rows(paths: Sequence[str | os.PathLike], cnn: Classifier, *,
                         layer: str, precision: str = "fp32"
                         ) -> tuple[list[np.ndarray], list[Path], list[tuple[str, str]]]:
    """Segment embeddings of ``paths``: one ``(n_segments, size)`` float64 array per file.

    Returns the arrays, the files they belong to and the files skipped with the reason.
    """
    skipped: list[tuple[Path, str]] = []
    rows, used = [], []
    for embedding in embed_files(paths, cnn, layer=layer, precision=precision,
                                 skip_unreadable=True, skipped=skipped):
        rows.append(embedding.segments.astype(np.float64))
        used.append(embedding.path)
    return rows, used, [(str(path), reason) for path, reason in skipped]


def deep_feature_matrix(paths: Sequence[str | os.PathLike], cnn: Classifier, *,
                        layer: str, windows: dict[str, float] | None = None,
                        precision: str = "fp32"
                        ) -> tuple[np.ndarray, list[Path], list[tuple[str, str]]]:
    """File embeddings, optionally followed by hand-crafted statistics, of ``paths``.

    Parameters
    ----------
    paths : sequence of str or PathLike
    cnn : Classifier
    layer : str
    windows : dict of str to float, optional
        When given, the 136 hand-crafted statistics
        (:func:`~deep_audio.features.handcrafted.file_features` with these windows, in
        seconds) follow each embedding. They are computed on the file resampled to the
        CNN's sample rate, so that spectral features share one scale across files.
    precision : str

    Returns
    -------
    features : np.ndarray, float64, shape (n_used, size) or (n_used, size + 136)
    used : list of Path
        The files of the rows.
    skipped : list of (str, str)
        Files that could not be used, with the reason.
    """
    skipped_paths: list[tuple[Path, str]] = []
    rows, used = [], []
    for embedding in embed_files(paths, cnn, layer=layer, precision=precision,
                                 skip_unreadable=True, skipped=skipped_paths):
        row = embedding.embedding.astype(np.float64)
        if windows is not None:
            try:
                classic, _ = file_features(embedding.path,
                                           sample_rate=cnn.config.front_end.sample_rate,
                                           **windows)
            except DeepAudioError as error:
                logger.warning("skipping %s", error)
                skipped_paths.append((embedding.path, str(error)))
                continue
            row = np.concatenate([row, classic])
        rows.append(row)
        used.append(embedding.path)
    width = check_layer(cnn, layer) + (0 if windows is None else len(MID_TERM_NAMES))
    features = np.array(rows) if rows else np.empty((0, width))
    return features, used, [(str(path), reason) for path, reason in skipped_paths]


def train_deep_feature_classifier(
    cnn_model: Classifier | str | os.PathLike, folders: Sequence[str | os.PathLike],
    output: str | os.PathLike, *, layer: str | None = None,
    classifier_type: str | None = None, combine_classic: bool = False,
    parameter_values: Sequence[float] | None = None, per_segment: bool = False,
    config: Config | None = None, **overrides: Any,
) -> ClassicTrainingResult:
    """Train a classic classifier on a CNN's file embeddings of class folders; save it.

    Parameters
    ----------
    cnn_model : Classifier or path
        A trained model file (or a model loaded from one: its file is recorded so that
        classification can load it again).
    folders : sequence of str or PathLike
        At least two folders, one per class, named after the class.
    output : str or PathLike
        A bare name is saved as ``<models_dir>/<name>.skops``; a path is used as given.
    layer : str
        ``conv``, ``linear1``, ... (see :func:`~deep_audio.predict.embeddings.embedding_layers`).
    classifier_type : str, optional
        ``svm`` (linear), ``svm_rbf``, ``knn``, ``randomforest``, ``gradientboosting``,
        ``extratrees`` (see :func:`deep_audio.classic.make_pipeline`); default
        ``config.classic.classifier``.
    combine_classic : bool
        Append the 136 hand-crafted statistics to each embedding, with the windows of
        ``config.classic`` (stored in the model file).
    parameter_values : sequence of float, optional
        See :func:`deep_audio.classic.train_classifier`.
    per_segment : bool
        Learn from every segment's embedding (labelled with its file's class; folds keep
        a file's segments together) instead of one mean embedding per file; a file's
        probabilities are then the mean of its segments'. With few files per class this
        gives the classifier many more examples: it is the transfer method that beats
        training from scratch in ``benchmarks/benchmark_transfer.py`` (``layer="conv_bands"``,
        ``classifier_type="logistic"``). Not with ``combine_classic``.
    config : Config, optional
        Settings; default :func:`deep_audio.config.load_config`. Used here:
        ``classic.cv_folds``, ``training.seed``, ``training.precision`` (of the CNN's
        forward passes), ``training.models_dir`` (of a bare ``output``) and, for
        ``combine_classic``, the ``classic`` windows. The CNN's own feature settings are
        those stored in its model file.
    **overrides
        Any single setting by name (``cv_folds=3``, ``seed=1``, ``precision="fp32"``).

    Returns
    -------
    ClassicTrainingResult
        Cross-validated report and confusion matrix; ``model_path`` is the saved file.

    Examples
    --------
    >>> result = train_deep_feature_classifier(  # doctest: +SKIP
    ...     "models/cnn.pt", ["data/dog", "data/cat"], "dog_cat_deep_svm", layer="linear2")
    >>> print(result.report)  # doctest: +SKIP
    """
    config = override(config or load_config(), **overrides)
    classifier_type = check_classifier_type(classifier_type or config.classic.classifier)
    precision = config.training.precision
    windows = dict(config.classic.windows) if combine_classic else None
    cnn = as_model(cnn_model)
    layer = layer or default_layer(cnn)
    size = check_layer(cnn, layer)
    cnn_path = model_path_of(cnn)
    if cnn_path is None:
        raise DeepAudioError("the CNN model must come from a model file (load_model), so "
                             "that the classifier can find it again")
    if per_segment and combine_classic:
        raise DeepAudioError("per_segment learns from segment embeddings; the hand-crafted "
                             "features are per file: use one or the other")
    class_names, files = class_folders(folders)
    label_of = {f.path: f.label for f in files}
    groups = None
    if per_segment:
        rows, used, skipped = segment_feature_rows([f.path for f in files], cnn, layer=layer,
                                                   precision=precision)
        features = np.concatenate(rows) if rows else np.empty((0, size))
        lengths = [len(r) for r in rows]
        labels = np.repeat(np.array([label_of[path] for path in used], dtype=int), lengths)
        groups = np.repeat(np.arange(len(rows)), lengths)  # the file of each segment
        logger.info("%d segments of %d files x %d features (%s)", len(features), len(used),
                    size, layer)
    else:
        features, used, skipped = deep_feature_matrix(
            [f.path for f in files], cnn, layer=layer, windows=windows,
            precision=precision)
        labels = np.array([label_of[path] for path in used], dtype=int)
        logger.info("%d files x %d features (%s%s)", *features.shape, layer,
                    " + 136 hand-crafted" if combine_classic else "")
    result = train_classifier(features, labels, class_names, classifier_type,
                              folds=config.classic.cv_folds, seed=config.training.seed,
                              parameter_values=parameter_values, groups=groups)
    result.skipped = skipped
    names = feature_names(layer, size) + (list(MID_TERM_NAMES) if combine_classic else [])
    classifier = DeepFeatureClassifier(
        result.pipeline, list(class_names), cnn, layer, bool(combine_classic), windows, None,
        per_segment=bool(per_segment), classifier_type=classifier_type, feature_names=names,
        cnn_path=cnn_path, signature=feature_signature(cnn, layer),
        training={"parameter": {"name": result.parameter[0],
                                "value": float(result.parameter[1])},
                  "cv_macro_f1": float(result.macro_f1),
                  "confusion_matrix": result.confusion_matrix.tolist()})
    result.model_path = classifier.save(
        resolve_classic_model_path(output, config.training.models_dir))
    logger.info("saved %s", result.model_path)
    return result


def load_deep_feature_classifier(
    model_name: str | os.PathLike, *,
    cnn_model: Classifier | str | os.PathLike | None = None,
    models_dir: str | os.PathLike | None = None, device: torch.device | str = "cpu",
) -> DeepFeatureClassifier:
    """Load a deep-feature classifier; :meth:`DeepFeatureClassifier.load`."""
    return DeepFeatureClassifier.load(model_name, cnn_model=cnn_model, models_dir=models_dir,
                                      device=device)


def classify_files_deep(paths: Iterable[str | os.PathLike], classifier: DeepFeatureClassifier,
                        *, precision: str = "fp32", skip_unreadable: bool = False
                        ) -> Iterator[FilePrediction]:
    """Classify files with a deep-feature classifier; yields in input order.

    ``posteriors`` are the pipeline's class probabilities (for a ``per_segment``
    classifier, the mean of the file's segments'); ``segments`` is empty. With
    ``skip_unreadable`` unusable files are logged and skipped, otherwise the first one
    raises a :class:`~deep_audio.errors.DeepAudioError` naming it.
    """
    paths = list(paths)
    if classifier.per_segment:
        rows, used, skipped = segment_feature_rows(paths, classifier.cnn,
                                                   layer=classifier.layer, precision=precision)
    else:
        features, used, skipped = deep_feature_matrix(
            paths, classifier.cnn, layer=classifier.layer,
            windows=classifier.windows if classifier.combine_classic else None,
            precision=precision)
    if skipped and not skip_unreadable:
        raise DeepAudioError(skipped[0][1])
    if not used:
        return
    if classifier.per_segment:
        probabilities = np.stack([classifier.predict_proba(r).mean(axis=0) for r in rows])
    else:
        probabilities = classifier.predict_proba(features)
    for path, row in zip(used, probabilities):
        winner = int(np.argmax(row))
        yield FilePrediction(path, winner, classifier.class_names[winner], row)


def deep_file_classification(path: str | os.PathLike, model_name: str | os.PathLike, *,
                             cnn_model: Classifier | str | os.PathLike | None = None,
                             models_dir: str | os.PathLike | None = None
                             ) -> tuple[int, np.ndarray, list[str]]:
    """Classify one file, like :func:`deep_audio.classic.file_classification`.

    Returns
    -------
    class_index : int
    probabilities : np.ndarray, shape (n_classes,)
    class_names : list of str

    Examples
    --------
    >>> wclass, p, classes = deep_file_classification(  # doctest: +SKIP
    ...     "bark.wav", "dog_cat_deep_svm")
    >>> print(classes[wclass], p[wclass])  # doctest: +SKIP
    """
    classifier = load_deep_feature_classifier(model_name, cnn_model=cnn_model,
                                              models_dir=models_dir)
    (prediction,) = classify_files_deep([path], classifier)
    return prediction.class_index, prediction.posteriors, classifier.class_names

