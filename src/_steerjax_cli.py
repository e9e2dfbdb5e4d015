"""Entry point of the ``steerjax`` console script, kept outside the package on purpose.

Importing :mod:`steerjax` imports JAX, which takes seconds and registers a garbage-collector
callback.  A Ctrl-C meanwhile raises ``KeyboardInterrupt`` wherever the interpreter is; inside
that callback the exception is printed as "Exception ignored" and dropped, and the command
would then run to the end and write its output.  This module imports nothing heavy: it takes
over SIGINT and SIGTERM while the package loads, stops with status 130 / 143 if one arrives
(even one whose exception was dropped), and otherwise hands over to
:func:`steerjax._cli.main`, which installs its own handlers for the run.
"""

from __future__ import annotations

import signal
import sys

__all__ = ["main"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _load_cli():
    """Import the command-line interface (and with it steerjax and JAX)."""
    from steerjax._cli import main

    return main


def main(argv: list[str] | None = None) -> int:
    """Load the CLI with SIGINT/SIGTERM caught, then run it; returns the exit status."""
    received: list[int] = []

    def handler(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    previous = {}
    for sig in _SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:  # an ignored signal stays ignored
            previous[sig] = signal.signal(sig, handler)
    cli_main = None
    try:
        cli_main = _load_cli()
    except KeyboardInterrupt:
        pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if received or cli_main is None:
        signum = received[0] if received else signal.SIGINT
        print(f"steerjax: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum
    return cli_main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
