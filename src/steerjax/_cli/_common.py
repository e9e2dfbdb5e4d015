"""Helpers shared by the ``steerjax`` commands.

What lives here, and which command uses it:

* **Errors and exit statuses.**  :class:`UsageError` (inconsistent or incomplete flags, exit
  status 2, like argparse's own errors) and :class:`InputError` (a value or an input file that
  cannot be used, exit status 1).  :func:`command` wraps a command's body so that both are
  printed as ``steerjax <command>: error: ...`` on stderr and turned into the exit status.
* **Parsing text.**  :func:`parse_angle` (radians, or multiples of pi such as ``0.35pi``,
  ``0.35*pi``, ``pi/4``), :func:`parse_number`, :func:`parse_integer` (one rule for flags and
  cells alike: ASCII decimal literals only, ``nan`` never, an empty cell means "not given"; see
  :data:`MISSING_RULE`), :func:`parse_preset_name`,
  :func:`angle_argument` (the same as an argparse ``type=``), and :func:`parse_lo_phase` (a
  local-oscillator phase: a finite angle or the word ``optimal``).
* **Thermal parameters from flags.**  :func:`add_thermal_arguments` adds ``--thermal`` and the
  four explicit flags; :func:`thermal_values_from_args` says which values the flags give and
  where each came from; :func:`thermal_from_args` builds a complete :class:`steerjax.Thermal`.
* **Tables.**  :func:`read_table` reads a CSV file of named columns (numbers, angles or
  strings) into a :class:`Table`: one array per column plus a per-row list of problems keyed
  by the row's line number in the file, so a command can reject bad rows, evaluate the good
  ones in one batched call and report each bad row with its line.  :func:`reject_out_of_domain`
  is the vectorised domain check of the library's parameters on such a table;
  :func:`thermal_table_columns` and :func:`resolve_thermal` read thermal parameters from a
  table (a ``thermal`` preset column and/or explicit columns, with the flags as fallback).
* **Progress and text tables** (drawn by ``rich``).  :class:`Progress`, a one-line progress bar
  on stderr that stays silent with ``--quiet`` or when stderr is not a terminal;
  :func:`format_columns`, an aligned plain-text table of cells.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import read_csv_cells
from .._params import THERMAL_PRESETS, Thermal, thermal_preset
from .._validation import allowed_range, domain_violations

__all__ = [
    "UsageError",
    "InputError",
    "command",
    "error",
    "print_stdout",
    "wrap",
    "note",
    "parse_angle",
    "parse_number",
    "parse_integer",
    "NUMBER_FORMS",
    "MISSING_RULE",
    "parse_preset_name",
    "format_number",
    "angle_argument",
    "LO_PHASE_OPTIMAL",
    "LO_PHASE_FORMS",
    "parse_lo_phase",
    "THERMAL_FIELDS",
    "THERMAL_FLAGS",
    "add_thermal_arguments",
    "thermal_values_from_args",
    "thermal_from_args",
    "describe_thermal_source",
    "REQUIRED",
    "Column",
    "Table",
    "read_table",
    "reject_out_of_domain",
    "THERMAL_PRESET_COLUMN",
    "thermal_table_columns",
    "resolve_thermal",
    "Progress",
    "format_columns",
]


# ---------------------------------------------------------------------------------------------
# Errors and exit statuses
# ---------------------------------------------------------------------------------------------


class UsageError(Exception):
    """Flags that are missing, inconsistent or not allowed together (exit status 2)."""


class InputError(ValueError):
    """A value or an input file that cannot be used (exit status 1).  The message is shown
    to the user as is, so it names the parameter (or file and line), the value and what is
    allowed."""


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
# Parsing text
# ---------------------------------------------------------------------------------------------

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DECIMAL = re.compile(rf"^[+-]?{_NUMBER}$")
_INFINITY = re.compile(r"^[+-]?(?:inf|infinity)$", re.IGNORECASE)
_NAN = re.compile(r"^[+-]?nan$", re.IGNORECASE)
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_PI_MULTIPLE = re.compile(
    rf"^(?P<sign>[+-]?)\s*(?:(?P<coef>{_NUMBER})\s*\*?\s*)?(?:pi|π)\s*(?:/\s*(?P<den>{_NUMBER}))?$",
    re.IGNORECASE,
)
NUMBER_FORMS = (
    "ASCII decimal literals such as 50, 0.1, -3, 2.5e-3 (no '_' separators, no other scripts' digits)"
)
"""How numbers may be written on the command line and in tables (for help texts)."""

ANGLE_FORMS = "radians (1.1), or a multiple of pi (0.35pi, 0.35*pi, pi/4, 3pi/8)"
"""How angles may be written on the command line and in tables (for help texts)."""

MISSING_RULE = (
    "ASCII decimal literals (50, 0.1, 2.5e-3; no '_' separators, no other digits); "
    "a value that is not given is an empty cell (or an omitted flag); 'nan' is never a value, "
    "in a flag or in a cell"
)
"""The parsing rule of the commands, in words (for help texts)."""

_NAN_REASON = "is not allowed: a value that is not given is an empty cell or an omitted flag, never nan"


def _decimal(s: str) -> float | None:
    """The value of an ASCII decimal literal or inf/infinity, None for any other text; raises
    ``ValueError`` for nan (never a value)."""
    if _DECIMAL.match(s) or _INFINITY.match(s):
        return float(s)
    if _NAN.match(s):
        raise ValueError(f"{s!r} {_NAN_REASON}")
    return None


def parse_angle(text: str) -> float:
    """An angle in radians from text: a plain number (``1.1``, ``-2e-3``) or a multiple of pi
    (``0.35pi``, ``0.35*pi``, ``0.35 pi``, ``pi/4``, ``3pi/8``, ``-pi/4``, ``π/4``).

    Numbers follow :func:`parse_number` (ASCII decimal literals; ``nan`` is an error).
    ``a pi / b`` is evaluated as ``(a * math.pi) / b`` in float64, so ``0.35pi`` is exactly
    Python's ``0.35 * math.pi`` and ``pi/4`` is exactly ``math.pi / 4``.  The range is not
    checked here (that is the domain check's job).

    Raises:
        ValueError: the text is neither form, or is nan; the message quotes it and shows the
            forms.
    """
    s = str(text).strip()
    value = _decimal(s)
    if value is not None:
        return value
    m = _PI_MULTIPLE.match(s)
    if m is not None:
        coef = float(m["coef"]) if m["coef"] else 1.0
        den = float(m["den"]) if m["den"] else 1.0
        if den == 0.0:
            raise ValueError(f"{s!r} divides by zero")
        value = coef * math.pi / den
        return -value if m["sign"] == "-" else value
    raise ValueError(f"{s!r} is not an angle; write it in {ANGLE_FORMS}{_why_not(s)}")


def parse_number(text: str) -> float:
    """A float from text: an ASCII decimal literal (``1e5``, ``0.1``, ``-3``, ``.5``, ``2.``)
    or ``inf``/``infinity`` (any case, optional sign; the domain checks reject it where the
    range is open).

    Python's ``float`` is more lenient; these are refused on purpose: ``5_0`` (digit
    separators), digits of other scripts (full-width ``５０``), and ``nan`` (a value that is not
    given is an empty cell or an omitted flag, so that a NaN from an upstream computation
    cannot silently mean "use the default").

    Raises:
        ValueError: empty text, nan, or not a number (the message quotes it).
    """
    s = str(text).strip()
    if not s:
        raise ValueError("empty cell (a number is required)")
    value = _decimal(s)
    if value is None:
        raise ValueError(f"{s!r} is not a number{_why_not(s)}")
    return value


def _why_not(s: str) -> str:
    """For text that Python's ``float`` would take but the rule refuses: the rule, in words."""
    try:
        float(s)
    except ValueError:
        return ""
    return f"; numbers are {NUMBER_FORMS}"


