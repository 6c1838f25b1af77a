"""The seed CNN, the whole classifier, and model files."""

from deep_audio.models.classifier import AudioClassifier
from deep_audio.models.cnn import SeedCNN
from deep_audio.models.io import load_model, resolve_model_path, save_model

__all__ = ["AudioClassifier", "SeedCNN", "load_model", "resolve_model_path", "save_model"]
