"""deep_audio: learn to recognise sounds with PyTorch."""

__version__ = "0.2.0"
