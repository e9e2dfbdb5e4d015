"""Solving a table of optimisation jobs (:mod:`._job_columns`): every good row, grouped by the
choices that select a compiled program, one batched :func:`~steerjax.optim.optimize` call per
group; rows whose constraints admit no stable design, or that come back without a finite
optimum, are recorded on the table (:meth:`steerjax.io.Table.reject`).  Used by
``steerjax optimize``.

``progress``: None, or a callable ``progress(done, total, label)`` (optima done of all groups).
"""

from __future__ import annotations

import jax
import numpy as np

from ..io._tables import THERMAL_FIELDS, Table, reject_out_of_domain
from ..model._params import Thermal
from ._constrained import InfeasibleBoundError
from ._feasibility import problem_feasibility
from ._job_columns import (
    _DEFAULT_LO_PHASE_RANGE,
    _HALF_PI,
    ALL_RESULT_COLUMNS,
    CONDITIONAL_COLUMNS,
    CONSTRAINT_COLUMNS,
    CONSTRAINT_SENSITIVITY_PARAMETERS,
    JOB_COLUMNS,
    OTHER_E_COLUMNS,
    SENSITIVITY_PARAMETERS,
    _c_plus_bounds,
    output_table,
    reject_bad_conditional,
    reject_bad_constraints,
    sensitivity_columns,
)
from ._optimize import optimize
from ._optimum_sensitivity import OPTIMUM_PARAMETERS, optimum_sensitivity
from ._problem import Problem


def _report(progress, done: int, total: int, label: str) -> None:
    if progress is not None:
        progress(done, total, label)


def group_key(table: Table, i: int) -> tuple[str, str, bool, str, bool, bool]:
    """The choices of row ``i`` that select a compiled program -- ``(coupling, direction,
    conditional, bound, lab frame, phase free)``: rows with equal keys are solved by one
    :func:`steerjax.optimize` call.  ``bound`` is the column of the row's bound on the other
    direction's E (or ``""``).  A row with ``omega_hz`` is solved in the lab-frame model and
    re-tunes phi (within ``phi_min/max``, default [-pi/2, pi/2]); a row with only
    ``phi_min/max`` re-tunes phi in the paper's model."""
    v = table.values
    bound = next((c for c in OTHER_E_COLUMNS if not np.isnan(v[c][i])), "")
    lab = not np.isnan(v["omega_hz"][i])
    free_phi = lab or not (np.isnan(v["phi_min"][i]) and np.isnan(v["phi_max"][i]))
    return (str(v["coupling"][i]), str(v["direction"][i]), bool(v["conditional"][i]), bound, lab, free_phi)


def _pair(lo: np.ndarray, hi: np.ndarray, default: tuple[float, float]) -> np.ndarray:
    return np.stack([np.where(np.isnan(lo), default[0], lo), np.where(np.isnan(hi), default[1], hi)], -1)


def problem_options(table: Table, rows: np.ndarray, key: tuple) -> dict:
    """Keyword arguments of :class:`steerjax.Problem` for the given rows (one group).

    Constraints that no row of the group sets are left out, so that a job without constraints
    is exactly the library's default problem."""
    v = table.values
    coupling, direction, conditional, bound, lab, free_phi = key
    options: dict = {"eps": v["eps"][rows], "coupling": coupling, "direction": direction}
    for side in ("plus", "minus"):
        lo, hi = v[f"theta_{side}_min"][rows], v[f"theta_{side}_max"][rows]
        if not (np.isnan(lo).all() and np.isnan(hi).all()):
            options[f"theta_{side}_bounds"] = _pair(lo, hi, (0.0, _HALF_PI))
    if not (np.isnan(v["C_plus_min"][rows]).all() and np.isnan(v["C_plus_max"][rows]).all()):
        options["C_plus_bounds"] = np.stack(_c_plus_bounds(v, rows), -1)
    rho = v["min_damping_ratio"][rows]
    if np.any(rho != 0):
        options["min_damping_ratio"] = rho
    options.update(_tolerance_options(v, rows))
    if bound:
        options[bound] = v[bound][rows]
    if lab:
        options["omega_hz"] = v["omega_hz"][rows]
    if free_phi:
        options["phi_bounds"] = _pair(v["phi_min"][rows], v["phi_max"][rows], (-_HALF_PI, _HALF_PI))
    if conditional:
        options["conditional"] = True
        options["efficiency"] = v["efficiency"][rows]
        lo, hi = v["lo_phase_min"][rows], v["lo_phase_max"][rows]
        if not (np.isnan(lo).all() and np.isnan(hi).all()):
            options["lo_phase_bounds"] = _pair(lo, hi, _DEFAULT_LO_PHASE_RANGE)
    return options


