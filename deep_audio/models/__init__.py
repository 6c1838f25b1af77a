"""The networks: every one a :class:`Backbone`; one :class:`Classifier` puts a
:class:`Head` for classes on it. Model files are read and written by
:mod:`deep_audio.io.model_files`."""

from deep_audio.models.backbones import Backbone
from deep_audio.models.classifier import Classifier
from deep_audio.models.heads import FrameHead, Head
from deep_audio.models.seed import SeedBackbone

__all__ = ["Backbone", "Classifier", "FrameHead", "Head", "SeedBackbone"]
