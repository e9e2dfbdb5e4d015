"""Job and design files: CSV tables read into checked columns, with the problems of each row.

A :class:`Table` keeps every row and a list of reasons per bad row; each check adds reasons
(:meth:`Table.reject`) instead of stopping at the first, so that a file with many bad rows is
reported in one pass (``FILE:LINE: reason``) while its good rows are still used."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import read_csv_cells
from .._validation import allowed_range, domain_violations
from ..model._params import THERMAL_PRESETS, thermal_preset
from ._text import parse_number, parse_preset_name


class InputError(ValueError):
    """A value or an input file that cannot be used.  The message is meant for the user as is:
    it names the parameter (or file and line), the value and what is allowed."""


THERMAL_FIELDS = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")
"""Field names of :class:`steerjax.Thermal`, which are also the thermal column names of tables."""

THERMAL_FLAGS = {name: "--" + name.replace("_", "-") for name in THERMAL_FIELDS}
"""Field name -> command-line flag (``gamma0_plus_hz`` -> ``--gamma0-plus-hz``), as messages
name the sources of a value."""


def preset_values(name: str) -> dict[str, float]:
    """The four thermal values of a preset as floats (built now, in float64; the presets built
    on import may be float32)."""
    preset = thermal_preset(name)
    return {f: float(np.asarray(getattr(preset, f))) for f in THERMAL_FIELDS}


def describe_presets() -> str:
    """The thermal presets and their four values in words, one ``name: ...`` part per preset
    (as the help of the command line's ``--thermal`` lists them)."""
    parts = []
    for name in THERMAL_PRESETS:
        v = preset_values(name)
        parts.append(
            f"{name}: gamma_+,0/2pi = {v['gamma0_plus_hz']:g} Hz, nbar_+ = {v['nbar_plus']:g}, "
            f"gamma_-,0/2pi = {v['gamma0_minus_hz']:g} Hz, nbar_- = {v['nbar_minus']:g}"
        )
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# Tables of named columns with per-row errors
# ---------------------------------------------------------------------------------------------


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Marker for :attr:`Column.default`: the file must have this column."""


@dataclasses.dataclass(frozen=True)
class Column:
    """How to read one named column of a table.

    Attributes:
        name: the column's name (matched case-insensitively against the file's header).
        parse: text -> value; raises ``ValueError`` with a reason that quotes the text.
        default: the value every row gets when the file has no such column, or
            :data:`REQUIRED` (then a missing column is an error).
        numeric: True: the values are collected in a float64 array (NaN in rows whose cell
            failed); False: in an object array (None in those rows).
        hint: added to the "missing column" message, e.g. ``"or give --c-plus"``.
        allow_empty: True: an empty cell is not an error; the row gets NaN/None there and
            :attr:`Table.empty` marks it (for values that may come from elsewhere, e.g. a
            thermal column that falls back to the row's preset).
    """

    name: str
    parse: Callable[[str], Any] = parse_number
    default: Any = REQUIRED
    numeric: bool = True
    hint: str = ""
    allow_empty: bool = False


@dataclasses.dataclass
class Table:
    """Rows of a CSV file, parsed column by column, with the problems found in each row.

    Attributes:
        source: the file name used in messages.
        header: the file's column names in file order (known columns spelled as in their
            :class:`Column`, others as written).
        in_file: names of the known columns that the file has.
        lines: 1-based line number in the file of each row (int array, shape ``(n,)``).
        values: known column name -> array of shape ``(n,)`` (from the file or the column's
            default); entries of rows whose cell failed to parse are NaN/None.
        extra: columns of the file that are not known columns, as text, by name.
        empty: for each known column with :attr:`Column.allow_empty` that the file has, a
            boolean array marking its empty cells.
        problems: row index -> reasons found so far (a row is good while it has none).
    """

    source: str
    header: list[str]
    in_file: frozenset[str]
    lines: np.ndarray
    values: dict[str, np.ndarray]
    extra: dict[str, list[str]]
    empty: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    problems: dict[int, list[str]] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.lines.shape[0])

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the rows without problems."""
        mask = np.ones(len(self), dtype=bool)
        if self.problems:
            mask[list(self.problems)] = False
        return mask

    def reject(self, rows: np.ndarray | Iterable[int], reason: str | Callable[[int], str]) -> None:
        """Record a problem for each given row (a boolean mask or indices); ``reason`` is a
        string or a function of the row index."""
        rows = np.asarray(rows)
        indices = np.flatnonzero(rows) if rows.dtype == bool else rows.reshape(-1).astype(np.int64)
        for i in indices.tolist():
            self.problems.setdefault(i, []).append(reason(i) if callable(reason) else reason)

    def error_messages(self) -> list[str]:
        """One message per bad row, in file order: ``<source>:<line>: <reason>; <reason>``."""
        return [
            f"{self.source}:{self.lines[i]}: {'; '.join(self.problems[i])}" for i in sorted(self.problems)
        ]