def _tolerance_options(v: dict, rows: np.ndarray) -> dict:
    """The tolerance and settling-time options of :class:`steerjax.Problem` that some row of
    the group sets (an empty cell: none, i.e. 0, the nominal loss, no settling requirement)."""
    options = {}
    for column, name in (
        ("phase_tolerance", "phase_tolerance"),
        ("theta_tolerance", "theta_tolerance"),
        ("c_tolerance", "C_tolerance"),
    ):
        x = v[column][rows]
        if not np.isnan(x).all():
            options[name] = np.nan_to_num(x, nan=0.0)
    T = v["max_settling_time_s"][rows]
    if not np.isnan(T).all():
        options["max_settling_time"] = np.where(np.isnan(T), np.inf, T)
    lo, hi, eps = v["eps_range_min"][rows], v["eps_range_max"][rows], v["eps"][rows]
    if not np.isnan(lo).all():
        options["eps_range"] = np.stack(
            [np.where(np.isnan(lo), eps, lo), np.where(np.isnan(hi), eps, hi)], -1
        )
    return options


def _has_tolerance(v: dict, rows: np.ndarray) -> np.ndarray:
    """Per row: some tolerance is set and not zero (an eps range wider than a point)."""
    out = np.zeros(rows.size, dtype=bool)
    for column in ("phase_tolerance", "theta_tolerance", "c_tolerance"):
        x = v[column][rows]
        out |= ~np.isnan(x) & (x != 0)
    lo, hi = v["eps_range_min"][rows], v["eps_range_max"][rows]
    return out | (~np.isnan(lo) & ~np.isnan(hi) & (lo != hi))


def build_problem(table: Table, rows: np.ndarray, key: tuple) -> Problem:
    """The batched :class:`steerjax.Problem` of the given rows (raises the library's ValueError)."""
    v = table.values
    thermal = Thermal(**{f: np.asarray(v[f][rows], dtype=np.float64) for f in THERMAL_FIELDS})
    C_minus = np.asarray(v["C_minus"][rows], dtype=np.float64)
    return Problem(thermal, C_minus, **problem_options(table, rows, key))


_FREE_PHI_WITH_PHASE_TOLERANCE = (
    "a free carrier phase (phi_min < phi_max; with omega_hz phi is free in [-pi/2, pi/2] by default) "
    "with phase_tolerance is not supported together with theta_tolerance, c_tolerance or eps_range: "
    "fix phi with phi_min = phi_max (--phi-bounds PHI PHI)"
)


