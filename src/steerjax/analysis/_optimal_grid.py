"""Optimal steering on grids of C_- (the data of Figs. 4-7).

:func:`optimal_steering_grid` optimises every combination of thermal set, loss, coupling,
direction and ``C_-`` (one compiled call per coupling and direction, through
:func:`steerjax.optimal_sweep`) into one flat table, with diagnostics: whether the optimum
steers, whether ``C_+`` sits on its search bound or does not matter at all.
:func:`optimal_grid_data` builds a figure's whole data set from its parameters,
:func:`table_rows` selects one curve of the table and :func:`optimal_grid_summary` condenses it
for the figures' JSON files.

Nothing here imports matplotlib; the curve styles are in :mod:`steerjax.plotting`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from .._validation import DIRECTIONS, allowed_range, domain_violations
from ..model._params import Thermal, thermal_preset
from ..model._steering import STEERING_BOUND
from ..optim._options import ExecutionOptions, SearchOptions
from ..optim._problem import COUPLINGS
from ..optim._sweeps import log_grid, optimal_sweep
from ._concurrent import locked, run_concurrently
from ._maps import interpolated_crossings, steering_sweep

__all__ = [
    "STEERING_MARGIN",
    "thermal_batch",
    "optimal_steering_grid",
    "optimal_grid_data",
    "table_rows",
    "optimal_grid_summary",
]

STEERING_MARGIN = 1e-12
"""An optimum counts as steering when E < 1/2 - STEERING_MARGIN: values within rounding of 1/2
(e.g. E_{+|-} = 1/2 exactly for a vacuum server at theta_+ = pi/2, whatever C_+) do not."""

_THERMAL_FIELDS = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")


def _preset_key(name) -> str:
    return str(name).strip().lower().replace("_", "-")


def _report_progress(progress: Callable[[int, int], None] | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` if a callback is given."""
    if progress is not None:
        progress(int(done), int(total))


def thermal_batch(names: Sequence[str]) -> Thermal:
    """The presets ``names`` (see :func:`steerjax.thermal_preset`) stacked into one
    :class:`~steerjax.Thermal` with a leading axis of length ``len(names)``.

    Examples:
        >>> import steerjax as sj
        >>> sj.analysis.thermal_batch(["hot", "vacuum-server"]).nbar_plus.tolist()
        [100000.0, 0.0]
    """
    presets = [thermal_preset(n) for n in names]
    return Thermal(**{f: jnp.stack([jnp.asarray(getattr(p, f)) for p in presets]) for f in _THERMAL_FIELDS})


def _grid_inputs(figure, thermal_sets, eps_values, C_minus, couplings, directions, n_starts):
    """Plain checks of :func:`optimal_steering_grid`'s arguments (ValueError naming each)."""

    def bad(name, value, allowed):
        raise ValueError(f"{figure}: {name} = {value!r} is outside the allowed range {allowed}")

    names = [thermal_sets] if isinstance(thermal_sets, str) else list(np.atleast_1d(thermal_sets))
    if not names:
        bad("thermal_sets", thermal_sets, "one or more preset names")
    for n in names:
        try:
            thermal_preset(n)
        except ValueError:
            bad("thermal_sets", thermal_sets, "preset names 'hot', 'vacuum-server'")
    names = [_preset_key(n) for n in names]
    if len(set(names)) != len(names):
        bad("thermal_sets", thermal_sets, "distinct preset names")
    try:
        eps = np.atleast_1d(np.asarray(eps_values, dtype=float))
    except (TypeError, ValueError):
        bad("eps_values", eps_values, f"one or more losses in {allowed_range('eps')}")
    if eps.ndim != 1 or eps.size == 0 or np.any(domain_violations(eps=eps)["eps"]):
        bad("eps_values", eps_values, f"one or more losses in {allowed_range('eps')}")
    try:
        C = np.atleast_1d(np.asarray(C_minus, dtype=float))
    except (TypeError, ValueError):
        bad("C_minus", C_minus, f"one or more values in {allowed_range('C_minus')}")
    if C.ndim != 1 or C.size == 0 or np.any(domain_violations(C_minus=C)["C_minus"]):
        bad("C_minus", C_minus, f"one or more values in {allowed_range('C_minus')}")
    chosen = {}
    for name, given, allowed in (("couplings", couplings, COUPLINGS), ("directions", directions, DIRECTIONS)):
        items = [given] if isinstance(given, str) else list(given)
        if not items or any(x not in allowed for x in items) or len(set(items)) != len(items):
            bad(name, given, f"a selection of {allowed}")
        chosen[name] = items
    try:
        whole = int(n_starts) == n_starts
    except (TypeError, ValueError):
        whole = False
    if not whole or int(n_starts) < 1:
        bad("n_starts", n_starts, "integers >= 1")
    return names, eps, C, chosen["couplings"], chosen["directions"]


