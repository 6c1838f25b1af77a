"""Features: the log-mel front-end of the CNN path, and hand-crafted features."""

from deep_audio.features.logmel import LogMel, Normalize, band_statistics

__all__ = ["LogMel", "Normalize", "band_statistics"]
