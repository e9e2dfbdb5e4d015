"""Output files of the commands (``--out FILE``): checked before the work, written safely after.

:func:`check_out_file` is called when a command starts, so that a destination that cannot be
written (an empty name, a folder, a folder that does not exist -- ``--out FILE`` does not create
folders -- or a name over the file system's limit) is refused before minutes of computing.
:func:`write_out_file` writes through :mod:`steerjax._io` (atomic replacement of a regular
file, direct writes to devices and FIFOs, symbolic links followed) and turns an ``OSError`` into
one error line and exit status 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .._io import output_problem, write_error_message
from ._messages import InputError, UsageError

__all__ = ["check_out_file", "write_out_file"]


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