def parse_integer(text: str) -> int:
    """A whole number from text: an ASCII integer literal (``8``, ``-2``), or a number in the
    form :func:`parse_number` accepts whose value is whole (``8.0``, ``1e3``).

    Raises:
        ValueError: not a number, nan, or not a whole number (``1.5``, ``inf``); the message
            quotes the text.
    """
    s = str(text).strip()
    if _INTEGER.match(s):
        return int(s)
    value = _decimal(s) if s else None
    if value is None or not (math.isfinite(value) and value.is_integer()):
        raise ValueError(f"{s!r} is not a whole number; write it as ASCII digits (8, 100, 1e3)")
    return int(value)


def format_number(x: float, digits: int = 10, bounds: Iterable[float] = ()) -> str:
    """``x`` with ``digits`` significant digits (``g`` format) for text output, with two
    corrections of the plain format:

    * negative zero is shown as ``0`` (``-0`` carries no information for a reader);
    * where rounding would show ``x`` equal to one of ``bounds`` (a limit of its allowed range,
      e.g. 1 for ``eps`` in [0, 1), or the steering bound 1/2 for E) although it differs,
      more digits are used, up to the shortest round-trip form (``eps = 0.999999999999``,
      not ``eps = 1``).

    Example:
        >>> format_number(-0.0), format_number(0.999999999999, 10, (0.0, 1.0))
        ('0', '0.999999999999')
    """
    x = float(x)
    if x == 0.0:
        return "0"
    limits = [float(b) for b in bounds if float(b) != x]
    for k in range(digits, 18):
        text = f"{x:.{k}g}"
        if float(text) not in limits:
            return text
    return repr(x)