def feasible_problem(table: Table, rows: np.ndarray, key: tuple) -> tuple[np.ndarray, Problem | None]:
    """The group's Problem, after rejecting the rows whose constraints admit no stable design
    (:func:`steerjax.optim.problem_feasibility`, with its reason in the row's own numbers)."""
    v = table.values
    if key[2]:  # conditional rows: no tolerances (the library refuses them)
        tolerant = _has_tolerance(v, rows)
        for j in np.flatnonzero(tolerant).tolist():
            table.reject(
                [int(rows[j])], "tolerances are not supported for a conditional job (conditional is true)"
            )
        rows = rows[~tolerant]
    if key[3]:  # a bound on the other direction's E: not with conditional jobs or tolerances
        refused = _has_tolerance(v, rows) | bool(key[2])
        for j in np.flatnonzero(refused).tolist():
            table.reject(
                [int(rows[j])],
                f"{key[3]} is not supported with a conditional job or with tolerances (the bound is "
                "on the other direction's nominal E)",
            )
        rows = rows[~refused]
        if key[4] or key[5]:  # the lab-frame model and a free phi have no bound implemented
            for r in rows.tolist():
                table.reject([int(r)], f"{key[3]} is not supported with omega_hz or phi_min/phi_max")
            return rows[:0], None
    options = _tolerance_options(v, rows)
    box = {"theta_tolerance", "C_tolerance", "eps_range"} & set(options)
    if key[5] and "phase_tolerance" in options and box:
        # a free phi re-tuned against the phase error: not with the box tolerances (the group's
        # problem has both as soon as one row sets each)
        phi = _pair(v["phi_min"][rows], v["phi_max"][rows], (-_HALF_PI, _HALF_PI))
        refused = phi[:, 1] > phi[:, 0]
        for j in np.flatnonzero(refused).tolist():
            table.reject([int(rows[j])], _FREE_PHI_WITH_PHASE_TOLERANCE)
        rows = rows[~refused]
    thermal = Thermal(**{f: np.asarray(v[f][rows], dtype=np.float64) for f in THERMAL_FIELDS})
    options = problem_options(table, rows, key)
    bounds = (
        "coupling",
        "theta_plus_bounds",
        "theta_minus_bounds",
        "C_plus_bounds",
        "min_damping_ratio",
        "theta_tolerance",
        "C_tolerance",
        "max_settling_time",
    )
    ok, reason = problem_feasibility(
        thermal,
        np.asarray(v["C_minus"][rows], dtype=np.float64),
        **{k: options[k] for k in bounds if k in options},
    )
    for j in np.flatnonzero(~ok).tolist():
        table.reject([int(rows[j])], reason[j])
    keep = rows[ok]
    return keep, (build_problem(table, keep, key) if keep.size else None)


# ---------------------------------------------------------------------------------------------
# Solving
# ---------------------------------------------------------------------------------------------


