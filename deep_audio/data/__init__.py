"""From class folders to batches of fixed-length waveform segments.

The folder and split functions do not need torch; ``SegmentDataset`` (a torch
``Dataset``) is imported on first use, so the classic path stays torch-free.
"""

from deep_audio.data.cache import AudioCache, CachedAudio, resolve_cache_dir
from deep_audio.data.folders import (
    DecodedFiles,
    LabelledFile,
    class_folders,
    class_names_of,
    decode_files,
    stratified_file_split,
)
from deep_audio.data.plan import cut_segment, segment_starts

__all__ = ["AudioCache", "CachedAudio", "DecodedFiles", "LabelledFile", "SegmentDataset",
           "class_folders", "class_names_of", "cut_segment", "decode_files",
           "resolve_cache_dir", "segment_starts", "stratified_file_split"]


def __getattr__(name: str):
    if name == "SegmentDataset":
        from deep_audio.data.segments import SegmentDataset

        return SegmentDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
