"""The columns of a table of optimisation jobs (one row per :class:`~steerjax.optim.Problem`), the
per-row checks of its constraint and conditional-scheme columns (each bad row recorded on the
table, :meth:`steerjax.io.Table.reject`), and the output table of the solved jobs.  The jobs are
solved by :mod:`._jobs`; used by ``steerjax optimize``."""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Sequence

import numpy as np

from ..io._tables import REQUIRED, THERMAL_FIELDS, THERMAL_PRESET_COLUMN, Column, Table, thermal_table_columns
from ..io._text import parse_angle, parse_bool, parse_coupling, parse_direction, parse_number
from ..model._params import Thermal
from ._optimum_sensitivity import OPTIMUM_PARAMETERS
from ._problem import Problem

JOB_COLUMNS = (THERMAL_PRESET_COLUMN, *THERMAL_FIELDS, "coupling", "direction", "eps", "C_minus")
"""Columns that state a job (one optimisation problem), in output order."""

CONSTRAINT_COLUMNS = (
    "theta_plus_min",
    "theta_plus_max",
    "theta_minus_min",
    "theta_minus_max",
    "C_plus_min",
    "C_plus_max",
    "min_damping_ratio",
    "phase_tolerance",
    "theta_tolerance",
    "c_tolerance",
    "eps_range_min",
    "eps_range_max",
    "max_settling_time_s",
    "max_other_E",
    "min_other_E",
    "omega_hz",
    "phi_min",
    "phi_max",
)
"""Optional constraint columns of a job (empty cell: no constraint).  Angles in radians; then
the tolerances , the settling time [s], the bounds on the other
direction's E (:data:`OTHER_E_COLUMNS`), the oscillator frequency Omega/2pi [Hz] (lab-frame
model) and the range of the carrier phase phi [rad] (phi re-tuned)."""

OTHER_E_COLUMNS = ("max_other_E", "min_other_E")
"""Bounds on the other direction's E at the same design (issue 12): at most one per job."""

TOLERANCE_RANGES = {
    # column: (allowed-range text, test of a given value)
    "phase_tolerance": ("[0, pi/2] (rad)", lambda x: (x >= 0) & (x <= math.pi / 2)),
    "theta_tolerance": ("[0, pi/4] (rad)", lambda x: (x >= 0) & (x <= math.pi / 4)),
    "c_tolerance": ("[0, 1) (relative error of C_+ and C_-)", lambda x: (x >= 0) & (x < 1)),
    "eps_range_min": ("[0, 1)", lambda x: (x >= 0) & (x < 1)),
    "eps_range_max": ("[0, 1)", lambda x: (x >= 0) & (x < 1)),
    "max_settling_time_s": ("(0, inf] (seconds)", lambda x: x > 0),
    "max_other_E": ("(0, inf)", lambda x: (x > 0) & (x < math.inf)),
    "min_other_E": ("(0, inf)", lambda x: (x > 0) & (x < math.inf)),
    "omega_hz": ("(0, inf) (Hz)", lambda x: np.isfinite(x) & (x > 0)),
    "phi_min": ("[-pi/2, pi/2] (rad)", lambda x: np.abs(x) <= math.pi / 2),
    "phi_max": ("[-pi/2, pi/2] (rad)", lambda x: np.abs(x) <= math.pi / 2),
}

ANGLE_CONSTRAINTS = frozenset(
    (
        "theta_plus_min",
        "theta_plus_max",
        "theta_minus_min",
        "theta_minus_max",
        "phase_tolerance",
        "theta_tolerance",
        "phi_min",
        "phi_max",
    )
)
"""Constraint columns read as angles (``0.01pi`` allowed); the others are plain numbers."""

CONDITIONAL_COLUMNS = ("conditional", "efficiency", "lo_phase_min", "lo_phase_max")
"""Job columns of the conditional scheme: ``conditional`` (true/false), the detection
``efficiency`` in [0, 1] (empty: 1) and the local-oscillator phase range [rad] (empty: optimised
over a full period; equal ends fix the phase).  Only for conditional jobs."""

