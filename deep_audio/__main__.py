"""``python -m deep_audio COMMAND``: the ``deep-audio`` command (:mod:`deep_audio.cli.main`)."""

from deep_audio.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
