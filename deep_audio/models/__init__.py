"""The seed CNN, the whole classifier, and model files."""

from deep_audio.models.classifier import AudioClassifier
from deep_audio.models.seed import SeedCNN
from deep_audio.io.model_files import load_model, resolve_model_path, save_model

__all__ = ["AudioClassifier", "SeedCNN", "load_model", "resolve_model_path", "save_model"]