RESULT_COLUMNS = (
    "E",
    "E_plus_given_minus",
    "E_minus_given_plus",
    "theta_plus",
    "theta_minus",
    "C_plus",
    "gamma_plus_hz",
    "gamma_minus_hz",
    "converged",
    "at_stability_edge",
)
"""The optimum: ``E`` is the minimised parameter (of the job's direction)."""

CONDITIONAL_RESULT_COLUMNS = ("lo_phase", "E_u_plus_given_minus", "E_u_minus_given_plus")
"""Written after :data:`RESULT_COLUMNS` when some job is conditional: the optimal local-oscillator
phase [rad] (NaN for an unconditional job) and the unconditional E at the same design."""

DIAGNOSTIC_COLUMNS = (
    "C_plus_over_C_minus",
    "damping_ratio_plus",
    "damping_ratio_minus",
    "grad_norm",
    "steps",
)
"""Written last."""

OTHER_E_RESULT_COLUMNS = ("E_other",)
"""Written after ``E`` (and ``E_worst``) when some job bounds the other direction's E: that E
at the returned design (for every job, bounded or not)."""

PHASE_RESULT_COLUMNS = ("phi",)
"""Written after ``C_plus`` when some job re-tunes the carrier phase (``omega_hz`` or
``phi_min/max`` given): the optimal phi [rad] (0 for the other jobs)."""

TOLERANCE_RESULT_COLUMNS = ("E_worst",)
"""Written right after ``E`` when some job has a tolerance: the worst case of the job's E over
its tolerance set at the returned design (``E`` itself for a job without tolerance)."""

SENSITIVITY_PARAMETERS = OPTIMUM_PARAMETERS[:6]
"""Parameters p whose columns ``--sensitivities`` always writes: nbar_+-, gamma0_+- [Hz], eps,
C_- (:func:`steerjax.optimum_sensitivity`)."""

CONSTRAINT_SENSITIVITY_PARAMETERS = OPTIMUM_PARAMETERS[6:]
"""Parameters whose ``--sensitivities`` columns are written only when some job sets them: the
damping margin (a non-zero ``min_damping_ratio``), the tolerances and the settling time."""


def sensitivity_columns(parameters) -> tuple[str, ...]:
    """The ``--sensitivities`` columns for ``parameters``, written last: every
    ``dEstar_d_<p>`` [1/unit of p], then every ``elasticity_<p>`` (d ln E*/d ln p) [1]."""
    return tuple(f"dEstar_d_{p}" for p in parameters) + tuple(f"elasticity_{p}" for p in parameters)


OUTPUT_RESULT_COLUMNS = RESULT_COLUMNS + DIAGNOSTIC_COLUMNS
"""The columns added to every output row when no job is conditional and none has a
tolerance, in order."""

ALL_RESULT_COLUMNS = RESULT_COLUMNS + CONDITIONAL_RESULT_COLUMNS + DIAGNOSTIC_COLUMNS
"""Every result column of a job without tolerance (:data:`TOLERANCE_RESULT_COLUMNS` add one);
those of a results file used as input are replaced."""

_HALF_PI = math.pi / 2
_DEFAULT_C_PLUS_RATIO = tuple(
    float(x) for x in inspect.signature(Problem).parameters["C_plus_ratio_bounds"].default
)
"""The library's default search range of C_+/C_- (used for rows with one C_+ bound only)."""

_DEFAULT_LO_PHASE_RANGE = (0.0, math.pi)
"""The library's default phase range, a full period (used for rows with one end only)."""

_DEFAULTS = {"eps": 0.0, "coupling": "asymmetric", "direction": "plus-given-minus"}


def _reject_outside(table: Table, name: str, bad: np.ndarray, rng: str) -> None:
    x = table.values[name]
    table.reject(bad & table.ok, lambda i: f"{name} = {float(x[i])!r} is outside the allowed range {rng}")