def optimal_steering_grid(
    thermal_sets: Sequence[str],
    eps_values,
    C_minus,
    *,
    couplings: Sequence[str] = COUPLINGS,
    directions: Sequence[str] = DIRECTIONS,
    n_starts: int = 8,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    figure: str = "optimal_steering_grid",
    workers: int | None = None,
) -> dict[str, np.ndarray]:
    """Optimal steering for every thermal set x loss x coupling x direction x C_- (Figs. 4-7).

    For each (coupling, direction) one :func:`steerjax.optimal_sweep` solves the whole grid of
    (thermal set, eps, C_-) at once -- one compilation per (coupling, direction), shared by
    every later call in the process with any grid size.  Each optimum minimises E of its
    direction over theta_+, theta_- (tied for symmetric coupling) and C_+ within the default
    bounds C_+/C_- in [1e-3, 1e3], at fixed C_- and eps (Sec. V).

    Args:
        thermal_sets: preset names (``"hot"``, ``"vacuum-server"``).
        eps_values: transmission losses in [0, 1).
        C_minus: client cooperativities (1-D).
        couplings, directions: which of :data:`steerjax.optim.COUPLINGS` / :data:`steerjax.DIRECTIONS`.
        n_starts, seed: as for :func:`steerjax.optimize`.
        progress: optional ``progress(done, total)`` over all optima (called from worker
            threads, one call at a time).
        figure: name used in error messages.
        workers: how many (coupling, direction) batches run at once, each in its own thread so
            that their compilations overlap (default: one per CPU core; 1: one after the
            other).  The results do not depend on it
            (:func:`steerjax.analysis.run_concurrently`).

    Returns:
        A flat table (column name -> 1-D numpy array, one row per optimum, C_- varying fastest,
        then eps, thermal set, direction, coupling): ``thermal`` (preset name), every column of
        :meth:`steerjax.OptimalSweep.table` (``C_minus, eps``, the thermal values, ``coupling,
        direction, E, E_plus_given_minus, E_minus_given_plus, theta_plus, theta_minus`` [rad],
        ``C_plus, C_plus_over_C_minus, gamma_plus_hz, gamma_minus_hz, converged,
        at_stability_edge, grad_norm, steps``), then diagnostics evaluated at the optimal design
        with :func:`steerjax.steering`: ``f`` (= 2R/gamma_+), ``bare_var_plus``,
        ``bare_var_minus`` (Eq. 9), ``C_plus_irrelevant`` (E changes by less than 1e-9
        relative when C_+ is doubled or halved at the same angles: C_+ is not determined, e.g.
        theta = pi/2 with symmetric coupling), ``steers`` (E < 1/2 - :data:`STEERING_MARGIN`)
        and ``C_plus_at_bound`` (C_+ within 1e-6 of a search bound: the optimum lies beyond it).

    Raises:
        ValueError: an argument outside its allowed range (named as the figure's parameter).

    Examples:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax as sj
        >>> t = sj.optimal_steering_grid(["hot"], [0.0], [10.0], couplings=["asymmetric"],
        ...                               directions=["plus-given-minus"])
        >>> round(float(t["E"][0]), 4), bool(t["steers"][0]), bool(t["at_stability_edge"][0])
        (0.285, True, True)
    """
    names, eps, C, couplings, directions = _grid_inputs(
        figure, thermal_sets, eps_values, C_minus, couplings, directions, n_starts
    )
    thermal = thermal_batch(names)
    thermal = Thermal(**{f: getattr(thermal, f)[:, None, None] for f in _THERMAL_FIELDS})
    per_config = len(names) * eps.size * C.size
    configs = [(c, d) for c in couplings for d in directions]
    total = len(configs) * per_config
    _report_progress(progress, 0, total)
    done = [0] * len(configs)  # optima done per batch (the batches run side by side)
    report = locked(None if progress is None else lambda: _report_progress(progress, sum(done), total))

    def solve(k, coupling, direction):
        def relay(n_done, _n):
            done[k] = n_done
            report()

        sweep = optimal_sweep(
            thermal,
            C[None, None, :],
            eps=eps[None, :, None],
            coupling=coupling,
            direction=direction,
            search=SearchOptions(n_starts=int(n_starts), seed=int(seed)),
            execution=ExecutionOptions(progress=None if progress is None else relay),
        )
        if report is not None:
            done[k] = per_config
            report()
        return sweep

    tasks = [functools.partial(solve, k, c, d) for k, (c, d) in enumerate(configs)]
    parts, lower, upper = [], [], []
    for sweep in run_concurrently(tasks, workers):
        table = sweep.table()
        parts.append({"thermal": np.repeat(np.asarray(names, dtype=object), eps.size * C.size), **table})
        bounds = np.asarray(sweep.problem.C_plus_bounds).reshape(-1, 2)
        lower.append(bounds[:, 0])
        upper.append(bounds[:, 1])
    table = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    table.update(_optimum_diagnostics(table, np.concatenate(lower), np.concatenate(upper)))
    return table


