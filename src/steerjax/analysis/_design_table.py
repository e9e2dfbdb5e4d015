"""A design file (``steerjax evaluate --from``): its columns, the per-row checks of the values
that are not a design's (frequency, conditional scheme), and the output table of the evaluated
rows.  The design's own checks and the evaluation are in :mod:`._design_batch`."""

from __future__ import annotations

import math

import numpy as np

from ..io._tables import REQUIRED, Column, Table, reject_out_of_domain, thermal_table_columns
from ..io._text import LO_PHASE_OPTIMAL, parse_angle, parse_lo_phase, parse_number
from ._design_batch import (
    CONDITIONAL_REGIME_COLUMN,
    CONDITIONAL_RESULT_COLUMNS,
    DESIGN_FIELDS,
    INPUT_COLUMNS,
    LAB_RESULT_COLUMNS,
    NUMERIC_RESULT_COLUMNS,
    OMEGA_COLUMN,
    PHI_COLUMN,
    RESULT_COLUMNS,
    SENSITIVITY_RESULT_COLUMNS,
    _regime_names,
    evaluate_conditional,
    evaluate_lab_frame,
    evaluate_rows,
    evaluate_sensitivity,
    reject_bad_sensitivity,
    reject_nonfinite,
    reject_unstable,
)


def _lo_phase_cell(text: str) -> float:
    """A ``lo_phase`` cell: a finite angle [rad], or ``optimal`` -> NaN."""
    value = parse_lo_phase(text)
    return math.nan if value is None else value


def design_file_columns(given=None, hints=None) -> list[Column]:
    """The columns of a design file, as :class:`steerjax.io.Column` specs for
    :func:`steerjax.io.read_table`: the design (angles as angles; required unless ``given``),
    the thermal columns, ``phi`` (default 0), ``omega_hz`` (empty: the paper's model) and the
    conditional scheme's ``lo_phase`` (empty: optimal) and ``efficiency`` (empty: 1).
    ``given``: column -> the value every row gets when the file lacks the column; ``hints``:
    column -> text added to the message of a missing required column."""
    given, hints = given or {}, hints or {}
    columns = []
    for name in DESIGN_FIELDS:
        parse = parse_angle if name.startswith("theta") else parse_number
        columns.append(Column(name, parse=parse, default=given.get(name, REQUIRED), hint=hints.get(name, "")))
    columns += thermal_table_columns()  # resolved row by row with resolve_thermal
    columns.append(Column(PHI_COLUMN, parse=parse_angle, default=given.get(PHI_COLUMN, 0.0)))
    columns.append(Column(OMEGA_COLUMN, default=given.get(OMEGA_COLUMN, math.nan), allow_empty=True))
    # recognised in every mode (without the conditional scheme they are an error, not text)
    lo_phase = given.get("lo_phase", math.nan)
    columns.append(Column("lo_phase", parse=_lo_phase_cell, default=lo_phase, allow_empty=True))
    columns.append(Column("efficiency", default=given.get("efficiency", 1.0), allow_empty=True))
    return columns


def reject_bad_omega(table: Table) -> None:
    """Rows whose ``omega_hz`` is given but not finite and > 0 (empty cells, NaN, are fine)."""
    omega = table.values.get(OMEGA_COLUMN)
    if omega is None:
        return
    bad = table.ok & ~np.isnan(omega) & ~(np.isfinite(omega) & (omega > 0))
    if bad.any():
        table.reject(
            bad, lambda i: f"{OMEGA_COLUMN} = {float(omega[i])!r} is outside the allowed range (0, inf) [Hz]"
        )


def has_omega(table: Table) -> bool:
    """Whether some row of the table has an oscillator frequency."""
    omega = table.values.get(OMEGA_COLUMN)
    return omega is not None and bool(np.any(~np.isnan(omega)))


def reject_bad_conditional(table: Table) -> None:
    """Conditional rows: an empty ``efficiency`` cell is 1 (an empty ``lo_phase`` cell is
    already NaN, i.e. optimal); an efficiency outside [0, 1] rejects the row."""
    eta = table.values["efficiency"]
    if "efficiency" in table.empty:
        eta = np.where(table.empty["efficiency"], 1.0, eta)
        table.values["efficiency"] = eta
    table.reject(
        table.ok & ~((eta >= 0) & (eta <= 1)),
        lambda i: f"efficiency = {float(eta[i])!r} is outside the allowed range [0, 1]",
    )


