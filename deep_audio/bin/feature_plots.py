"""The seed's spelling ``python -m deep_audio.bin.feature_plots``: ``deep-audio plot``
(:mod:`deep_audio.cli.plot`)."""

from deep_audio.cli.plot import main, plot_feature_space

__all__ = ["main", "plot_feature_space"]

if __name__ == "__main__":
    raise SystemExit(main())
