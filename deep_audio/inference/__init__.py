"""Using a trained model: classify files and segments, score labelled folders, embed files
(deep features) and search for similar sounds.

Names are imported on first use, so that the torch-free parts (classifying files and long
recordings with any predictor, e.g. an ONNX model) can be used without torch installed.
Classifiers on deep features (:mod:`deep_audio.inference.deep_classifier`) import
scikit-learn and are not re-exported here."""

from __future__ import annotations

import importlib

_WHERE = {
    "FilePrediction": "deep_audio.predicting", "FileResult": "deep_audio.predicting",
    "Predictor": "deep_audio.predicting", "SegmentPrediction": "deep_audio.predicting",
    "as_predictor": "deep_audio.predicting", "classify_file": "deep_audio.predicting",
    "classify_files": "deep_audio.predicting",
    "TorchPredictor": "deep_audio.inference.classify",
    **dict.fromkeys(["FolderReport", "TaggingReport", "evaluate_folders",
                     "evaluate_manifest"], "deep_audio.inference.evaluate"),
    **dict.fromkeys(["RecordingSegmentation", "Region", "TimelineEvaluation",
                     "evaluate_segmentation", "read_annotation", "save_segmentation",
                     "segment_recording"], "deep_audio.inference.long_recordings"),
    **dict.fromkeys(["DeepFeatures", "FileEmbedding", "embed_file", "embed_files",
                     "embedding_layers", "extract_deep_features"],
                    "deep_audio.inference.embeddings"),
    **dict.fromkeys(["SoundIndex", "build_index", "nearest"], "deep_audio.inference.search"),
    **dict.fromkeys(["DetectionScores", "Event", "SegmentScores", "detect_events",
                     "evaluate_events", "read_events", "write_events"],
                    "deep_audio.inference.events"),
    "plot_event_timeline": "deep_audio.inference.event_plots",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