def _canonical_header(cells: list[str], columns: Sequence[Column], source: str) -> list[str]:
    by_key = {c.name.lower(): c.name for c in columns}
    header = []
    for k, cell in enumerate(cells):
        if not cell:
            raise InputError(f"{source}: column {k + 1} of the header has no name")
        header.append(by_key.get(cell.lower(), cell))
    seen: dict[str, int] = {}
    for k, name in enumerate(header):
        if name.lower() in seen:
            raise InputError(
                f"{source}: columns {seen[name.lower()] + 1} and {k + 1} of the header are both {name!r}"
            )
        seen[name.lower()] = k
    return header


def read_table(path: str | Path, columns: Sequence[Column], *, source: str | None = None) -> Table:
    """Read a CSV file with a header row into a :class:`Table`.

    Each known column is parsed cell by cell with its :attr:`Column.parse`; a known column
    that the file lacks takes its :attr:`Column.default` in every row.  Problems found here
    (a row with the wrong number of cells, a cell that does not parse) are recorded per row
    with the reason; the caller adds its own checks with :meth:`Table.reject` and finally
    reports :meth:`Table.error_messages`.  Blank lines and ``#`` comment lines are skipped
    (line numbers still count them).  A quoted cell may hold commas and line breaks; a row's
    line number is the line where it starts (see :func:`steerjax._io.read_csv_cells`).

    Raises:
        InputError: the file cannot be read, has no header, a header name is empty or
            repeated, or a required column is missing (the message names every missing
            column and lists the columns the file has), or a quoted cell is never closed
            (the message gives the line where it starts).
    """
    source = source if source is not None else str(path)
    try:
        (_, header_cells), rows = read_csv_cells(path)
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not UTF-8, or no header (the message names the file)
        raise InputError(str(exc)) from None
    header = _canonical_header(header_cells, columns, source)
    known = {c.name: c for c in columns}
    missing = [c for c in columns if c.name not in header and c.default is REQUIRED]
    if missing:
        names = ", ".join(f"{c.name}" + (f" ({c.hint})" if c.hint else "") for c in missing)
        raise InputError(
            f"{source}: missing required column{'s' if len(missing) > 1 else ''} {names}; "
            f"the file's columns are: {', '.join(header)}"
        )
    n = len(rows)
    table = Table(
        source=source,
        header=header,
        in_file=frozenset(name for name in header if name in known),
        lines=np.asarray([line for line, _ in rows], dtype=np.int64),
        values={},
        extra={name: [""] * n for name in header if name not in known},
    )
    for i, (_, cells) in enumerate(rows):
        if len(cells) != len(header):
            table.reject([i], f"the row has {len(cells)} cells but the header has {len(header)} columns")
    good = table.ok
    for col in columns:
        if col.name not in table.in_file:
            fill = col.default
            table.values[col.name] = (
                np.full(n, float(fill)) if col.numeric else np.asarray([fill] * n, dtype=object)
            )
            continue
        k = header.index(col.name)
        out = np.full(n, np.nan) if col.numeric else np.asarray([None] * n, dtype=object)
        empty = np.zeros(n, dtype=bool)
        for i, (_, cells) in enumerate(rows):
            if not good[i]:
                continue
            if col.allow_empty and not cells[k]:
                empty[i] = True
                continue
            try:
                out[i] = col.parse(cells[k])
            except ValueError as exc:
                table.reject([i], f"{col.name}: {exc}")
        table.values[col.name] = out
        if col.allow_empty:
            table.empty[col.name] = empty
    for name, texts in table.extra.items():
        k = header.index(name)
        for i, (_, cells) in enumerate(rows):
            if k < len(cells):
                texts[i] = cells[k]
    return table


