"""Using a trained model: classify files and segments, score labelled folders, embed files
(deep features) and search for similar sounds.

Classifiers on deep features (:mod:`deep_audio.inference.deep_classifier`) import
scikit-learn and are not re-exported here."""

from deep_audio.inference.classify import (FilePrediction, SegmentPrediction, classify_file,
                                           classify_files)
from deep_audio.inference.embeddings import (DeepFeatures, FileEmbedding, embed_file,
                                             embed_files, embedding_layers,
                                             extract_deep_features)
from deep_audio.inference.evaluate import FolderReport, evaluate_folders
from deep_audio.inference.long_recordings import (RecordingSegmentation, Region,
                                                  TimelineEvaluation, evaluate_segmentation,
                                                  read_annotation, save_segmentation,
                                                  segment_recording)
from deep_audio.inference.search import SoundIndex, build_index, nearest

__all__ = ["FilePrediction", "FolderReport", "RecordingSegmentation", "Region",
           "SegmentPrediction", "TimelineEvaluation", "classify_file", "classify_files",
           "evaluate_folders", "evaluate_segmentation", "read_annotation",
           "save_segmentation", "segment_recording",
           # deep features and similar-sound search (docs/deep_features.md)
           "DeepFeatures", "FileEmbedding", "SoundIndex", "build_index", "embed_file",
           "embed_files", "embedding_layers", "extract_deep_features", "nearest"]
