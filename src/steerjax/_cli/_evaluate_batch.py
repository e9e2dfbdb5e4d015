"""``steerjax evaluate``: the flags of a design and of the conditional scheme, and the design file
of ``--from`` (its columns, where the values it lacks come from, notes, the output table).  The
checks and the evaluation of the rows are the library's (:mod:`steerjax.analysis._design_batch`)."""

from __future__ import annotations

import argparse
import math

from ..analysis._design_batch import (
    CONDITIONAL_INPUT_COLUMNS,
    DESIGN_FIELDS,
    OMEGA_COLUMN,
    PHI_COLUMN,
    RESULT_COLUMNS,
)
from ..analysis._design_table import design_file_columns
from ..io._tables import THERMAL_FIELDS, THERMAL_PRESET_COLUMN, Column, Table
from ..io._text import LO_PHASE_OPTIMAL
from ._messages import InputError, UsageError, note, note_file_inputs
from ._numbers import _UNSET
from ._thermal import thermal_values_from_args

DESIGN_FLAGS = {
    "theta_plus": "--theta-plus",
    "theta_minus": "--theta-minus",
    "C_plus": "--c-plus",
    "C_minus": "--c-minus",
    "eps": "--eps",
    PHI_COLUMN: "--phi",
    OMEGA_COLUMN: "--omega-hz",
}
"""Column -> the flag that gives it for one design or every row: the design, the
inter-subsystem phase and the oscillator frequency."""

CONDITIONAL_FLAGS = {"lo_phase": "--lo-phase", "efficiency": "--efficiency"}


def conditional_settings(args: argparse.Namespace) -> tuple[bool, float | None, float | None]:
    """``(--conditional, lo_phase, efficiency)`` from the flags: ``lo_phase`` is None for
    ``optimal`` (also when not given), ``efficiency`` 1 when not given; both None without
    ``--conditional``.

    Raises:
        UsageError: ``--lo-phase`` or ``--efficiency`` without ``--conditional``.
        InputError: ``--efficiency`` outside [0, 1] (a bad value, like ``--eps``).
    """
    conditional = bool(getattr(args, "conditional", False))
    lo_phase = getattr(args, "lo_phase", _UNSET)
    efficiency = getattr(args, "efficiency", None)
    if not conditional:
        for flag, given in (("--lo-phase", lo_phase is not _UNSET), ("--efficiency", efficiency is not None)):
            if given:
                raise UsageError(f"{flag} is a setting of the conditional scheme: add --conditional")
        return False, None, None
    eta = 1.0 if efficiency is None else float(efficiency)
    if not (0.0 <= eta <= 1.0):
        raise InputError(f"efficiency = {eta!r} (--efficiency) is outside the allowed range [0, 1]")
    return True, (None if lo_phase is _UNSET else lo_phase), eta


def _columns_spec(args: argparse.Namespace) -> tuple[list[Column], dict[str, str], dict[str, str]]:
    """Column specs for the table, and the origins of the values flags give:
    ``(columns, explicit, implicit)``; ``explicit`` maps a column to the flag that sets it,
    ``implicit`` to the preset or default that fills it only when the file lacks it."""
    explicit: dict[str, str] = {}
    implicit: dict[str, str] = {}
    defaults: dict[str, float] = {}
    for name, flag in DESIGN_FLAGS.items():
        value = getattr(args, name)
        if value is not None:
            defaults[name], explicit[name] = float(value), flag
    if "eps" not in defaults:
        defaults["eps"], implicit["eps"] = 0.0, "default"
    for name, (_, origin) in thermal_values_from_args(args).items():
        (implicit if origin.startswith("--thermal") else explicit)[name] = origin
    conditional, lo_phase, efficiency = conditional_settings(args)
    if conditional:
        for name in CONDITIONAL_INPUT_COLUMNS:
            flag = CONDITIONAL_FLAGS[name]
            given = getattr(args, name) is not (_UNSET if name == "lo_phase" else None)
            (explicit if given else implicit)[name] = flag if given else "default"
    defaults["lo_phase"] = math.nan if lo_phase is None else lo_phase
    defaults["efficiency"] = 1.0 if efficiency is None else efficiency
    hints = {name: f"or give {DESIGN_FLAGS[name]}" for name in DESIGN_FIELDS}
    columns = design_file_columns(defaults, hints)
    return columns, explicit, implicit


def _note_filled_columns(prog: str, table: Table, filled: list[str], origin: dict[str, str], *, quiet: bool):
    """Say where the values of the columns that the file lacks come from."""
    groups: dict[str, list[str]] = {}
    for name in filled:
        values = table.values[name]
        if name in THERMAL_FIELDS and THERMAL_PRESET_COLUMN in table.in_file:
            src = f"the {THERMAL_PRESET_COLUMN} column" + (f", else {origin[name]}" if name in origin else "")
            groups.setdefault(src, []).append(name)
        else:
            groups.setdefault(origin[name], []).append(f"{name} = {float(values[0])!r}")
    note(
        prog,
        f"columns not in {table.source}, taken from the command line: "
        + "; ".join(f"{', '.join(items)} ({src})" for src, items in groups.items()),
        quiet=quiet,
    )


def check_conditional_columns(table: Table, conditional: bool) -> None:
    """Without ``--conditional`` the file may not have the columns
    :data:`CONDITIONAL_INPUT_COLUMNS` (a usage error, as the flags)."""
    present = [name for name in CONDITIONAL_INPUT_COLUMNS if name in table.in_file]
    if present and not conditional:
        raise UsageError(
            f"column{'s' if len(present) > 1 else ''} {', '.join(present)} of {table.source} "
            f"{'are settings' if len(present) > 1 else 'is a setting'} of the conditional scheme: "
            "add --conditional (or remove the column)"
        )


def _note_conditional(prog: str, args: argparse.Namespace, table: Table, origin: dict[str, str]) -> None:
    parts = []
    for name in CONDITIONAL_INPUT_COLUMNS:
        if name not in table.in_file:
            value = float(table.values[name][0])
            text = LO_PHASE_OPTIMAL if math.isnan(value) else repr(value)
            parts.append(f"{name} = {text} ({origin[name]})")
    if parts:
        note(
            prog,
            f"conditional settings not in {table.source}, taken from the command line: " + "; ".join(parts),
            quiet=args.quiet,
        )


def _note_inputs(
    prog: str, args: argparse.Namespace, table: Table, filled, origin, used, result_columns=RESULT_COLUMNS
) -> None:
    """Notes on stderr (unless --quiet) about values that did not come from the file."""
    if not len(table):
        return
    if filled:
        _note_filled_columns(prog, table, filled, origin, quiet=args.quiet)
    if args.conditional:
        _note_conditional(prog, args, table, origin)
    note_file_inputs(prog, args, table, used, result_columns)
