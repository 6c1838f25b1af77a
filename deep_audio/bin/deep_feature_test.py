"""The seed's spelling ``python -m deep_audio.bin.deep_feature_test``: :mod:`deep_audio.cli.deep_feature_test`."""

from deep_audio.cli.deep_feature_test import *  # noqa: F401,F403
from deep_audio.cli.deep_feature_test import main

if __name__ == "__main__":
    main()
