"""Using a trained model: classify files and segments, score labelled folders."""

from deep_audio.inference.classify import (FilePrediction, SegmentPrediction, classify_file,
                                           classify_files)
from deep_audio.inference.evaluate import FolderReport, evaluate_folders

__all__ = ["FilePrediction", "FolderReport", "SegmentPrediction", "classify_file",
           "classify_files", "evaluate_folders"]
