"""From class folders to batches of fixed-length waveform segments."""

from deep_audio.data.folders import (DecodedFiles, LabelledFile, class_folders, decode_files,
                                     stratified_file_split)
from deep_audio.data.segments import SegmentDataset, cut_segment, segment_starts

__all__ = ["DecodedFiles", "LabelledFile", "SegmentDataset", "class_folders", "cut_segment",
           "decode_files", "segment_starts", "stratified_file_split"]