def parse_preset_name(text: str) -> str:
    """The canonical name of a thermal preset (``"hot"``, ``"vacuum-server"``); case and
    ``_``/``-`` are ignored.

    Raises:
        ValueError: not a known preset (the message lists them).
    """
    key = str(text).strip().lower().replace("_", "-")
    if key not in THERMAL_PRESETS:
        raise ValueError(
            f"{str(text).strip()!r} is not a thermal preset; allowed: {', '.join(THERMAL_PRESETS)}"
        )
    return key


def angle_argument(text: str) -> float:
    """:func:`parse_angle` as an argparse ``type=`` (a bad angle is a usage error, status 2)."""
    try:
        return parse_angle(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


LO_PHASE_OPTIMAL = "optimal"
"""The word that asks for the local-oscillator phase to be optimised (``--lo-phase optimal``)."""

LO_PHASE_FORMS = f"a finite angle in {ANGLE_FORMS}, or the word {LO_PHASE_OPTIMAL!r}"
"""How a local-oscillator phase may be written (for help texts and messages)."""


def parse_lo_phase(text: str) -> float | None:
    """A local-oscillator phase from text: ``optimal`` (any case) -> None (the phase is to be
    optimised); otherwise a finite angle in radians, in any form :func:`parse_angle` accepts.

    Raises:
        ValueError: not an angle, or not finite; the message quotes the text and says what is
            allowed.
    """
    s = str(text).strip()
    if s.lower() == LO_PHASE_OPTIMAL:
        return None
    if _NAN.match(s):
        raise ValueError(f"{s!r} is not a finite angle; allowed: {LO_PHASE_FORMS}")
    try:
        value = parse_angle(s)
    except ValueError as exc:
        raise ValueError(f"{exc}, or the word {LO_PHASE_OPTIMAL!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{s!r} is not a finite angle; allowed: {LO_PHASE_FORMS}")
    return value


def _number_argument(text: str) -> float:
    try:
        return parse_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _preset_argument(text: str) -> str:
    try:
        return parse_preset_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ---------------------------------------------------------------------------------------------
# Thermal parameters from flags
# ---------------------------------------------------------------------------------------------

THERMAL_FIELDS = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")
"""Field names of :class:`steerjax.Thermal`, which are also the thermal column names of tables."""

THERMAL_FLAGS = {name: "--" + name.replace("_", "-") for name in THERMAL_FIELDS}
"""Field name -> command-line flag (``gamma0_plus_hz`` -> ``--gamma0-plus-hz``)."""

_THERMAL_HELP = {
    "gamma0_plus_hz": "intrinsic linewidth of the server (+), gamma_+,0/2pi [Hz], > 0",
    "nbar_plus": "thermal occupation of the server's bath, nbar_+ [quanta], >= 0",
    "gamma0_minus_hz": "intrinsic linewidth of the client (-), gamma_-,0/2pi [Hz], > 0",
    "nbar_minus": "thermal occupation of the client's bath, nbar_- [quanta], >= 0",
}


def _preset_values(name: str) -> dict[str, float]:
    preset = thermal_preset(name)  # built now, in float64 (the presets built on import may be float32)
    return {f: float(np.asarray(getattr(preset, f))) for f in THERMAL_FIELDS}


def _describe_presets() -> str:
    parts = []
    for name in THERMAL_PRESETS:
        v = _preset_values(name)
        parts.append(
            f"{name}: gamma_+,0/2pi = {v['gamma0_plus_hz']:g} Hz, nbar_+ = {v['nbar_plus']:g}, "
            f"gamma_-,0/2pi = {v['gamma0_minus_hz']:g} Hz, nbar_- = {v['nbar_minus']:g}"
        )
    return "; ".join(parts)


def add_thermal_arguments(parser: argparse.ArgumentParser, *, description: str | None = None):
    """Add ``--thermal PRESET`` and the four explicit thermal flags in their own help group.

    Rule (implemented by :func:`thermal_values_from_args`): a preset gives all four values; an
    explicit flag overrides the preset's value for its field; without a preset all four
    explicit flags are needed.  Returns the argument group.
    """
    group = parser.add_argument_group(
        "thermal parameters",
        wrap(
            description
            or (
                "Give a preset with --thermal, or all four explicit flags; an explicit flag given "
                "together with --thermal overrides the preset's value.  Presets (the paper's Figs. "
                f"4-8): {_describe_presets()}."
            )
        ),
    )
    group.add_argument(
        "--thermal",
        metavar="PRESET",
        type=_preset_argument,
        help=f"thermal preset: {' or '.join(THERMAL_PRESETS)}",
    )
    for name in THERMAL_FIELDS:
        group.add_argument(
            THERMAL_FLAGS[name],
            dest=name,
            metavar="HZ" if name.endswith("_hz") else "NBAR",
            type=_number_argument,
            help=_THERMAL_HELP[name],
        )
    return group


def thermal_values_from_args(args: argparse.Namespace) -> dict[str, tuple[float, str]]:
    """The thermal values the flags give: ``field -> (value, origin)``.

    ``origin`` is the flag that supplied the value (``"--nbar-plus"``) or the preset
    (``"--thermal hot"``).  Fields that no flag gives are absent, so the mapping may be
    incomplete (a table may supply the rest).  No range check here.
    """
    out: dict[str, tuple[float, str]] = {}
    preset = getattr(args, "thermal", None)
    if preset is not None:
        for name, value in _preset_values(preset).items():
            out[name] = (value, f"--thermal {preset}")
    for name in THERMAL_FIELDS:
        value = getattr(args, name, None)
        if value is not None:
            out[name] = (float(value), THERMAL_FLAGS[name])
    return out


def describe_thermal_source(args: argparse.Namespace) -> str:
    """Where the thermal values came from, in words (``preset hot, nbar_plus from --nbar-plus``)."""
    preset = getattr(args, "thermal", None)
    explicit = [name for name in THERMAL_FIELDS if getattr(args, name, None) is not None]
    if preset is None:
        return "explicit flags"
    if not explicit:
        return f"preset {preset}"
    return f"preset {preset}, overridden by {', '.join(THERMAL_FLAGS[n] for n in explicit)}"


def thermal_from_args(args: argparse.Namespace) -> Thermal:
    """A complete, checked :class:`steerjax.Thermal` from ``--thermal`` and the explicit flags.

    Raises:
        UsageError: neither a preset nor all four explicit flags (the message names the
            missing flags).
        InputError: a value outside its allowed range (named, with the range).
    """
    values = thermal_values_from_args(args)
    missing = [THERMAL_FLAGS[n] for n in THERMAL_FIELDS if n not in values]
    if missing:
        given = [THERMAL_FLAGS[n] for n in THERMAL_FIELDS if n in values]
        raise UsageError(
            "the thermal parameters are incomplete: give --thermal "
            f"{{{','.join(THERMAL_PRESETS)}}}, or all four of {', '.join(THERMAL_FLAGS.values())}"
            + (f" (given: {', '.join(given)}; missing: {', '.join(missing)})" if given else "")
        )
    plain = {n: v for n, (v, _) in values.items()}
    bad = [n for n, mask in domain_violations(**plain).items() if mask.any()]
    if bad:
        raise InputError(
            "; ".join(
                f"{n} = {plain[n]!r} ({values[n][1]}) is outside the allowed range {allowed_range(n)}"
                for n in bad
            )
        )
    return Thermal(**plain)


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
    column, no flag) raises :class:`InputError` once for the file.  ``flags`` is the mapping
    of :func:`thermal_values_from_args`.  Returns how many values each source gave:
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
            fill(values, need, mask, _preset_values(key)[name], "thermal column")
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


