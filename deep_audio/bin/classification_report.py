"""The seed's spelling ``python -m deep_audio.bin.classification_report``: :mod:`deep_audio.cli.report`."""

from deep_audio.cli.report import *  # noqa: F401,F403
from deep_audio.cli.report import main

if __name__ == "__main__":
    main()
