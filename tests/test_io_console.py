"""Tests of the console helpers of :mod:`steerjax.io`: the progress bar, the text tables and
:class:`steerjax.io.StopOnSignals`, through the public API (the command line uses the same)."""

from __future__ import annotations

import io
import signal
from pathlib import Path

import pytest

from steerjax import _io
from steerjax import io as sio


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_draws_only_on_a_terminal_and_not_when_quiet():
    tty = FakeTerminal()
    with sio.Progress(4, label="chunks", stream=tty) as bar:
        for _ in range(4):
            bar.update()
    text = tty.getvalue()
    last = text.rsplit("\r", 1)[-1]  # the final state of the line, then a line break
    assert "chunks " in last and "4/4" in last and "100%" in last and "\n" in last
    for stream, quiet in ((FakeTerminal(), True), (io.StringIO(), False)):
        with sio.Progress(4, stream=stream, quiet=quiet) as bar:
            bar.update(4)
        assert stream.getvalue() == ""


def test_progress_bar_callback_follows_done_total_and_label():
    with sio.ProgressBar(quiet=True) as progress:
        progress(1, 3, "first")
        progress(3, 3, "first")
        assert progress.bar.count == 3 and progress.bar.label == "first"
        progress(2, 5)  # a new total: a new bar, label optional
        assert progress.bar.total == 5 and progress.bar.count == 2
        first = progress.bar
        progress(1, 5, "next stage")  # starting over: a new bar as well
        assert progress.bar is not first and progress.bar.count == 1
    assert progress.bar is None


def test_format_columns_aligns_without_borders():
    text = sio.format_columns(["a", "long name"], [["1", "2"], ["333", "x"]], justify=("left", "right"))
    assert text.splitlines() == ["a    long name", "1            2", "333          x"]
    assert sio.format_columns(["n"], [["1"], ["22"]]).splitlines() == [" n", " 1", "22"]


def test_stop_on_signals_turns_a_signal_into_a_status_and_refuses_writes(tmp_path: Path):
    out = tmp_path / "out.txt"
    out.write_text("old\n")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with sio.StopOnSignals() as stop:
            signal.raise_signal(signal.SIGINT)
            pytest.fail("the signal did not interrupt the block")  # pragma: no cover
        assert stop.signum == signal.SIGINT and isinstance(stop.interrupted, KeyboardInterrupt)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
        with sio.StopOnSignals() as stop:
            _io.request_stop(signal.SIGTERM)  # what the handler records, as if swallowed
            with pytest.raises(KeyboardInterrupt):
                _io.atomic_write_text(out, "new\n")
        assert stop.signum == signal.SIGTERM and stop.interrupted is None
    finally:
        signal.signal(signal.SIGINT, previous)
    assert out.read_text() == "old\n"
    with sio.StopOnSignals() as stop:
        pass
    assert stop.signum is None and stop.interrupted is None
