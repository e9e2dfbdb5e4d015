"""Small, dependable file output: atomic writes, full-precision CSV, JSON metadata.

Every writer here writes to a temporary file in the destination folder and renames it into
place (``os.replace``), so a file is either written whole or not at all -- an interrupted run
never leaves a truncated CSV behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "format_value",
    "write_csv",
    "csv_text",
    "write_json",
    "read_csv",
    "read_csv_cells",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text (UTF-8) atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


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
) -> Path:
    """Write a CSV atomically, from ``columns`` (name -> 1-D sequence) or from ``rows``
    (mappings; ``fieldnames`` fixes the column order).  Floats keep full precision."""
    return atomic_write_text(path, csv_text(columns, rows=rows, fieldnames=fieldnames))


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


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write JSON atomically (numpy and JAX arrays become lists)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_csv(path: str | os.PathLike) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Read a CSV with a header row.  Returns ``(fieldnames, [(line_number, row), ...])`` where
    ``line_number`` is the 1-based line of the row in the file (the header is line 1).
    Blank lines and lines starting with ``#`` are skipped."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as fh:
        lines = [(i + 1, line) for i, line in enumerate(fh.read().splitlines())]
    content = [(n, line) for n, line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not content:
        raise ValueError(f"{path}: empty file (a header row is required)")
    header_line, header = content[0]
    fieldnames = [h.strip() for h in next(csv.reader([header]))]
    out = []
    for n, line in content[1:]:
        values = next(csv.reader([line]))
        row = {k: (values[i].strip() if i < len(values) else "") for i, k in enumerate(fieldnames)}
        if len(values) > len(fieldnames):
            row["__extra__"] = ",".join(values[len(fieldnames) :])
        out.append((n, row))
    return fieldnames, out


def read_csv_cells(path: str | os.PathLike) -> tuple[tuple[int, list[str]], list[tuple[int, list[str]]]]:
    """Read a CSV without interpreting it: ``((header_line, header_cells), [(line, cells), ...])``.

    Unlike :func:`read_csv`, every data row keeps exactly the cells it has (so a row with too
    few or too many cells can be reported as such).  Cells are stripped of surrounding
    whitespace; line numbers are 1-based lines of the file; blank lines and lines starting with
    ``#`` are skipped; a UTF-8 byte-order mark (as written by spreadsheet programs) is ignored.

    Raises:
        ValueError: the file is not UTF-8 text or has no header row.
        OSError: the file cannot be read.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    rows = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rows.append((i + 1, [cell.strip() for cell in next(csv.reader([line]))]))
    if not rows:
        raise ValueError(f"{path}: empty file (a header row is required)")
    return rows[0], rows[1:]
