"""Small, dependable file input and output: safe writes, full-precision CSV, JSON metadata.

Writing.  Every writer here goes through :func:`atomic_write_bytes`, which decides by what the
destination is:

* a regular file, or a name that does not exist yet: the data go to a temporary file in the
  same folder (a short name, ``.steerjax-XXXXXXXX.tmp``, so that any legal file name works),
  which is then renamed over the destination (``os.replace``).  The file is written whole or
  not at all: a failed or interrupted write leaves the previous file as it was and removes the
  temporary one.  A replaced file keeps its permission bits.
* a symbolic link: the write goes to the file the link points to (resolved first); the link
  stays a link.  A dangling link is written through, creating the file it names.
* anything else that exists (a character device such as ``/dev/null``, a FIFO): it is opened
  and written directly, never replaced, and a write error (``/dev/full``: no space left) is
  raised as ``OSError``.  A folder is refused (``IsADirectoryError``).

:func:`output_problem` checks a destination up front (empty name, missing folder, a folder in
place of a file, a name too long for the file system) so that a command can refuse before it
spends time computing.

Interrupts.  A program that turns signals into a stop request (the CLI does, for SIGINT and
SIGTERM) calls :func:`request_stop`; from then on every writer refuses at its commit point (the
rename, or the direct write) by raising ``KeyboardInterrupt``, even when the interpreter
swallowed the ``KeyboardInterrupt`` that the signal raised (in a garbage-collector callback, for
instance).  Library callers that never call :func:`request_stop` are not affected.

Reading.  :func:`read_csv` and :func:`read_csv_cells` parse with the standard library's ``csv``
reader, so a quoted cell may hold commas, quotes, line breaks and any other character; line
numbers are those of the file (the line where a record starts), blank lines and ``#`` comment
lines between records are skipped, and a UTF-8 byte-order mark is ignored.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "output_problem",
    "request_stop",
    "clear_stop",
    "stop_requested",
    "format_value",
    "write_csv",
    "write_columns",
    "write_error_message",
    "csv_text",
    "write_json",
    "read_csv",
    "read_csv_cells",
]

TEMP_PREFIX = ".steerjax-"
"""Start of the temporary files' names (``.steerjax-XXXXXXXX.tmp``, 22 bytes)."""

_stop_signal: int | None = None


def request_stop(signum: int) -> None:
    """Record that the program was asked to stop (by signal ``signum``): writers refuse from
    now on.  Meant to be called from a signal handler."""
    global _stop_signal
    if _stop_signal is None:
        _stop_signal = int(signum)


def clear_stop() -> None:
    """Forget a stop request (the CLI does this when it starts and when it returns)."""
    global _stop_signal
    _stop_signal = None


def stop_requested() -> int | None:
    """The signal number of the pending stop request, or None."""
    return _stop_signal


def _refuse_if_stopped(path: Path) -> None:
    if _stop_signal is not None:
        raise KeyboardInterrupt(f"{path} was not written: the run was interrupted")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _destination(path: Path) -> tuple[Path, os.stat_result | None]:
    """Where a write to ``path`` lands and that file's status (None: it does not exist yet).

    A symbolic link (even a dangling one) is replaced by the path it resolves to; anything else
    is returned as given.  Raises ``OSError`` for a path that cannot be looked up (a loop of
    links, a file where a folder should be, no permission)."""
    try:
        info = os.stat(path)  # follows links
    except FileNotFoundError:
        info = None
    if os.path.islink(path):
        real = Path(os.path.realpath(path))
        if real.is_symlink():  # realpath stops at a link it cannot resolve
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
        return real, info
    return path, info


def output_problem(path: str | os.PathLike) -> str | None:
    """Why a file cannot be written at ``path`` (a short phrase), or None if nothing is known
    against it.  Checks: the name is not empty, it can be looked up (not too long, no loop of
    symbolic links), it is not a folder, and the folder it goes into exists (following a
    symbolic link to its target).  Whether writing is permitted is found out only by writing."""
    if not os.fspath(path):
        return "the file name is empty"
    try:
        target, info = _destination(Path(path))
    except OSError as exc:
        return exc.strerror or str(exc)
    if info is not None:
        return "it is a folder, not a file" if stat.S_ISDIR(info.st_mode) else None
    folder = target.parent
    if not folder.is_dir():
        if folder.exists() or folder.is_symlink():
            return f"{folder} is not a folder"
        return f"the folder {folder} does not exist (create it first)"
    return None


