"""Using a trained model: classify files and segments, score labelled folders, embed files
(deep features) and search for similar sounds.

Names are imported on first use, so that the torch-free parts (classifying files and long
recordings with any predictor, e.g. an ONNX model) can be used without torch installed.
Classifiers on deep features (:mod:`deep_audio.predict.deep_features`) import
scikit-learn and are not re-exported here."""

from __future__ import annotations

import importlib

_WHERE = {
    **dict.fromkeys(["FilePrediction", "FileResult", "Predictor", "SegmentPrediction",
                     "predict_files"], "deep_audio.predict.predictor"),
    "as_predictor": "deep_audio.predict.classify", "classify_file": "deep_audio.predict.classify",
    "classify_files": "deep_audio.predict.classify",
    "TorchPredictor": "deep_audio.predict.torch_predictor",
    **dict.fromkeys(["FolderReport", "TaggingReport", "evaluate_folders",
                     "evaluate_manifest"], "deep_audio.predict.evaluate"),
    **dict.fromkeys(["RecordingSegmentation", "TimelineEvaluation", "evaluate_segmentation",
                     "save_segmentation", "segment_recording"],
                    "deep_audio.predict.long_recordings"),
    **dict.fromkeys(["DeepFeatures", "FileEmbedding", "embed_file", "embed_files",
                     "embedding_layers", "extract_deep_features"],
                    "deep_audio.predict.embeddings"),
    **dict.fromkeys(["SoundIndex", "build_index", "nearest"], "deep_audio.predict.search"),
    **dict.fromkeys(["ListenSummary", "ListenUpdate", "Listener", "StreamRow", "listen",
                     "listen_with_callback"], "deep_audio.predict.stream"),
    **dict.fromkeys(["DetectionScores", "Event", "Region", "SegmentScores", "detect_events",
                     "evaluate_events", "make_regions", "read_annotation",
                     "write_annotation"], "deep_audio.events"),
    "plot_event_timeline": "deep_audio.viz.timeline",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
