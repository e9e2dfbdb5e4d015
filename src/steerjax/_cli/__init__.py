"""Command-line interface: ``steerjax <command> ...``.

Each command lives in its own module of this package and provides ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable ``(args) -> int`` (the exit status).

The CLI is an entry point, so it is the place where global JAX configuration is set:
float64 is enabled here (the library itself never changes global configuration on import),
and so is JAX's persistent compilation cache (:func:`steerjax.optim.use_compilation_cache`), so
that a second run of a command skips most of the compilation (the optimiser's compiled blocks
take 5-20 s each to build on CPU).  The cache lives in ``$STEERJAX_CACHE_DIR``, else
``$XDG_CACHE_HOME/steerjax/jax``, else ``~/.cache/steerjax/jax``; set
``STEERJAX_CACHE_DIR=off`` to run without it.  A cache dir already configured for JAX
(``JAX_COMPILATION_CACHE_DIR``) is left alone.  With the cache the CLI also keeps the
optimiser's traced programs in its ``programs`` folder, so that a later run does not trace them
again.

Ctrl-C (SIGINT) and SIGTERM end a command with exit status 130 and 143; output files are
then left as they were (see :class:`steerjax.io.StopOnSignals` and :mod:`steerjax._io`).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..io._signals import StopOnSignals

__all__ = ["main", "build_parser"]

#: Modules of this package that define a command, in the order shown by ``--help``.
COMMANDS = ("evaluate", "optimize", "pareto", "figures")


def _configure_jax() -> None:
    import jax

    from ..optim import use_compilation_cache

    jax.config.update("jax_enable_x64", True)
    use_compilation_cache()


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="steerjax",
        description=(
            "Steady-state EPR steering between two cascaded oscillators of opposite effective "
            "mass (Huang, Zeuthen, Gong, He). Rates are gamma/2pi in Hz; angles in radians "
            "('0.35pi' is accepted); all computations in float64."
        ),
    )
    parser.add_argument("--version", action="version", version=f"steerjax {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used as the process exit code).

    SIGINT (Ctrl-C) and SIGTERM stop a command with status 130 and 143 (128 + the signal's
    number), and no output file is written or replaced once one has arrived, even if Python
    swallowed the ``KeyboardInterrupt`` it raised (see :class:`steerjax.io.StopOnSignals`).
    """
    with StopOnSignals() as stop:
        status = _run(argv)
    if not stop.stopped:
        return status
    print(f"steerjax: {stop.reason}", file=sys.stderr)
    return stop.exit_status


def _run(argv: list[str] | None) -> int:
    _configure_jax()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