def _write_direct(path: Path, data: bytes) -> None:
    """Write ``data`` to an existing file that is not a regular one (a device, a FIFO)."""
    with open(path, "wb", buffering=0) as fh:  # opening a FIFO waits for a reader
        _refuse_if_stopped(path)
        view = memoryview(data)
        while view:
            view = view[fh.write(view) :]


def _write_replacing(target: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a temporary file beside ``target`` and rename it over ``target``."""
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # mkstemp creates 0600
        _refuse_if_stopped(target)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, parents: bool = True) -> Path:
    """Write ``data`` to ``path``: atomically for a regular (or new) file, through a symbolic
    link to its target, directly to a device or FIFO (see the module docstring).

    Args:
        path: the destination.
        data: the bytes to write.
        parents: create missing folders above a new file (the CLI's ``--out FILE`` passes
            False: there a missing folder is an error).

    Returns:
        ``path`` as given.

    Raises:
        OSError: the file cannot be written (the previous regular file is then unchanged).
        ValueError: ``path`` is empty.
        KeyboardInterrupt: a stop was requested (:func:`request_stop`); nothing was written.
    """
    if not os.fspath(path):
        raise ValueError("cannot write to an empty file name")
    path = Path(path)
    _refuse_if_stopped(path)
    target, info = _destination(path)
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_direct(target, data)
        return path
    if info is None and parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    _write_replacing(target, data, mode)
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, parents: bool = True) -> Path:
    """Write text (UTF-8) as :func:`atomic_write_bytes` does."""
    return atomic_write_bytes(path, text.encode("utf-8"), parents=parents)


def format_value(value) -> str:
    """Format one CSV cell: floats with full float64 precision (shortest round-trip repr),
    booleans as ``true``/``false``, NaN as ``nan``, everything else with ``str``."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def _format_column(column: np.ndarray) -> list[str]:
    """Format a 1-D array cell by cell as :func:`format_value` does (fast paths by dtype)."""
    values = column.tolist()  # Python scalars, like ``.item()`` of each element
    kind = column.dtype.kind
    if kind == "f":
        return [repr(v) for v in values]
    if kind == "b":
        return ["true" if v else "false" for v in values]
    if kind in "iu":
        return [str(v) for v in values]
    return [format_value(v.item() if hasattr(v, "item") else v) for v in values]


def csv_text(
    columns: Mapping[str, Sequence] | None = None,
    *,
    rows: Iterable[Mapping] | None = None,
    fieldnames: Sequence[str] | None = None,
) -> str:
    """The text :func:`write_csv` writes (for printing a table on stdout)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if columns is not None:
        names = list(columns)
        cols = [
            np.asarray(columns[n]).reshape(-1) if np.ndim(columns[n]) else np.asarray([columns[n]])
            for n in names
        ]
        texts = [_format_column(c) for c in cols]
        if len({len(t) for t in texts}) > 1:
            sizes = ", ".join(f"{k}: {len(t)}" for k, t in zip(names, texts, strict=True))
            raise ValueError(f"write_csv: the columns have different lengths ({sizes})")
        writer.writerow(names)
        writer.writerows(zip(*texts, strict=True))
    else:
        rows = list(rows or [])
        names = list(fieldnames) if fieldnames is not None else (list(rows[0]) if rows else [])
        writer.writerow(names)
        for row in rows:
            writer.writerow([format_value(row.get(k, "")) for k in names])
    return buf.getvalue()


def write_csv(
    path: str | os.PathLike,
    columns: Mapping[str, Sequence] | None = None,
    *,
    rows: Iterable[Mapping] | None = None,
    fieldnames: Sequence[str] | None = None,
    parents: bool = True,
) -> Path:
    """Write a CSV atomically, from ``columns`` (name -> 1-D sequence) or from ``rows``
    (mappings; ``fieldnames`` fixes the column order).  Floats keep full precision.
    ``parents``: as for :func:`atomic_write_bytes`."""
    text = csv_text(columns, rows=rows, fieldnames=fieldnames)
    return atomic_write_text(path, text, parents=parents)


def write_columns(path: str | os.PathLike, columns: dict[str, np.ndarray], *, parents: bool = True) -> Path:
    """Write a column table atomically: a JSON list of records (:func:`json_records`) if the
    name ends in ``.json``, else a CSV (:func:`write_csv`).  ``parents``: as for
    :func:`atomic_write_bytes`."""
    if str(path).lower().endswith(".json"):
        return atomic_write_text(path, json.dumps(json_records(columns), indent=2) + "\n", parents=parents)
    return write_csv(path, columns, parents=parents)


def write_error_message(path: str | os.PathLike, exc: OSError) -> str:
    """One line on a failed write of ``path``: ``cannot write PATH: <reason>; ...``, ending with
    ``nothing was written`` for a regular (or new) file, which a failed write leaves as it was,
    and ``the output may be incomplete`` for a device or FIFO, written directly."""
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        regular = True
    tail = "nothing was written" if regular else "the output may be incomplete"
    return f"cannot write {path}: {exc.strerror or exc}; {tail}"


def _json_value(x):
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def json_records(columns: dict[str, np.ndarray]) -> list[dict]:
    """Column table -> list of records (floats at full precision; NaN -> null)."""
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    return [{name: _json_value(columns[name][j]) for name in names} for j in range(n)]


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__array__"):
        return np.asarray(obj).tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def write_json(path: str | os.PathLike, obj, *, parents: bool = True) -> Path:
    """Write JSON atomically (numpy and JAX arrays become lists)."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    return atomic_write_text(path, text, parents=parents)


def _decode(path: Path) -> str:
    """The file's text (UTF-8, a byte-order mark dropped); ``ValueError`` naming the line of
    the first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, offset) + 1
        raise ValueError(f"{path}:{line}: not a UTF-8 text file ({exc.reason} at byte {offset})") from None


def _is_skipped(line: str) -> bool:
    """A blank line or a ``#`` comment line (between records)."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """The CSV records of ``text`` as ``(line, cells)``, ``line`` being the 1-based line of the
    file where the record starts.  Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` only; a quoted cell
    may span lines.  Blank and ``#`` lines are skipped where a record would start.

    Raises:
        ValueError: a quoted cell is not closed before the end of the file, or the ``csv``
            module rejects a record (e.g. a cell over its size limit); the message gives the
            record's first line.
    """
    # The reader pulls a line either to start a record or to continue a quoted cell; ``state``
    # tells the feed which, so that blank and comment lines are dropped only between records.
    state = {"at_start": True, "start": 0, "unclosed": False}

    def feed() -> Iterator[str]:
        for number, line in enumerate(io.StringIO(text, newline=""), start=1):
            if state["at_start"]:
                if _is_skipped(line):
                    continue
                state["at_start"] = False
                state["start"] = number
            yield line
        state["unclosed"] = not state["at_start"]

    reader = csv.reader(feed())
    while True:
        state["at_start"] = True
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValueError(f"{path}:{state['start']}: not a valid CSV record ({exc})") from None
        if state["unclosed"]:
            raise ValueError(
                f"{path}:{state['start']}: a quoted cell that starts in this record is not "
                "closed (a missing '\"') before the end of the file"
            )
        yield state["start"], cells


def read_csv(path: str | os.PathLike) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Read a CSV with a header row.  Returns ``(fieldnames, [(line_number, row), ...])`` where
    ``line_number`` is the 1-based line of the file where the row starts.  Cells are stripped
    of surrounding whitespace; a row with more cells than the header keeps the surplus, joined
    by commas, under ``"__extra__"``.  Blank lines and lines starting with ``#`` are skipped.

    Raises:
        ValueError: the file is not UTF-8 text, has no header row or is not valid CSV.
        OSError: the file cannot be read.
    """
    (_, fieldnames), rows = read_csv_cells(path)
    out = []
    for n, values in rows:
        row = {k: (values[i] if i < len(values) else "") for i, k in enumerate(fieldnames)}
        if len(values) > len(fieldnames):
            row["__extra__"] = ",".join(values[len(fieldnames) :])
        out.append((n, row))
    return fieldnames, out


def read_csv_cells(path: str | os.PathLike) -> tuple[tuple[int, list[str]], list[tuple[int, list[str]]]]:
    """Read a CSV without interpreting it: ``((header_line, header_cells), [(line, cells), ...])``.

    Unlike :func:`read_csv`, every data row keeps exactly the cells it has (so a row with too
    few or too many cells can be reported as such).  Cells are stripped of surrounding
    whitespace; a quoted cell may contain commas, quotes and line breaks.  Line numbers are the
    1-based lines of the file where each record starts; blank lines and lines starting with
    ``#`` are skipped (between records); a UTF-8 byte-order mark (as written by spreadsheet
    programs) is ignored.

    Raises:
        ValueError: the file is not UTF-8 text, has no header row or is not valid CSV (a
            quoted cell left open); the message names the file and line.
        OSError: the file cannot be read.
    """
    path = Path(path)
    text = _decode(path)
    rows = [(n, [cell.strip() for cell in cells]) for n, cells in _records(path, text)]
    if not rows:
        raise ValueError(f"{path}: empty file (a header row is required)")
    return rows[0], rows[1:]
