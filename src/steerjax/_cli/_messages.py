"""How the commands speak: usage and input errors, notes, the wrapper that turns them into exit
statuses, and the output files (``--out FILE``: refused before the work if they cannot be
written, written safely after)."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import textwrap
from collections.abc import Callable

from .._io import output_problem, write_error_message
from ..io._tables import InputError as _InputError

# ---------------------------------------------------------------------------------------------
# Errors and exit statuses
# ---------------------------------------------------------------------------------------------


class UsageError(Exception):
    """Flags that are missing, inconsistent or not allowed together (exit status 2)."""


# A value or an input file that cannot be used (exit status 1); the library's class.
InputError = _InputError


def wrap(text: str, width: int = 88) -> str:
    """Fill a paragraph for help texts (for parsers using ``argparse.RawDescriptionHelpFormatter``,
    which keeps an epilog's layout but does not wrap descriptions)."""
    return textwrap.fill(" ".join(text.split()), width=width)


def print_stdout(text: str) -> None:
    """Print ``text`` (plus a newline unless it ends with one) on stdout; a reader that
    closes the pipe early (``| head``) ends the output quietly instead of with a traceback."""
    try:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at devnull so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def error(prog: str, message: str) -> None:
    """Print ``<prog>: error: <message>`` on stderr."""
    print(f"{prog}: error: {message}", file=sys.stderr)


def note(prog: str, message: str, *, quiet: bool = False) -> None:
    """Print ``<prog>: note: <message>`` on stderr unless ``quiet``."""
    if not quiet:
        print(f"{prog}: note: {message}", file=sys.stderr)


def command(parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int]):
    """Wrap a command's ``body(args) -> int`` for ``parser.set_defaults(func=...)``.

    :class:`UsageError` prints the usage line and the message and returns 2 (the status
    argparse uses for its own errors); :class:`InputError` prints the message and returns 1.
    Anything else propagates (a bug should give a traceback, not a vague message).
    """

    @functools.wraps(body)
    def run(args: argparse.Namespace) -> int:
        try:
            return int(body(args) or 0)
        except UsageError as exc:
            parser.print_usage(sys.stderr)
            error(parser.prog, str(exc))
            return 2
        except InputError as exc:
            error(parser.prog, str(exc))
            return 1

    return run


# ---------------------------------------------------------------------------------------------
# Input files (--from) of evaluate and optimize
# ---------------------------------------------------------------------------------------------


def check_conflicts(table, explicit: dict[str, str], names=None) -> None:
    """A usage error for every column (of ``names``, default all) that the file has and a flag
    (``explicit``: column -> flag) also gives."""
    both = [
        name for name in (explicit if names is None else names) if name in explicit and name in table.in_file
    ]
    if both:
        raise UsageError(
            "; ".join(
                f"{name} is a column of {table.source} and also given as {explicit[name]}" for name in both
            )
            + " -- remove the flag or the column"
        )


def note_file_inputs(prog: str, args: argparse.Namespace, table, used: dict, result_columns) -> None:
    """Notes on an unused ``--thermal`` preset and on the file's other columns (replaced by the
    results, or copied to the output unchanged)."""
    if args.thermal is not None and not used.get(f"--thermal {args.thermal}"):
        note(
            prog,
            f"--thermal {args.thermal} is not used: {table.source} gives every thermal value",
            quiet=args.quiet,
        )
    for name in table.extra:
        if name in result_columns:
            message = f"column {name!r} of {table.source} is replaced by this run's results"
        else:
            message = f"column {name!r} is not a parameter; it is copied to the output unchanged"
        note(prog, message, quiet=args.quiet)


# ---------------------------------------------------------------------------------------------
# Output files (--out): checked when a command starts, written through steerjax._io
# ---------------------------------------------------------------------------------------------


def check_out_file(path: str | None, flag: str = "--out") -> None:
    """Refuse an output file that cannot be written (nothing to do for None).

    Raises:
        UsageError: the name is empty (exit status 2).
        InputError: the destination is a folder, its folder does not exist or is not a
            folder, or the name is too long (exit status 1); the message names ``flag``.
    """
    if path is None:
        return
    problem = output_problem(path)
    if problem is None:
        return
    if not path:
        raise UsageError(f"{flag}: {problem} (give the name of the file to write)")
    raise InputError(f"cannot write {flag} {path}: {problem}; nothing was written")


def write_out_file(prog: str, path: str, write: Callable[[str], object]) -> int:
    """Call ``write(path)`` and return 0, or print ``<prog>: error: cannot write ...`` and
    return 1 if it raises ``OSError`` (:func:`steerjax._io.write_error_message`: for a regular
    file nothing was written, for a device or FIFO part of the data may have gone out)."""
    try:
        write(path)
    except OSError as exc:
        print(f"{prog}: error: {write_error_message(path, exc)}", file=sys.stderr)
        return 1
    return 0
