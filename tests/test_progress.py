"""deep_audio.progress: bars on a terminal, none in a log unless forced."""

import io

from deep_audio.progress import progress_bar, shows_progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_is_drawn_on_a_terminal_only(monkeypatch):
    monkeypatch.delenv("DEEP_AUDIO_PROGRESS", raising=False)
    log, terminal = io.StringIO(), Terminal()
    assert list(progress_bar(range(3), desc="files", file=log)) == [0, 1, 2]
    assert log.getvalue() == ""
    assert list(progress_bar(range(3), desc="files", file=terminal)) == [0, 1, 2]
    assert "files: 100%" in terminal.getvalue()
    quiet = Terminal()
    list(progress_bar(range(3), file=quiet, disable=True))
    assert quiet.getvalue() == ""


def test_the_environment_forces_or_hides_bars(monkeypatch):
    monkeypatch.setenv("DEEP_AUDIO_PROGRESS", "1")
    log = io.StringIO()
    list(progress_bar(range(2), desc="epochs", file=log))
    assert "epochs: 100%" in log.getvalue()
    monkeypatch.setenv("DEEP_AUDIO_PROGRESS", "0")
    assert not shows_progress(Terminal())
