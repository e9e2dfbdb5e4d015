"""Command-line interface: ``steerjax <command> ...``.

Each command lives in its own module of this package and provides ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable ``(args) -> int`` (the exit status).

The CLI is an entry point, so global JAX configuration is set here (never by importing the
library): float64; JAX's persistent compilation cache (:func:`steerjax.optim.use_compilation_cache`:
``$STEERJAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/steerjax/jax``, else ``~/.cache/steerjax/jax``;
``STEERJAX_CACHE_DIR=off``: none; a ``JAX_COMPILATION_CACHE_DIR`` already set is left alone),
with the optimiser's traced programs in its ``programs`` folder; and a multi-process job where
``STEERJAX_COORDINATOR`` or ``STEERJAX_DISTRIBUTED`` asks for one (``figures`` refuses it;
:func:`steerjax.optim.join_job_from_environment`; only process 0 prints and writes files).

Ctrl-C (SIGINT) and SIGTERM end a command with exit status 130 and 143; output files are
then left as they were (see :class:`steerjax.io.StopOnSignals` and :mod:`steerjax._io`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..io._signals import StopOnSignals

__all__ = ["main", "build_parser"]

#: Modules of this package that define a command, in the order shown by ``--help``.
COMMANDS = ("evaluate", "optimize", "pareto", "figures")


def _configure_jax(argv: list[str]) -> bool:
    """Float64, the caches, a job (module docstring); True in a job's processes other than 0."""
    import jax

    from ..optim import join_job_from_environment, use_compilation_cache

    jax.config.update("jax_enable_x64", True)
    use_compilation_cache()
    refuse = "steerjax figures" if next((a for a in argv if a[:1] != "-"), None) == "figures" else None
    return join_job_from_environment(refuse=refuse) and jax.process_index() != 0


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
    """Run the CLI; returns the exit status (the process's).  SIGINT and SIGTERM stop a command
    with status 130 and 143, and no output file is written or replaced once one has arrived,
    even if Python swallowed its ``KeyboardInterrupt`` (:class:`steerjax.io.StopOnSignals`)."""
    with StopOnSignals() as stop:
        status = _run(argv)
    if not stop.stopped:
        return status
    print(f"steerjax: {stop.reason}", file=sys.stderr)
    return stop.exit_status


def _run(argv: list[str] | None) -> int:
    try:
        follower = _configure_jax(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:  # a STEERJAX_* variable of a multi-process job
        print(f"steerjax: {exc}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if follower:
        sys.stdout, args.out = open(os.devnull, "w"), None  # noqa: SIM115 (left open: process ends)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