def reject_optimal_lo_phase_at_nonzero_phi(table: Table) -> None:
    """Conditional rows with phi != 0 and ``lo_phase`` optimal: the search of the best
    local-oscillator phase (:func:`steerjax.model.conditional_steering_best_phase`) is at
    phi = 0 only; a fixed ``lo_phase`` is evaluated at any phi."""
    phi, psi = table.values[PHI_COLUMN], table.values["lo_phase"]
    table.reject(
        table.ok & (phi != 0) & np.isnan(psi),
        lambda i: (
            f"phi = {float(phi[i])!r} with lo_phase optimal: the optimal local-oscillator phase is "
            "searched at phi = 0 only; give a fixed lo_phase (column or --lo-phase) for this row"
        ),
    )


def _lo_phase_text(values: np.ndarray) -> np.ndarray:
    """``lo_phase`` values for output: the angle, or ``optimal`` for NaN."""
    return np.asarray([LO_PHASE_OPTIMAL if math.isnan(v) else v for v in values.tolist()], dtype=object)


def output_columns(
    table: Table, rows: np.ndarray, filled, results: dict, result_columns=RESULT_COLUMNS
) -> dict[str, np.ndarray]:
    """The output table: the file's columns (parameters as the floats used, ``lo_phase`` as
    the angle or ``optimal``, other columns as text), the parameter columns the file lacks,
    then the results (a result column that the file has, e.g. ``efficiency``, keeps its
    place)."""
    out: dict[str, np.ndarray] = {}
    for name in table.header:
        if name in table.in_file:
            column = table.values[name][rows]
            if column.dtype == object:  # e.g. the thermal column: empty cells stay empty
                column = np.asarray(["" if v is None else v for v in column], dtype=object)
            elif name == "lo_phase":
                column = _lo_phase_text(column)
        else:
            column = np.asarray(table.extra[name], dtype=object)[rows]
        out[name] = column
    for name in filled:
        out[name] = table.values[name][rows]
    for name in result_columns:  # a result column of the input (a re-run) is replaced
        out[name] = results[name]
    return out


def result_columns(*, conditional: bool = False, margins: bool = False, lab: bool = False) -> tuple[str, ...]:
    """The result columns of :func:`evaluate_table`, in the order they are written:
    :data:`RESULT_COLUMNS`, then those of the conditional scheme, of the margins and of the
    lab-frame model when asked for."""
    columns = RESULT_COLUMNS
    if conditional:
        columns = (*RESULT_COLUMNS, *CONDITIONAL_RESULT_COLUMNS, CONDITIONAL_REGIME_COLUMN)
    if margins:
        columns = (*columns, *SENSITIVITY_RESULT_COLUMNS)
    if lab:
        columns = (*columns, *LAB_RESULT_COLUMNS)
    return columns


def evaluate_table(
    table: Table, filled, *, conditional: bool = False, margins: bool = False, progress=None
) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """Check every row of a design table and evaluate the good ones, as ``steerjax evaluate
    --from`` does: ``(rows, columns, notes)``, the rows evaluated, the output table of
    :func:`output_columns` (``filled``: the parameter columns the file lacks, written after
    its own) and the notes of the lab-frame model.  Each bad row is rejected in ``table``
    with its reason (:meth:`~steerjax.io.Table.error_messages`); ``progress(done, total,
    label)`` is called as the chunks are done."""
    lab = has_omega(table)
    reject_out_of_domain(table, (*INPUT_COLUMNS, PHI_COLUMN))
    reject_bad_omega(table)
    if conditional:
        reject_bad_conditional(table)
        reject_optimal_lo_phase_at_nonzero_phi(table)
    reject_unstable(table)
    rows = np.flatnonzero(table.ok)
    results = evaluate_rows(table, rows, progress=progress)
    notes = evaluate_lab_frame(table, rows, results) if lab else []
    numeric = NUMERIC_RESULT_COLUMNS
    if conditional:
        results |= evaluate_conditional(table.values, rows, progress=progress)
        numeric = (*NUMERIC_RESULT_COLUMNS, *CONDITIONAL_RESULT_COLUMNS)
    rows, results = reject_nonfinite(table, rows, results, numeric)
    if margins:
        results |= evaluate_sensitivity(table.values, rows, progress=progress)
        rows, results = reject_bad_sensitivity(table, rows, results)
    if conditional:
        results[CONDITIONAL_REGIME_COLUMN] = _regime_names(
            results["E_c_plus_given_minus"], results["E_c_minus_given_plus"]
        )
    columns = result_columns(conditional=conditional, margins=margins, lab=lab)
    out = output_columns(table, rows, filled, results, columns)
    for name in (OMEGA_COLUMN, *LAB_RESULT_COLUMNS):  # no frequency: an empty cell
        if name in out and out[name].dtype != object:
            out[name] = np.asarray(["" if np.isnan(v) else v for v in out[name].tolist()], dtype=object)
    return rows, out, notes
