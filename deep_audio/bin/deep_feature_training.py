"""The seed's spelling ``python -m deep_audio.bin.deep_feature_training``: :mod:`deep_audio.cli.deep_feature_train`."""

from deep_audio.cli.deep_feature_train import *  # noqa: F401,F403
from deep_audio.cli.deep_feature_train import main

if __name__ == "__main__":
    main()