# ---------------------------------------------------------------------------------------------
# Progress bar (rich)
# ---------------------------------------------------------------------------------------------


def _rich_console(stream, *, terminal: bool):
    """A :class:`rich.console.Console` writing to ``stream`` (imported here: only the text
    output and the progress bar need it)."""
    from rich.console import Console

    if terminal:
        return Console(file=stream, force_terminal=True, highlight=False)
    return Console(file=stream, force_terminal=False, color_system=None, highlight=False, width=10_000)


class Progress:
    """A one-line progress bar on stderr, drawn by :mod:`rich`.

    Silent when ``quiet`` is true or the stream is not a terminal (so logs and pipes stay
    clean).  Shows ``label``, the bar, ``count/total``, the percentage and the elapsed time;
    ``label`` and ``total`` may be changed while it runs.  Use as a context manager or call
    :meth:`close`.

    Example:
        >>> with Progress(total=3, label="chunks", quiet=True) as bar:
        ...     for _ in range(3):
        ...         bar.update()
    """

    def __init__(self, total: int, label: str = "", *, quiet: bool = False, stream=None):
        self._total = max(int(total), 0)
        self._label = label
        self.count = 0
        stream = stream if stream is not None else sys.stderr
        isatty = getattr(stream, "isatty", None)
        self.enabled = (not quiet) and bool(isatty and isatty())
        self._bar = None
        if self.enabled:
            from rich import progress as rp

            self._bar = rp.Progress(
                rp.TextColumn("{task.description}"),
                rp.BarColumn(),
                rp.MofNCompleteColumn(),
                rp.TaskProgressColumn(),
                rp.TimeElapsedColumn(),
                console=_rich_console(stream, terminal=True),
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._bar.add_task(label, total=self._total)
            self._bar.start()

    @property
    def label(self) -> str:
        return self._label

    @label.setter
    def label(self, text: str) -> None:
        self._label = text
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    @property
    def total(self) -> int:
        return self._total

    @total.setter
    def total(self, n: int) -> None:
        self._total = max(int(n), 0)
        if self._bar is not None:
            self._bar.update(self._task, total=self._total)

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` steps (never past ``total``)."""
        self.count = min(self.count + n, self.total) if self.total else self.count + n
        if self._bar is not None:
            self._bar.update(self._task, completed=self.count)

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# Text tables
# ---------------------------------------------------------------------------------------------


def format_columns(
    headings: Sequence[str], rows: Iterable[Sequence[str]], *, justify: str | Sequence[str] = "right"
) -> str:
    """Cells (already formatted text) as an aligned plain-text table, drawn by :mod:`rich`:
    a heading line, then one line per row, columns two spaces apart, no borders, no colour,
    never wrapped; trailing spaces removed.  ``justify``: ``"right"`` or ``"left"``, for all
    columns or one per column."""
    from rich.table import Table as RichTable
    from rich.text import Text

    sides = [justify] * len(headings) if isinstance(justify, str) else list(justify)
    table = RichTable(box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="")
    for heading, side in zip(headings, sides, strict=True):
        table.add_column(Text(heading), justify=side, no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console = _rich_console(None, terminal=False)
    with console.capture() as captured:
        console.print(table)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())
