"""The package's exceptions: one base class, a ``ValueError``, so callers catch one thing."""


class DeepAudioError(ValueError):
    """Base class of every error deep_audio raises on bad input or settings."""


class ConfigError(DeepAudioError):
    """A setting is unknown, has the wrong type, or is out of range."""


class AudioError(DeepAudioError):
    """An audio file cannot be used; the message names the file and the reason."""


class ModelFileError(DeepAudioError):
    """A model file is missing, damaged, or does not match what is asked of it."""


class MissingMetadataError(ModelFileError, KeyError):
    """A model file's metadata lacks a key deep_audio needs.

    Also a ``KeyError``, the error a plain lookup of the key would raise.
    """


class ExportError(DeepAudioError):
    """A model cannot be exported, or the exported model disagrees with PyTorch."""


class AnnotationError(DeepAudioError):
    """An annotation file (labelled time spans) is missing or malformed; the message names
    the file and the line."""


class SourceError(DeepAudioError):
    """A live audio source (a microphone, a pipe) cannot be opened or read; the message
    names what was looked for."""
