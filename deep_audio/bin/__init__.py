"""The seed's module names: ``python -m deep_audio.bin.basic_training`` is ``deep-audio
train``, and ``from deep_audio.bin import basic_training as bt; bt.train_model(...)``
calls :func:`deep_audio.training.train_model`. Each module re-exports its command's
module in :mod:`deep_audio.cli` (see :data:`deep_audio.cli.main.GROUPS`)."""