def _reject_crossed(table: Table, lo_name: str, hi_name: str, lo: np.ndarray, hi: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        crossed = table.ok & (lo > hi)
    table.reject(crossed, lambda i: f"{lo_name} = {float(lo[i])!r} > {hi_name} = {float(hi[i])!r}")


def reject_bad_constraints(table: Table) -> None:
    """Per-row checks of the constraint columns (an empty cell: no constraint; a ``nan`` cell
    was already refused by the parser); fills an empty ``min_damping_ratio`` with 0."""
    v = table.values
    with np.errstate(invalid="ignore"):
        for side in ("plus", "minus"):
            lo_name, hi_name = f"theta_{side}_min", f"theta_{side}_max"
            for name in (lo_name, hi_name):
                x = v[name]
                _reject_outside(table, name, ~np.isnan(x) & ~((x >= 0) & (x <= _HALF_PI)), "[0, pi/2]")
            lo = np.where(np.isnan(v[lo_name]), 0.0, v[lo_name])
            hi = np.where(np.isnan(v[hi_name]), _HALF_PI, v[hi_name])
            _reject_crossed(table, lo_name, hi_name, lo, hi)
        for name in ("C_plus_min", "C_plus_max"):
            x = v[name]
            _reject_outside(table, name, ~np.isnan(x) & ~(np.isfinite(x) & (x > 0)), "(0, inf)")
        lo, hi = _c_plus_bounds(v, np.arange(len(table)))
        _reject_crossed(table, "C_plus_min", "C_plus_max", lo, hi)
        r = v["min_damping_ratio"]
        _reject_outside(table, "min_damping_ratio", ~np.isnan(r) & ~((r >= 0) & (r < 1)), "[0, 1)")
        for name, (rng, inside) in TOLERANCE_RANGES.items():
            x = v[name]
            _reject_outside(table, name, ~np.isnan(x) & ~inside(x), rng)
        _reject_bad_eps_range(table)
    v["min_damping_ratio"] = np.where(np.isnan(r), 0.0, r)


def _reject_bad_eps_range(table: Table) -> None:
    """``eps_range_min/max``: both or neither, low <= high, and the row's eps inside."""
    v = table.values
    lo, hi, eps = v["eps_range_min"], v["eps_range_max"], v["eps"]
    one = np.isnan(lo) != np.isnan(hi)
    table.reject(
        table.ok & one,
        lambda i: "give both eps_range_min and eps_range_max (the interval of the true loss), or neither",
    )
    _reject_crossed(table, "eps_range_min", "eps_range_max", lo, hi)
    outside = ~np.isnan(lo) & ~np.isnan(hi) & ((eps < lo) | (eps > hi))
    table.reject(
        table.ok & outside,
        lambda i: (
            f"eps_range_min = {float(lo[i])!r}, eps_range_max = {float(hi[i])!r} must contain the row's "
            f"eps = {float(eps[i])!r} (the nominal loss)"
        ),
    )


def reject_bad_conditional(table: Table, default: bool) -> None:
    """Per-row checks of the conditional-scheme columns.  An empty ``conditional`` cell takes
    ``default`` (``--conditional``); an unconditional row may not set ``efficiency`` or a phase
    in its own cells (values that flags fill in are simply not used there); a conditional row's
    empty ``efficiency`` is 1."""
    v = table.values
    cond = np.asarray([default if c is None else bool(c) for c in v["conditional"]], dtype=bool)
    v["conditional"] = np.asarray(cond.tolist(), dtype=object)
    for name in ("efficiency", "lo_phase_min", "lo_phase_max"):
        x = v[name]
        if name in table.in_file:
            table.reject(
                table.ok & ~cond & ~np.isnan(x),
                lambda i, x=x, name=name: (
                    f"{name} = {float(x[i])!r} is a setting of the conditional scheme, "
                    "but conditional is false in this row"
                ),
            )
        x[~cond] = math.nan
    with np.errstate(invalid="ignore"):
        eta = v["efficiency"]
        _reject_outside(table, "efficiency", ~np.isnan(eta) & ~((eta >= 0) & (eta <= 1)), "[0, 1]")
        v["efficiency"] = np.where(cond & np.isnan(eta), 1.0, eta)
        for name in ("lo_phase_min", "lo_phase_max"):
            x = v[name]
            _reject_outside(table, name, ~np.isnan(x) & ~np.isfinite(x), "(-inf, inf) (a finite angle)")
        lo = np.where(np.isnan(v["lo_phase_min"]), _DEFAULT_LO_PHASE_RANGE[0], v["lo_phase_min"])
        hi = np.where(np.isnan(v["lo_phase_max"]), _DEFAULT_LO_PHASE_RANGE[1], v["lo_phase_max"])
        _reject_crossed(table, "lo_phase_min", "lo_phase_max", np.where(cond, lo, 0), np.where(cond, hi, 0))


def _c_plus_bounds(values, rows) -> tuple[np.ndarray, np.ndarray]:
    C = values["C_minus"][rows]
    lo, hi = values["C_plus_min"][rows], values["C_plus_max"][rows]
    lo = np.where(np.isnan(lo), C * _DEFAULT_C_PLUS_RATIO[0], lo)
    hi = np.where(np.isnan(hi), C * _DEFAULT_C_PLUS_RATIO[1], hi)
    return lo, hi


_OPTIONAL_INPUT_COLUMNS = frozenset((*CONSTRAINT_COLUMNS, *CONDITIONAL_COLUMNS[1:]))
"""Job columns where "not given" is a state of its own (kept as NaN internally)."""


def _blank_where_nan(column: np.ndarray) -> np.ndarray:
    """A value that was not given is written as an empty cell, never as ``nan``, so that an
    output file read back as input means the same (``nan`` is not accepted as input)."""
    if column.dtype.kind != "f" or not np.isnan(column).any():
        return column
    return np.asarray(["" if math.isnan(x) else float(x) for x in column.tolist()], dtype=object)


def output_table(
    table: Table, rows: np.ndarray, filled: Sequence[str], results: dict, *, conditional: bool
) -> dict[str, np.ndarray]:
    """The output columns: the table's own columns (parameters as the values used, other
    columns as text), the job columns it lacks (``filled``), then the results (with
    :data:`CONDITIONAL_RESULT_COLUMNS` when ``conditional``)."""
    out: dict[str, np.ndarray] = {}
    for name in table.header:
        if name in ALL_RESULT_COLUMNS or name in TOLERANCE_RESULT_COLUMNS or name in OTHER_E_RESULT_COLUMNS:
            continue  # a results file used as input: replaced below
        if name in table.in_file:
            column = table.values[name][rows]
            if column.dtype == object:
                column = np.asarray(["" if x is None else x for x in column], dtype=object)
        else:
            column = np.asarray(table.extra[name], dtype=object)[rows]
        if name in _OPTIONAL_INPUT_COLUMNS:
            column = _blank_where_nan(column)
        out[name] = column
    for name in filled:
        out[name] = table.values[name][rows]
    names = ALL_RESULT_COLUMNS if conditional else OUTPUT_RESULT_COLUMNS
    # E_worst and E_other only where computed
    names = names[:1] + TOLERANCE_RESULT_COLUMNS + OTHER_E_RESULT_COLUMNS + names[1:]
    at = names.index("C_plus") + 1
    names = names[:at] + PHASE_RESULT_COLUMNS + names[at:]  # phi only where re-tuned
    for name in names:
        if name in results:
            out[name] = results[name]
    for name in sensitivity_columns(OPTIMUM_PARAMETERS):  # --sensitivities: last
        if name in results:
            out[name] = _blank_where_nan(np.asarray(results[name]))
    return out


def product_jobs(
    thermal: Thermal,
    C_minus,
    eps,
    *,
    couplings,
    directions,
    efficiencies=None,
    constraints: dict[str, float] | None = None,
    preset: str = "",
) -> Table:
    """The product grid of the given values as a table of jobs (one row per optimum; C_- varies
    fastest, then eps, efficiency, direction, coupling; repeated couplings and directions count
    once).  ``efficiencies``: None for unconditional jobs, else the detection efficiencies of
    conditional ones.  ``constraints``: constraint column (and ``lo_phase_min/max``) -> the value
    of every job (NaN: none); the other constraint columns are empty.  ``preset``: the text of
    the ``thermal`` column."""
    conditional = efficiencies is not None
    constraints = constraints or {}
    etas = list(efficiencies) if conditional else [math.nan]
    combos = list(
        itertools.product(
            dict.fromkeys(couplings),
            dict.fromkeys(directions),
            etas,
            np.ravel(eps).tolist(),
            np.ravel(C_minus).tolist(),
        )
    )
    n = len(combos)
    values: dict[str, np.ndarray] = {
        THERMAL_PRESET_COLUMN: np.asarray([preset] * n, dtype=object),
        **{f: np.full(n, float(np.asarray(getattr(thermal, f)))) for f in THERMAL_FIELDS},
        "coupling": np.asarray([c[0] for c in combos], dtype=object),
        "direction": np.asarray([c[1] for c in combos], dtype=object),
        "eps": np.asarray([c[3] for c in combos], dtype=np.float64),
        "C_minus": np.asarray([c[4] for c in combos], dtype=np.float64),
        "conditional": np.asarray([conditional] * n, dtype=object),
        "efficiency": np.asarray([c[2] for c in combos], dtype=np.float64),
    }
    for name in (*CONSTRAINT_COLUMNS, "lo_phase_min", "lo_phase_max"):
        values[name] = np.full(n, constraints.get(name, math.nan))
    values["min_damping_ratio"] = np.nan_to_num(values["min_damping_ratio"], nan=0.0)
    header = list(JOB_COLUMNS)
    if conditional:
        header += ["conditional", "efficiency"]
        header += [c for c in ("lo_phase_min", "lo_phase_max") if not math.isnan(values[c][0])]
    header += [c for c in CONSTRAINT_COLUMNS if c in constraints]
    return Table(
        source="command line",
        header=header,
        in_file=frozenset(header),
        lines=np.arange(1, n + 1, dtype=np.int64),
        values=values,
        extra={},
    )


def job_file_columns(given=None, *, conditional: bool = False, C_minus_hint: str = "") -> list[Column]:
    """The columns of a job file, as :class:`steerjax.io.Column` specs for
    :func:`steerjax.io.read_table`: ``C_minus`` (required unless ``given``), ``eps``,
    ``coupling``, ``direction``, the conditional-scheme columns, the constraint columns (empty
    cell: none) and the thermal columns.  ``given``: column -> the value every row gets when the
    file lacks the column (otherwise the defaults: eps 0, asymmetric, plus-given-minus, no
    constraint); ``conditional``: the value of an empty ``conditional`` cell; ``C_minus_hint``:
    added to the message of a missing ``C_minus`` column."""
    given = given or {}

    def default(name):
        return given[name] if name in given else _DEFAULTS.get(name, REQUIRED)

    columns = [
        Column("C_minus", default=default("C_minus"), hint=C_minus_hint),
        Column("eps", default=float(default("eps"))),
        Column("coupling", parse=parse_coupling, default=default("coupling"), numeric=False),
        Column("direction", parse=parse_direction, default=default("direction"), numeric=False),
        Column("conditional", parse=parse_bool, default=conditional, numeric=False, allow_empty=True),
        Column("efficiency", default=float(given.get("efficiency", math.nan)), allow_empty=True),
    ]
    for name in (*CONSTRAINT_COLUMNS, "lo_phase_min", "lo_phase_max"):
        parse = parse_angle if name in ANGLE_CONSTRAINTS else parse_number
        columns.append(Column(name, parse=parse, default=given.get(name, math.nan), allow_empty=True))
    return columns + thermal_table_columns()