def reject_out_of_domain(table: Table, names: Iterable[str]) -> None:
    """Vectorised domain check of library parameters on a table.

    For each named column (a parameter known to :func:`steerjax._validation.domain_violations`),
    every row that is still good and whose value is outside the allowed range gets the reason
    ``<name> = <value> is outside the allowed range <range>`` -- the wording of the library's
    ``ValueError``.  All violations of a row are reported, not only the first.
    """
    names = list(names)
    good = table.ok
    masks = domain_violations(**{name: table.values[name] for name in names})
    for name in names:
        bad = masks[name] & good
        if bad.any():
            vals = table.values[name]
            rng = allowed_range(name)
            table.reject(
                bad,
                lambda i, name=name, vals=vals, rng=rng: (
                    f"{name} = {float(vals[i])!r} is outside the allowed range {rng}"
                ),
            )


THERMAL_PRESET_COLUMN = "thermal"
"""Name of the optional table column that names a thermal preset per row."""


def thermal_table_columns() -> list[Column]:
    """Column specs for thermal parameters in a table: an optional ``thermal`` column of preset
    names and the four optional explicit columns (empty cells allowed).  Combine them per row
    with :func:`resolve_thermal`."""
    columns = [
        Column(THERMAL_PRESET_COLUMN, parse=parse_preset_name, default=None, numeric=False, allow_empty=True)
    ]
    for name in THERMAL_FIELDS:
        columns.append(Column(name, default=math.nan, allow_empty=True))
    return columns


def resolve_thermal(table: Table, flags: Mapping[str, tuple[float, str]]) -> dict[str, int]:
    """Combine the table's thermal columns with the command line, row by row, in place.

    For each thermal field and row the value is the first of:

    1. the row's cell in the field's own column (``nbar_plus``), if the file has it and the
       cell is not empty;
    2. an explicit flag (``--nbar-plus``) from ``flags``;
    3. the preset named in the row's ``thermal`` cell, if the file has that column and the
       cell is not empty;
    4. the ``--thermal`` preset from ``flags``.

    (Explicit values beat presets, as on the command line.)  A good row left without a value
    gets a problem naming the field; a field that no row can get (no column, no ``thermal``
    column, no flag) raises :class:`InputError` once for the file.  ``flags`` maps a field to
    ``(value, origin)`` for values given outside the file (origin: the flag, or
    ``--thermal <preset>``).  Returns how many values each source gave:
    ``{"file": .., "--nbar-plus": .., "thermal column": .., "--thermal hot": ..}``.
    """
    n = len(table)
    has_column = THERMAL_PRESET_COLUMN in table.in_file
    missing = [f for f in THERMAL_FIELDS if f not in table.in_file and f not in flags and not has_column]
    if missing:
        raise InputError(
            f"{table.source}: no thermal parameters for {', '.join(missing)}: give the column"
            f"{'s' if len(missing) > 1 else ''} in the file, a {THERMAL_PRESET_COLUMN} column of preset "
            f"names, --thermal {{{','.join(THERMAL_PRESETS)}}}, or "
            + ", ".join(THERMAL_FLAGS[f] for f in missing)
        )
    presets = table.values.get(THERMAL_PRESET_COLUMN, np.asarray([None] * n, dtype=object))
    row_presets = {key: presets == key for key in THERMAL_PRESETS if (presets == key).any()}
    used: dict[str, int] = {}

    def fill(values, need, mask, value, source):
        mask = mask & need
        values[mask] = value
        need &= ~mask
        if mask.any():
            used[source] = used.get(source, 0) + int(mask.sum())

    for name in THERMAL_FIELDS:
        values = np.array(table.values[name], dtype=np.float64)
        if name in table.in_file:
            need = table.empty.get(name, np.zeros(n, dtype=bool)).copy()
            used["file"] = used.get("file", 0) + int((~need).sum())
        else:
            need = np.ones(n, dtype=bool)
        value, origin = flags.get(name, (None, ""))
        from_preset_flag = origin.startswith("--thermal")
        if value is not None and not from_preset_flag:
            fill(values, need, np.ones(n, dtype=bool), value, origin)
        for key, mask in row_presets.items():
            fill(values, need, mask, preset_values(key)[name], "thermal column")
        if value is not None and from_preset_flag:
            fill(values, need, np.ones(n, dtype=bool), value, origin)
        table.values[name] = values
        table.reject(
            need & table.ok,
            f"no value for {name}: "
            + ("empty cell" if name in table.in_file else "no such column")
            + f", and no preset (a {THERMAL_PRESET_COLUMN} column or --thermal) or {THERMAL_FLAGS[name]}",
        )
    return used