def solve(
    table: Table, *, n_starts: int, seed: int, sensitivities: bool = False, progress=None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Optimise every good row: one :func:`steerjax.optimize` call per :func:`group_key`
    group (and with ``sensitivities`` one :func:`steerjax.optimum_sensitivity` call on its
    result).  Returns the rows solved (table order) and their result columns."""
    v = table.values
    bounded = ~np.isnan(v["max_other_E"]) | ~np.isnan(v["min_other_E"])
    both = table.ok & ~np.isnan(v["max_other_E"]) & ~np.isnan(v["min_other_E"])
    table.reject(both, lambda i: "give at most one of max_other_E and min_other_E")
    if sensitivities:  # the derivative of a constrained optimum is not implemented
        table.reject(
            table.ok & bounded,
            lambda i: "--sensitivities is not supported for a job with max_other_E or min_other_E",
        )
    rows = np.flatnonzero(table.ok)
    groups: dict[tuple, list[int]] = {}
    for i in rows.tolist():
        groups.setdefault(group_key(table, i), []).append(i)
    problems = []
    for key, idx in groups.items():
        idx, problem = feasible_problem(table, np.asarray(idx, dtype=np.int64), key)
        if problem is not None:
            problems.append((key, idx, problem))
    n = len(table)
    total = sum(idx.size for _, idx, _ in problems)
    full: dict[str, np.ndarray] = {}
    solved = np.zeros(n, dtype=bool)
    offset = 0
    for key, idx, problem in problems:
        label = f"optimising ({key[0]}, {key[1]}{', conditional' if key[2] else ''})"
        _report(progress, offset, total, label)  # before the group compiles

        def step(done: int, _total: int, offset=offset, label=label) -> None:
            _report(progress, offset + done, total, label)

        offset += idx.size
        try:
            result = optimize(problem, n_starts=n_starts, seed=seed, progress=step)
        except InfeasibleBoundError as err:  # those rows reported, the others kept
            for j, message in err.rows.items():
                table.reject([int(idx[j])], message)
            good = np.setdiff1d(np.arange(idx.size), list(err.rows))
            result = jax.tree_util.tree_map(lambda x, good=good: np.asarray(x)[good], err.result)
            idx = idx[good]
        columns = result.columns()
        if sensitivities:
            columns.update(optimum_sensitivity(problem, result).columns())
        for name, column in columns.items():
            if name not in full:
                full[name] = np.zeros(n, dtype=column.dtype)
            full[name][idx] = column
        solved[idx] = True
    if "E_worst" in full:  # some group had a tolerance: a job without one has E_worst = E
        for _, idx, problem in problems:
            if not problem.has_tolerance:
                full["E_worst"][idx] = full["E"][idx]
    if "E_other" in full:  # some group had a bound: the other E of every job
        for key, idx, _ in problems:
            if not key[3]:
                other = "E_minus_given_plus" if key[1] == "plus-given-minus" else "E_plus_given_minus"
                full["E_other"][idx] = full[other][idx]
    rows = np.flatnonzero(solved)
    if sensitivities:
        _drop_unset_sensitivities(table, rows, full)
    if rows.size == 0:
        return rows, {name: np.asarray([]) for name in ALL_RESULT_COLUMNS}
    return _reject_nonfinite(table, rows, {name: column[rows] for name, column in full.items()})


def solve_file(
    table: Table,
    given,
    *,
    conditional: bool,
    n_starts: int,
    seed: int,
    sensitivities: bool = False,
    progress=None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Check and optimise the rows of a job file as ``steerjax optimize --from`` does; returns
    the rows solved, their results (:func:`solve`) and the output table (:func:`output_table`).

    ``given``: the columns that the caller gave one value for the whole file (written to the
    output when the file lacks them); ``conditional``: the scheme of a row whose
    ``conditional`` cell is empty.  Each bad row is rejected in ``table`` with its reason.
    """
    reject_out_of_domain(table, ("C_minus", "eps", *THERMAL_FIELDS))
    reject_bad_constraints(table)
    reject_bad_conditional(table, conditional)
    any_conditional = bool(np.any(table.values["conditional"].astype(bool)))
    rows, results = solve(table, n_starts=n_starts, seed=seed, sensitivities=sensitivities, progress=progress)
    # The job columns the file lacks (always known: given, defaults, presets); the conditional
    # ones if a job is conditional; constraint columns given.
    filled = [n for n in JOB_COLUMNS[1:] if n not in table.in_file]
    if any_conditional:
        filled += [n for n in ("conditional", "efficiency") if n not in table.in_file]
    filled += [
        n
        for n in (*CONDITIONAL_COLUMNS[2:], *CONSTRAINT_COLUMNS)
        if n not in table.in_file and n in given and (any_conditional or n in CONSTRAINT_COLUMNS)
    ]
    return rows, results, output_table(table, rows, filled, results, conditional=any_conditional)


def _drop_unset_sensitivities(table: Table, rows: np.ndarray, full: dict) -> None:
    """Keep the ``--sensitivities`` columns of :data:`SENSITIVITY_PARAMETERS`, and those of a
    constraint parameter only when some solved job sets it (a tolerance or settling time with a
    derivative; a non-zero damping margin)."""
    keep = set(sensitivity_columns(SENSITIVITY_PARAMETERS))
    for p in CONSTRAINT_SENSITIVITY_PARAMETERS:
        name = f"dEstar_d_{p}"
        if name not in full:
            continue
        if p == "min_damping_ratio":
            used = bool(np.any(table.values["min_damping_ratio"][rows] > 0))
        else:
            used = bool(np.any(np.isfinite(full[name][rows])))
        if used:
            keep.update(sensitivity_columns((p,)))
    for name in sensitivity_columns(OPTIMUM_PARAMETERS):
        if name in full and name not in keep:
            del full[name]


def _reject_nonfinite(table: Table, rows: np.ndarray, results: dict) -> tuple[np.ndarray, dict]:
    """Safety net: every solved row must have a finite E and design."""
    names = ("E", "E_plus_given_minus", "E_minus_given_plus", "theta_plus", "theta_minus", "C_plus")
    finite = np.all([np.isfinite(results[name]) for name in names], axis=0)
    for j in np.flatnonzero(~finite).tolist():
        shown = ", ".join(f"{name} = {float(results[name][j])!r}" for name in names)
        table.reject([rows[j]], f"no finite optimum ({shown})")
    return rows[finite], {k: col[finite] for k, col in results.items()}