_CHUNK = 4096


def _steering_in_chunks(thermal: Thermal, *columns: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`steering_sweep` of 1-D design columns in chunks of exactly :data:`_CHUNK` points
    (the last one padded), so that every call, whatever the number of rows, reuses one
    compilation."""
    n = columns[0].size
    pieces = []
    for start in range(0, max(n, 1), _CHUNK):
        chunk = [c[start : start + _CHUNK] for c in columns]
        pad = _CHUNK - chunk[0].size
        chunk = [np.concatenate([c, np.full(pad, c[-1] if c.size else 1.0)]) for c in chunk]
        pieces.append(steering_sweep(thermal, *chunk))
    return {k: np.concatenate([p[k] for p in pieces])[:n] for k in pieces[0]}


def _optimum_diagnostics(table: Mapping[str, np.ndarray], lower, upper) -> dict[str, np.ndarray]:
    """f, bare variances and the flags of :func:`optimal_steering_grid`, per row."""
    n = table["E"].size
    out = {
        "f": np.full(n, np.nan),
        "bare_var_plus": np.full(n, np.nan),
        "bare_var_minus": np.full(n, np.nan),
        "C_plus_irrelevant": np.zeros(n, dtype=bool),
    }
    plus = np.asarray(table["direction"]) == "plus-given-minus"
    for name in dict.fromkeys(table["thermal"]):
        rows = np.flatnonzero(np.asarray(table["thermal"]) == name)
        m = rows.size
        tp, tm, Cp, Cm, eps = (
            np.asarray(table[k][rows], dtype=float)
            for k in ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")
        )
        # The optimum, and C_+ doubled and halved at the same angles.
        both = _steering_in_chunks(
            thermal_preset(name),
            np.tile(tp, 3),
            np.tile(tm, 3),
            np.concatenate([Cp, 2.0 * Cp, 0.5 * Cp]),
            np.tile(Cm, 3),
            np.tile(eps, 3),
        )
        for key in ("f", "bare_var_plus", "bare_var_minus"):
            out[key][rows] = both[key][:m]
        E_dir = np.where(np.tile(plus[rows], 3), both["E_plus_given_minus"], both["E_minus_given_plus"])
        E_dir = E_dir.reshape(3, m)
        with np.errstate(invalid="ignore"):
            flat = np.all(np.abs(E_dir[1:] - E_dir[0]) <= 1e-9 * np.abs(E_dir[0]), axis=0)
        out["C_plus_irrelevant"][rows] = flat & np.all(np.isfinite(E_dir), axis=0)
    E = np.asarray(table["E"], dtype=float)
    out["steers"] = E < STEERING_BOUND - STEERING_MARGIN
    Cp = np.asarray(table["C_plus"], dtype=float)
    out["C_plus_at_bound"] = (Cp >= upper * (1.0 - 1e-6)) | (Cp <= lower * (1.0 + 1e-6))
    return out


def optimal_grid_data(figure: str, params: Mapping[str, object], *, progress=None) -> dict:
    """The data dict of Figs. 4, 6 and 7 from their resolved parameters (``thermal_sets``,
    ``eps_values``, ``C_minus_range``, ``n_C``, ``n_starts``): every optimum of
    :func:`optimal_steering_grid` on the log grid of C_-, with grid sizes and
    :func:`optimal_grid_summary`.

    Returns:
        A dict with ``figure``, ``parameters``, ``grid``, ``thermal_sets``, ``eps_values``,
        ``C_minus`` (the grid), ``table`` (one row per optimum, angles in rad) and ``summary``.
    """
    C = log_grid(*(float(v) for v in params["C_minus_range"]), int(params["n_C"]))
    table = optimal_steering_grid(
        params["thermal_sets"],
        params["eps_values"],
        C,
        n_starts=params["n_starts"],
        progress=progress,
        figure=figure,
    )
    thermal_sets = list(dict.fromkeys(table["thermal"]))
    eps_values = list(dict.fromkeys(float(e) for e in table["eps"]))
    return {
        "figure": figure,
        "parameters": dict(params),
        "grid": {
            "C_minus": int(C.size),
            "thermal_sets": len(thermal_sets),
            "eps_values": len(eps_values),
            "couplings": 2,
            "directions": 2,
            "optima": int(table["E"].size),
        },
        "thermal_sets": thermal_sets,
        "eps_values": eps_values,
        "C_minus": C,
        "table": table,
        "summary": optimal_grid_summary(table),
    }


def table_rows(table: Mapping[str, np.ndarray], **where) -> dict[str, np.ndarray]:
    """The rows of a flat table whose columns equal the given values (e.g.
    ``thermal="hot", eps=0.2, coupling="asymmetric", direction="plus-given-minus"``), as a new
    table in the original order.

    Examples:
        >>> import numpy as np, steerjax as sj
        >>> t = {"a": np.array(["x", "y", "x"], dtype=object), "b": np.arange(3)}
        >>> sj.analysis.table_rows(t, a="x")["b"].tolist()
        [0, 2]
    """
    unknown = sorted(set(where) - set(table))
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise ValueError(f"table_rows: no column {names}; columns: {', '.join(table)}")
    mask = np.ones(len(next(iter(table.values()))), dtype=bool)
    for key, value in where.items():
        mask &= np.asarray(table[key]) == value
    return {k: np.asarray(v)[mask] for k, v in table.items()}


def _rounded_list(values, digits: int = 4) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=float)]


def _angle_jumps(C, theta_plus, theta_minus, threshold: float) -> list[dict]:
    """Places where an optimal angle jumps by more than ``threshold`` [rad] between neighbouring
    grid points (a switch between two local optima: a kink in E)."""
    jumps = []
    for i in range(len(C) - 1):
        d_plus = float(theta_plus[i + 1] - theta_plus[i])
        d_minus = float(theta_minus[i + 1] - theta_minus[i])
        if max(abs(d_plus), abs(d_minus)) > threshold:
            jumps.append(
                {
                    "C_minus_between": _rounded_list([C[i], C[i + 1]], 5),
                    "theta_plus_over_pi": _rounded_list(
                        [theta_plus[i] / math.pi, theta_plus[i + 1] / math.pi]
                    ),
                    "theta_minus_over_pi": _rounded_list(
                        [theta_minus[i] / math.pi, theta_minus[i + 1] / math.pi]
                    ),
                }
            )
    return jumps


def optimal_grid_summary(table: Mapping[str, np.ndarray], *, jump_threshold: float = 0.05 * math.pi) -> list:
    """Condensed results of :func:`optimal_steering_grid`, one dict per curve (thermal set, eps,
    coupling, direction), for a figure's JSON file.

    Each dict has the curve's identity, ``n``, ``n_steering``, ``steering_threshold_C_minus``
    (where the optimal E crosses 1/2 - :data:`STEERING_MARGIN`, interpolated on the grid in
    log C_-; empty if it never does), E, C_+/C_- and the angles (in units of pi) at the smallest
    and largest C_-, and the diagnostics: the C_- where the optimiser reported ``converged =
    False`` (with E and the gradient norm), how many optima sit at the stability edge, the C_-
    where C_+ is on its search bound or irrelevant, and jumps of the optimal angles by more than
    ``jump_threshold`` [rad] between neighbouring C_- (switches between local optima, which make
    kinks in E).
    """
    keys = ("thermal", "eps", "coupling", "direction")
    combos = list(dict.fromkeys(zip(*(np.asarray(table[k]).tolist() for k in keys), strict=True)))
    summary = []
    for thermal, eps, coupling, direction in combos:
        t = table_rows(table, thermal=thermal, eps=eps, coupling=coupling, direction=direction)
        C, E = t["C_minus"], t["E"]
        nc = ~t["converged"]
        ends = {}
        for label, i in (("at_C_minus_min", 0), ("at_C_minus_max", -1)):
            ends[label] = {
                "C_minus": float(C[i]),
                "E": float(E[i]),
                "E_plus_given_minus": float(t["E_plus_given_minus"][i]),
                "E_minus_given_plus": float(t["E_minus_given_plus"][i]),
                "C_plus_over_C_minus": float(t["C_plus_over_C_minus"][i]),
                "theta_plus_over_pi": float(t["theta_plus"][i] / math.pi),
                "theta_minus_over_pi": float(t["theta_minus"][i] / math.pi),
                "f": float(t["f"][i]),
            }
        summary.append(
            {
                "thermal": str(thermal),
                "eps": float(eps),
                "coupling": str(coupling),
                "direction": str(direction),
                "n": int(C.size),
                "n_steering": int(np.sum(t["steers"])),
                "steering_threshold_C_minus": [
                    c["x"] for c in interpolated_crossings(C, E, STEERING_BOUND - STEERING_MARGIN)
                ],
                **ends,
                "not_converged": {
                    "C_minus": _rounded_list(C[nc]),
                    "E": _rounded_list(E[nc], 6),
                    "grad_norm": _rounded_list(t["grad_norm"][nc], 3),
                },
                "n_at_stability_edge": int(np.sum(t["at_stability_edge"])),
                "n_steering_at_stability_edge": int(np.sum(t["at_stability_edge"] & t["steers"])),
                "C_plus_at_bound_C_minus": _rounded_list(C[t["C_plus_at_bound"]]),
                "n_steering_with_C_plus_at_bound": int(np.sum(t["C_plus_at_bound"] & t["steers"])),
                "C_plus_irrelevant_C_minus": _rounded_list(C[t["C_plus_irrelevant"]]),
                "angle_jumps": _angle_jumps(C, t["theta_plus"], t["theta_minus"], jump_threshold),
            }
        )
    return summary
