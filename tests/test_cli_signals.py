"""Ctrl-C (SIGINT) and SIGTERM during a CLI run: status 130 / 143, the old output kept.

Python raises ``KeyboardInterrupt`` wherever the interpreter is when the signal is handled; in
a garbage-collector callback (JAX registers one) the exception is printed and dropped.  The
first test reproduces that deterministically by calling the installed handler from inside a gc
callback; the others send real signals to a separate process.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steerjax import _io
from steerjax._cli import main
from steerjax.analysis import _design_table as ev

DESIGN_CSV = "theta_plus,theta_minus,C_plus,C_minus\n0.4pi,0.35pi,100,50\n"
OLD_OUTPUT = b"previous results\n"
SCRIPT = Path(sys.executable).parent / "steerjax"


@pytest.fixture(autouse=True)
def interrupt_is_delivered():
    """Python's own SIGINT handler during each test.  A run started in the background by a
    shell (``make test &``) inherits SIGINT ignored, and the command rightly keeps an ignored
    signal ignored, so these tests would test nothing there."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def swallowed_interrupt() -> list[BaseException]:
    """Run the current SIGINT handler inside a gc callback, where an exception is dropped (as
    the interpreter does when a real signal is handled there); returns what was dropped."""
    dropped: list[BaseException] = []

    def callback(phase, info):
        if phase == "start" and not fired:
            fired.append(True)
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)

    fired: list[bool] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: dropped.append(unraisable.exc_value)
    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
        sys.unraisablehook = previous_hook
    return dropped


def test_swallowed_interrupt_still_stops_the_run_and_keeps_the_output(tmp_path, monkeypatch, capsys):
    design, out = tmp_path / "d.csv", tmp_path / "r.csv"
    design.write_text(DESIGN_CSV)
    out.write_bytes(OLD_OUTPUT)
    dropped = []
    original = ev.evaluate_rows

    def evaluate_rows(*args, **kwargs):
        dropped.extend(swallowed_interrupt())
        for _ in range(1000):  # ten seconds of work that a stop must cut short
            time.sleep(0.01)
        return original(*args, **kwargs)

    monkeypatch.setattr(ev, "evaluate_rows", evaluate_rows)
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    t0 = time.monotonic()
    status = main(["evaluate", "--from", str(design), "--thermal", "hot", "--out", str(out), "-q"])
    elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    # The simulation did drop it (a re-delivered interrupt may be dropped in the same collection).
    assert dropped and all(type(e) is KeyboardInterrupt for e in dropped)
    assert status == 130 and "interrupted by SIGINT" in err
    assert elapsed < 8  # stopped during the ten seconds, not after them
    assert out.read_bytes() == OLD_OUTPUT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "r.csv"]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == previous
    assert _io.stop_requested() is None


def test_interrupt_dropped_while_the_package_loads_stops_before_the_run(monkeypatch, capsys):
    """The console script's entry point loads steerjax (and JAX) with SIGINT caught; an
    interrupt dropped during that import (simulated in a gc callback) still ends the command."""
    import _steerjax_cli

    ran, dropped = [], []

    def load_cli():
        dropped.extend(swallowed_interrupt())
        return lambda argv=None: ran.append(argv) or 0

    monkeypatch.setattr(_steerjax_cli, "_load_cli", load_cli)
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert _steerjax_cli.main(["evaluate", "--help"]) == 130
    assert dropped and all(type(e) is KeyboardInterrupt for e in dropped) and ran == []
    assert "steerjax: interrupted by SIGINT" in capsys.readouterr().err
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == previous
    monkeypatch.setattr(_steerjax_cli, "_load_cli", lambda: lambda argv=None: ran.append(argv) or 0)
    assert _steerjax_cli.main(["x"]) == 0 and ran == [["x"]]  # no signal: the CLI runs


def test_handlers_are_restored_and_a_normal_run_is_unaffected(tmp_path, capsys):
    design, out = tmp_path / "d.csv", tmp_path / "r.csv"
    design.write_text(DESIGN_CSV)
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert main(["evaluate", "--from", str(design), "--thermal", "hot", "--out", str(out), "-q"]) == 0
    assert out.read_text().startswith("theta_plus,")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == previous


def test_an_ignored_sigint_stays_ignored(tmp_path, monkeypatch, capsys):
    design, out = tmp_path / "d.csv", tmp_path / "r.csv"
    design.write_text(DESIGN_CSV)
    seen = []
    original = ev.evaluate_rows

    def evaluate_rows(*args, **kwargs):
        seen.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))
        return original(*args, **kwargs)

    monkeypatch.setattr(ev, "evaluate_rows", evaluate_rows)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        status = main(["evaluate", "--from", str(design), "--thermal", "hot", "--out", str(out), "-q"])
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert status == 0
    (during,) = seen
    assert during[0] is signal.SIG_IGN and callable(during[1])  # SIGTERM was handled


# Starts a program with the default SIGINT action: a test run as a background job of a
# non-interactive shell inherits SIGINT as ignored, and the CLI keeps an ignored signal ignored.
WITH_DEFAULT_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
]


def big_design(path: Path, rows: int) -> None:
    lines = ["theta_plus,theta_minus,C_plus,C_minus"]
    lines += [f"0.4pi,0.35pi,{100 + k % 97},{50 + k % 13}" for k in range(rows)]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_to_a_running_evaluate_keeps_the_old_output(tmp_path, sig, status):
    """The signal is sent as soon as the file has been read (the first note on stderr), while
    the rows are evaluated."""
    assert SCRIPT.exists(), f"console script not installed next to {sys.executable}"
    design, out = tmp_path / "big.csv", tmp_path / "o.csv"
    big_design(design, 20_000)
    out.write_bytes(OLD_OUTPUT)
    env = {**os.environ, "STEERJAX_CACHE_DIR": "off"}
    argv = [
        *WITH_DEFAULT_SIGINT,
        str(SCRIPT),
        "evaluate",
        "--from",
        str(design),
        "--thermal",
        "hot",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = proc.stderr.readline()
        assert "note:" in first, first
        proc.send_signal(sig)
        rest = proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        proc.kill()
    assert code == status, first + rest
    assert f"interrupted by {signal.Signals(sig).name}" in rest
    assert "Traceback" not in rest and "wrote" not in rest
    assert out.read_bytes() == OLD_OUTPUT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "o.csv"]


def test_sigterm_during_the_write_removes_the_temporary_file(tmp_path):
    """SIGTERM arrives while the temporary file is being written (sent from ``os.fsync``)."""
    design, out = tmp_path / "d.csv", tmp_path / "o.csv"
    design.write_text(DESIGN_CSV)
    out.write_bytes(OLD_OUTPUT)
    code = (
        "import os, signal, sys\n"
        "from steerjax._cli import main\n"
        "real_fsync = os.fsync\n"
        "def fsync(fd):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    real_fsync(fd)\n"
        "os.fsync = fsync\n"
        f"argv = ['evaluate', '--from', {str(design)!r}, '--thermal', 'hot', '--out', {str(out)!r}]\n"
        "sys.exit(main(argv))\n"
    )
    env = {**os.environ, "STEERJAX_CACHE_DIR": "off"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 143, proc.stderr
    assert "interrupted by SIGTERM" in proc.stderr
    assert out.read_bytes() == OLD_OUTPUT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "o.csv"]
