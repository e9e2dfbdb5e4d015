"""``make bench``: steerjax's optimiser on the data of Fig. 4 against a numpy + scipy baseline.

Measures (issue 3, "Performance"; details and how to read the numbers: ``benchmarks/README.md``):

(a) the full data set of Fig. 4 -- 2 thermal sets x eps in {0, 0.2} x 2 couplings x 2 directions
    x 200 log-spaced C_- in [1, 1000] = 3,200 optima -- with :func:`steerjax.optimize` (default
    solver and starts), as four batched calls, timed after compilation;
(b) the optimiser a user would write without steerjax (``scipy_baseline.py``: the textbook
    closed form in numpy + ``scipy.optimize.minimize(method="L-BFGS-B")``, same number of
    starts, one point at a time) on a subset of the same optima, and the accuracy of both;
(c) the throughput of float64 evaluations of E (``jit(vmap(...))`` over random stable designs).

Prints a readable summary, then -- as its last line -- one JSON object, and writes both (plus
a per-point table of the baseline comparison) atomically to ``--out`` (default
``bench-results/``).  ``--quick`` runs small sizes (a smoke test; still compiles the four
optimiser programs).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# numpy's OpenBLAS busy-waits a second thread after every small BLAS call that scipy's L-BFGS-B
# makes; that burns a core without making the baseline faster (measured: same wall time, twice
# the CPU time), so keep it to one thread unless the caller says otherwise.
_USER_OPENBLAS_THREADS = os.environ.get("OPENBLAS_NUM_THREADS")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO_ROOT = Path(__file__).resolve().parents[1]

import jax  # noqa: E402

# This script is an entry point (like the ``steerjax`` command): switch JAX to float64 before
# steerjax creates any array.
jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import scipy  # noqa: E402

import steerjax as sj  # noqa: E402
from steerjax import _io  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scipy_baseline as baseline  # noqa: E402

THERMALS = ("hot", "vacuum-server")
EPSILONS = (0.0, 0.2)
COUPLINGS = ("asymmetric", "symmetric")
DIRECTIONS = ("plus-given-minus", "minus-given-plus")
C_RANGE = (1.0, 1000.0)
N_STARTS = 8  # steerjax's default, used by both optimisers
REFERENCE_TABLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "reference_optima.json"
TINY = 1e-9
"""An optimum counts as better than another only by more than this (E is O(0.1-1))."""

FULL = {
    "n_c": 200,
    "n_solver": 32,
    "reps": 5,
    "per_config": 4,
    "n_evals": 1_000_000,
    "eval_reps": 7,
    "first_answer_reps": 3,
}
QUICK = {
    "n_c": 8,
    "n_solver": 4,
    "reps": 2,
    "per_config": 1,
    "n_evals": 20_000,
    "eval_reps": 3,
    "first_answer_reps": 1,
}


# ---------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (None where the OS does not report them)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def environment() -> dict:
    devices = jax.devices()
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "backend": jax.default_backend(),
        "devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind,
        "n_devices": len(devices),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "jax_version": jax.__version__,
        "steerjax_version": sj.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "x64": bool(jax.config.jax_enable_x64),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def _json_default(obj):
    """numpy scalars and arrays in the report become plain JSON numbers and lists."""
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def _median(xs) -> float:
    return float(statistics.median(xs))


# ---------------------------------------------------------------------------------------------
# (a) Fig. 4 with steerjax
# ---------------------------------------------------------------------------------------------


def fig4_problems(C_grid: np.ndarray) -> dict[tuple[str, str], sj.Problem]:
    """One batched problem per (coupling, direction): thermal (2,1,1) x eps (1,2,1) x C_- (1,1,n)."""
    presets = [sj.thermal_preset(name) for name in THERMALS]
    fields = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")
    thermal = sj.Thermal(
        *(np.array([float(getattr(t, f)) for t in presets]).reshape(-1, 1, 1) for f in fields)
    )
    eps = np.array(EPSILONS).reshape(1, -1, 1)
    C_minus = np.asarray(C_grid).reshape(1, 1, -1)
    return {
        (coupling, direction): sj.Problem(thermal, C_minus, eps=eps, coupling=coupling, direction=direction)
        for coupling in COUPLINGS
        for direction in DIRECTIONS
    }


def solve_fig4(
    C_grid: np.ndarray, block_size: int | None, lanes: int | None = None, workers: int = 1
) -> dict[tuple[str, str], sj.OptimumResult]:
    """All optima of Fig. 4 (problems built inside: that is part of a user's cost).

    The four ``optimize`` calls are independent; ``workers`` of them run at a time, each in a
    thread (:func:`steerjax.analysis.run_concurrently`, as ``optimal_steering_grid`` and so the
    Fig. 4 script run them); ``workers = 1`` calls them one after the other.  The results are
    the same bytes either way.
    """
    problems = fig4_problems(C_grid)
    tasks = [
        functools.partial(sj.optimize, problem, n_starts=N_STARTS, block_size=block_size, lanes=lanes)
        for problem in problems.values()
    ]
    results = dict(zip(problems, sj.analysis.run_concurrently(tasks, workers), strict=True))
    return jax.block_until_ready(results)


def time_fig4(
    C_grid: np.ndarray, reps: int, block_size: int | None, lanes: int | None = None, workers: int = 1
):
    """First call (compiles) and ``reps`` steady-state calls; returns (results, timings)."""
    t0, c0 = time.perf_counter(), time.process_time()
    solve_fig4(C_grid, block_size, lanes, workers)
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    walls, cpus, results = [], [], None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        results = solve_fig4(C_grid, block_size, lanes, workers)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    med = _median(walls)
    return results, {
        "first_call_seconds": first,
        "first_call_cpu_seconds": first_cpu,
        "seconds_runs": walls,
        "cpu_seconds_runs": cpus,
        "seconds": med,
        "compile_seconds": max(0.0, first - med),
    }


def fig4_quality(results: dict) -> dict:
    converged = np.concatenate([np.ravel(r.converged) for r in results.values()])
    edge = np.concatenate([np.ravel(r.at_stability_edge) for r in results.values()])
    values = np.concatenate([np.ravel(r.value) for r in results.values()])
    return {
        "not_converged": int(np.sum(~converged)),
        "converged_fraction": float(np.mean(converged)),
        "at_stability_edge_fraction": float(np.mean(edge)),
        "all_finite": bool(np.all(np.isfinite(values))),
    }


# ---------------------------------------------------------------------------------------------
# (b) the numpy + scipy baseline on a subset
# ---------------------------------------------------------------------------------------------


def baseline_subset(n_c: int, per_config: int) -> list[dict]:
    """``per_config`` grid points for each of the 16 configurations, spread over the C_- grid.

    The ends C_- = 1 and 1000 are always included where ``per_config >= 2`` (the project's
    reference table has them); the interior points of the configurations interleave, so that
    together they cover the whole grid evenly.
    """
    points = []
    configs = [
        (it, ie, coupling, direction)
        for it in range(len(THERMALS))
        for ie in range(len(EPSILONS))
        for coupling in COUPLINGS
        for direction in DIRECTIONS
    ]
    for k, (it, ie, coupling, direction) in enumerate(configs):
        if per_config == 1:
            idx = [(k * 7) % n_c]
        else:
            inner = per_config - 2
            frac = ((k * 7) % len(configs) + 0.5) / len(configs)  # 7 is coprime to 16: a permutation
            idx = [0, *(1 + round((j + frac) / inner * (n_c - 3)) for j in range(inner)), n_c - 1]
        for i in idx:
            points.append(
                {
                    "thermal": THERMALS[it],
                    "eps": EPSILONS[ie],
                    "coupling": coupling,
                    "direction": direction,
                    "index": (it, ie, int(i)),
                }
            )
    return points


def run_baseline(points: list[dict], C_grid: np.ndarray) -> tuple[list, list[float], float]:
    """The baseline at every point, one at a time; returns (optima, wall times, cpu seconds)."""
    optima, walls = [], []
    c0 = time.process_time()
    for p in points:
        t0 = time.perf_counter()
        opt = baseline.optimize_point(
            baseline.THERMAL_SETS[p["thermal"]],
            float(C_grid[p["index"][2]]),
            p["eps"],
            p["coupling"],
            p["direction"],
            n_starts=N_STARTS,
        )
        walls.append(time.perf_counter() - t0)
        optima.append(opt)
    return optima, walls, time.process_time() - c0


def accurate_E(points: list[dict], optima: list, C_grid: np.ndarray) -> np.ndarray:
    """E of the optimised direction at each baseline design, evaluated with steerjax's
    cancellation-free closed form (accurate to ~1e-15 also at the stability edge)."""
    th = np.array([baseline.THERMAL_SETS[p["thermal"]] for p in points])
    thermal = sj.Thermal(*(th[:, j] for j in range(4)))
    design = sj.Design(
        theta_plus=np.array([o.theta_plus for o in optima]),
        theta_minus=np.array([o.theta_minus for o in optima]),
        C_plus=np.array([o.C_plus for o in optima]),
        C_minus=np.array([C_grid[p["index"][2]] for p in points]),
        eps=np.array([p["eps"] for p in points]),
    )
    res = sj.steering(thermal, design, on_invalid="nan")
    pm = np.array([p["direction"] == "plus-given-minus" for p in points])
    return np.where(pm, np.asarray(res.E_plus_given_minus), np.asarray(res.E_minus_given_plus))


def _quantiles(x: np.ndarray) -> dict:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"n": 0}
    q = np.quantile(x, [0.0, 0.1, 0.5, 0.9, 1.0])
    return {"n": int(x.size), "min": q[0], "p10": q[1], "median": q[2], "p90": q[3], "max": q[4]}


def compare_baseline(points, optima, E_true, results) -> tuple[dict, list[dict]]:
    """E_baseline - E_steerjax at every subset point (both judged by an accurate evaluation)."""
    rows = []
    for p, o, e in zip(points, optima, E_true, strict=True):
        r = results[(p["coupling"], p["direction"])]
        E_sj = float(np.asarray(r.value)[p["index"]])
        rows.append(
            {
                "thermal": p["thermal"],
                "eps": p["eps"],
                "coupling": p["coupling"],
                "direction": p["direction"],
                "C_minus": float(np.asarray(r.design.C_minus)[p["index"]]),
                "E_steerjax": E_sj,
                "E_baseline": float(e),
                "E_baseline_textbook": o.E,
                "baseline_minus_steerjax": float(e) - E_sj,
                "baseline_nfev": o.nfev,
                "baseline_converged": o.converged,
            }
        )
    diff = np.array([row["baseline_minus_steerjax"] for row in rows])
    self_err = np.array([row["E_baseline_textbook"] - row["E_baseline"] for row in rows])
    summary = {
        "baseline_minus_steerjax": _quantiles(diff),
        "n_steerjax_better_by_more_than_tiny": int(np.sum(diff > TINY)),
        "n_baseline_better_by_more_than_tiny": int(np.sum(diff < -TINY)),
        "tiny": TINY,
        "n_baseline_nan": int(np.sum(~np.isfinite(diff))),
        "baseline_textbook_self_error_abs": _quantiles(np.abs(self_err)),
        "baseline_converged_fraction": float(np.mean([o.converged for o in optima])),
        "baseline_nfev_mean": float(np.mean([o.nfev for o in optima])),
    }
    return summary, rows


def reference_check(results, rows, C_grid) -> dict | None:
    """Both optimisers against the project's independent reference optima (cached table of
    ``tests/reference_optimum.py``: textbook formula in extended precision, grid + scipy
    polishing, 50-digit re-evaluation), where its C_- values lie on the grid (C_- = 1, 1000)."""
    if not REFERENCE_TABLE.exists():
        return None
    ref_rows = json.loads(REFERENCE_TABLE.read_text())["rows"]
    sj_diff, sj_diff_steer, base_diff = [], [], []
    for ref in ref_rows:
        hits = np.flatnonzero(np.abs(C_grid - ref["C_minus"]) <= 1e-12 * ref["C_minus"])
        if hits.size == 0 or ref["thermal"] not in THERMALS or ref["eps"] not in EPSILONS:
            continue
        key = (ref["coupling"], ref["direction"])
        index = (THERMALS.index(ref["thermal"]), EPSILONS.index(ref["eps"]), int(hits[0]))
        d = float(np.asarray(results[key].value)[index]) - ref["E"]
        sj_diff.append(d)
        if ref["E"] < 0.5:
            sj_diff_steer.append(d)
        for row in rows:
            same = all(row[k] == ref[k] for k in ("thermal", "eps", "coupling", "direction"))
            if same and row["C_minus"] == float(C_grid[hits[0]]):
                base_diff.append(row["E_baseline"] - ref["E"])
    if not sj_diff:
        return None
    return {
        "table": str(REFERENCE_TABLE.relative_to(REFERENCE_TABLE.parent.parent.parent)),
        "steerjax_minus_reference": _quantiles(sj_diff),
        "steerjax_minus_reference_where_steering": _quantiles(sj_diff_steer),
        "baseline_minus_reference": _quantiles(base_diff),
    }


# ---------------------------------------------------------------------------------------------
# (c) throughput of E evaluations
# ---------------------------------------------------------------------------------------------


def random_stable_designs(n: int, seed: int = 0):
    """``n`` random stable designs of the two thermal sets (numpy arrays).

    Half hot, half vacuum-server; C_+- log-uniform in [1, 1000]; eps uniform in [0, 0.5]; each
    angle uniform in the upper 99% of its stable range (away from the edge, so that the
    textbook formula used as a sanity check is accurate there).
    """
    rng = np.random.default_rng(seed)
    hot = rng.uniform(size=n) < 0.5
    th = np.where(hot[:, None], baseline.THERMAL_SETS["hot"], baseline.THERMAL_SETS["vacuum-server"])
    C_plus, C_minus = 10.0 ** rng.uniform(0, 3, n), 10.0 ** rng.uniform(0, 3, n)

    def angle(C, nbar):
        y = C * (nbar + 0.5)
        lo = np.where(y > 1, 0.5 * np.arccos(np.minimum(1.0, 1.0 / y)), 0.0)
        return lo + (np.pi / 2 - lo) * rng.uniform(0.01, 1.0, n)

    return {
        "thermal": tuple(th[:, j] for j in range(4)),
        "theta_plus": angle(C_plus, th[:, 1]),
        "theta_minus": angle(C_minus, th[:, 3]),
        "C_plus": C_plus,
        "C_minus": C_minus,
        "eps": rng.uniform(0, 0.5, n),
    }


@jax.jit
def _E_closed_form(thermal: sj.Thermal, design: sj.Design):
    """Both E of every design, with the vectorised sines and cosines (``fast_trig=True``)."""
    return jax.vmap(lambda t, d: sj.model.steering_from_rates(sj.cascade_rates(t, d, fast_trig=True)))(
        thermal, design
    )


@jax.jit
def _E_closed_form_default(thermal: sj.Thermal, design: sj.Design):
    """The same with the default ``fast_trig=False`` (XLA's sin and cos)."""
    return jax.vmap(lambda t, d: sj.model.steering_from_rates(sj.cascade_rates(t, d)))(thermal, design)


@jax.jit
def _E_full_result(thermal: sj.Thermal, design: sj.Design):
    return jax.vmap(lambda t, d: sj.steering(t, d, on_invalid="nan"))(thermal, design)


def _time_calls(fn, args, reps: int) -> dict:
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    walls = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        walls.append(time.perf_counter() - t0)
    med = _median(walls)
    return {"out": out, "seconds": med, "seconds_runs": walls, "compile_seconds": max(0.0, first - med)}


def throughput(n: int, reps: int) -> dict:
    d = random_stable_designs(n)
    thermal = jax.device_put(sj.Thermal(*d["thermal"]))
    design = jax.device_put(
        sj.Design(
            theta_plus=d["theta_plus"],
            theta_minus=d["theta_minus"],
            C_plus=d["C_plus"],
            C_minus=d["C_minus"],
            eps=d["eps"],
            phi=np.zeros(n),
        )
    )
    closed = _time_calls(_E_closed_form, (thermal, design), reps)
    full = _time_calls(_E_full_result, (thermal, design), reps)
    default = _time_calls(_E_closed_form_default, (thermal, design), reps)
    walls = []
    for _ in range(max(1, reps // 2)):
        t0 = time.perf_counter()
        E_np = baseline.textbook_E(
            d["theta_plus"], d["theta_minus"], d["C_plus"], d["C_minus"], d["eps"], d["thermal"]
        )
        walls.append(time.perf_counter() - t0)
    E_sj = [np.asarray(x) for x in closed["out"]]
    rel = max(float(np.max(np.abs(a / b - 1.0))) for a, b in zip(E_sj, E_np, strict=True))
    return {
        "n": n,
        "seconds": closed["seconds"],
        "seconds_runs": closed["seconds_runs"],
        "compile_seconds": closed["compile_seconds"],
        "evals_per_second": n / closed["seconds"],
        "evals_per_second_full_result": n / full["seconds"],
        "evals_per_second_default_trig": n / default["seconds"],
        "numpy_textbook_evals_per_second": n / _median(walls),
        "all_finite": bool(all(np.all(np.isfinite(x)) for x in E_sj)),
        "max_rel_diff_vs_numpy_textbook": rel,
    }


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def solver_comparison(n_problems: int, reps: int) -> dict:
    """Every solver on the same Fig. 4 problems (hot set, eps = 0, asymmetric, E_+|-, n_problems
    log-spaced C_- in [1, 1000], default starts), each timed after its compilation: seconds
    per call (best of ``reps``), the ratio to :class:`ProjectedNewton` and the largest relative
    difference of the optima from its values."""
    problem = sj.Problem(sj.thermal_preset("hot"), sj.log_grid(*C_RANGE, n_problems))
    out = {"n_problems": n_problems}
    reference = None
    for name, solver in (
        ("ProjectedNewton", sj.ProjectedNewton()),
        ("LBFGS", sj.LBFGS()),
        ("LBFGS_zoom", sj.LBFGS(linesearch="zoom")),
        ("Adam", sj.Adam()),
    ):
        jax.block_until_ready(sj.optimize(problem, solver=solver).value)  # compile
        runs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            res = sj.optimize(problem, solver=solver)
            jax.block_until_ready(res.value)
            runs.append(time.perf_counter() - t0)
        value = np.asarray(res.value)
        reference = value if reference is None else reference
        out[name] = {
            "seconds": min(runs),
            "ratio_to_newton": min(runs) / out["ProjectedNewton"]["seconds"]
            if "ProjectedNewton" in out
            else 1.0,
            "max_rel_diff_from_newton": float(np.max(np.abs(value / reference - 1.0))),
            "mean_steps_of_winning_start": float(np.mean(np.asarray(res.steps))),
        }
    return out


def robust_cost(n_problems: int, reps: int, delta: float = 1e-3) -> dict:
    """Seconds per optimum of a phase-robust problem (``phase_tolerance=delta`` rad; issue 11)
    against the nominal problem, both for the same batch (hot set, eps = 0, asymmetric, E_+|-,
    n_problems log-spaced C_- in [1, 1000], default starts), timed after compilation."""
    C = sj.log_grid(*C_RANGE, n_problems)
    hot = sj.thermal_preset("hot")
    out = {"n_problems": n_problems, "phase_tolerance_rad": delta}
    for name, problem in (
        ("nominal", sj.Problem(hot, C)),
        ("robust", sj.Problem(hot, C, phase_tolerance=delta)),
    ):
        t0 = time.perf_counter()
        jax.block_until_ready(sj.optimize(problem).value)
        first = time.perf_counter() - t0
        runs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            res = sj.optimize(problem)
            jax.block_until_ready(res.value)
            runs.append(time.perf_counter() - t0)
        out[name] = {
            "seconds": min(runs),
            "first_call_seconds": first,
            "seconds_per_optimum": min(runs) / n_problems,
        }
    out["ratio"] = out["robust"]["seconds"] / out["nominal"]["seconds"]
    return out


def pareto_cost(n_points: int, reps: int) -> dict:
    """Seconds of a whole :func:`steerjax.pareto_front` (hot set, C_- = 10, eps = 0, n_points
    per front: Pareto and asymmetry, with both single-direction optima) after compilation."""
    hot = sj.thermal_preset("hot")
    t0 = time.perf_counter()
    jax.block_until_ready(sj.pareto_front(hot, 10.0, 0.0, n_points))
    first = time.perf_counter() - t0
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(sj.pareto_front(hot, 10.0, 0.0, n_points))
        runs.append(time.perf_counter() - t0)
    return {"n_points": n_points, "seconds": min(runs), "seconds_runs": runs, "first_call_seconds": first}


FIRST_ANSWER_COMMANDS = {
    "optimize": ["optimize", "--thermal", "hot", "--c-minus", "10", "--quiet"],
    "evaluate": [
        "evaluate",
        "--thermal",
        "hot",
        "--c-minus",
        "10",
        "--c-plus",
        "17.7",
        "--theta-plus",
        "0.415pi",
        "--theta-minus",
        "0.2501pi",
    ],
    "conditional": ["optimize", "--thermal", "hot", "--c-minus", "10", "--conditional", "--quiet"],
}
"""The commands of issue 13's time-to-first-answer targets (run as a newcomer would)."""


def _console_script() -> list[str]:
    """The installed ``steerjax`` command next to this interpreter (else ``python -c``)."""
    script = Path(sys.executable).with_name("steerjax")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from _steerjax_cli import main; sys.exit(main())"]


def _wall(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def first_answer(reps: int, conditional: bool = True) -> dict:
    """Wall seconds from starting a fresh process to its answer (issue 13's targets).

    ``import_seconds``: ``python -c "import steerjax"``.  ``cli_optimize_cold_seconds``: the
    command with an empty compilation cache (a new ``STEERJAX_CACHE_DIR``); ``..._warm_seconds``
    the same command again with that cache filled; ``cli_evaluate_seconds``: one design, warm
    cache; ``cli_conditional_cold_seconds``: one conditional optimum, empty cache.  Each is the
    median of ``reps`` runs (the conditional one runs once: ~30 s).
    """
    cli = _console_script()
    out: dict = {"commands": {k: "steerjax " + " ".join(v) for k, v in FIRST_ANSWER_COMMANDS.items()}}
    base_env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR",)}
    out["import_seconds"] = _median(
        [_wall([sys.executable, "-c", "import steerjax"], base_env) for _ in range(reps)]
    )
    cold, warm, evaluate = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(reps):
            env = dict(base_env, STEERJAX_CACHE_DIR=os.path.join(tmp, f"cache{k}"))
            cold.append(_wall(cli + FIRST_ANSWER_COMMANDS["optimize"], env))
            warm.append(_wall(cli + FIRST_ANSWER_COMMANDS["optimize"], env))
            if k == 0:  # evaluate's own programs into the cache first
                _wall(cli + FIRST_ANSWER_COMMANDS["evaluate"], env)
            evaluate.append(_wall(cli + FIRST_ANSWER_COMMANDS["evaluate"], env))
        if conditional:
            env = dict(base_env, STEERJAX_CACHE_DIR=os.path.join(tmp, "conditional"))
            out["cli_conditional_cold_seconds"] = _wall(cli + FIRST_ANSWER_COMMANDS["conditional"], env)
    out.update(
        cli_optimize_cold_seconds=_median(cold),
        cli_optimize_warm_seconds=_median(warm),
        cli_evaluate_seconds=_median(evaluate),
        cold_runs=cold,
        warm_runs=warm,
        evaluate_runs=evaluate,
    )
    return out


def figures_time() -> dict:
    """Wall seconds of ``steerjax figures`` (Figs. 2-11, data, PNGs and PDFs) in a fresh process
    with an empty compilation cache and program store, as ``make figures`` runs on a fresh clone
    once it is installed (issue 13's target: <= 45 s).  Run from the repository root, so the
    command finds ``experiments/`` as it does for ``make figures``; the output goes to a
    temporary folder.  A failed run (some figure failed: exit status 1) gives ``seconds = None``
    and its exit status, so that the rest of the benchmark is still written."""
    cli = _console_script()
    base_env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR",)}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(base_env, STEERJAX_CACHE_DIR=os.path.join(tmp, "cache"))
        if _USER_OPENBLAS_THREADS is None:  # the figures run as a user's command would
            env.pop("OPENBLAS_NUM_THREADS", None)
        cmd = [*cli, "figures", "--quiet", "--out", os.path.join(tmp, "figures")]
        t0 = time.perf_counter()
        status = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, cwd=REPO_ROOT).returncode
        seconds = time.perf_counter() - t0
    return {
        "command": "steerjax figures --quiet --out <empty folder>",
        "seconds": seconds if status == 0 else None,
        "exit_status": status,
    }


def _fmt_q(q: dict, fmt: str = "{:+.2e}") -> str:
    if not q.get("n"):
        return "n = 0"
    return "  ".join(f"{k} {fmt.format(q[k])}" for k in ("min", "median", "p90", "max")) + f"  (n = {q['n']})"


def summary_text(r: dict) -> str:
    env = r["environment"]
    acc = r["accuracy"]
    lines = [
        "steerjax benchmark" + ("  [--quick: small sizes, not the benchmark]" if r["quick"] else ""),
        f"  machine: {env['backend']} ({env['device_kind']}, {env['n_devices']} device(s)), "
        f"{env['cpu_count']} CPUs, load average at start {r['load_average_start']}, "
        f"at end {r['load_average_end']}",
        f"  jax {env['jax_version']}, steerjax {env['steerjax_version']}, scipy {env['scipy_version']}, "
        f"x64 {env['x64']}",
        "",
        f"(a) Fig. 4 data set: {r['fig4_optima']} optima (ProjectedNewton, {r['n_starts']} starts, "
        f"4 batched optimize calls, {r['fig4_workers']} at a time)",
        f"    steady state: {r['fig4_seconds']:.3f} s (median of {len(r['fig4_seconds_runs'])}: "
        + ", ".join(f"{x:.3f}" for x in r["fig4_seconds_runs"])
        + f"), {1e3 * r['steerjax_seconds_per_optimum']:.3f} ms per optimum, "
        f"{r['fig4_cpu_over_wall']:.2f} CPU-s per wall-s",
        f"    compilation: {r['compile_seconds']:.1f} s (first call {r['fig4_first_call_seconds']:.1f} s "
        "minus steady state)",
        f"    converged {100 * r['fig4_converged_fraction']:.1f}% ({r['fig4_not_converged']} not), "
        f"at the stability edge "
        f"{100 * r['fig4_at_stability_edge_fraction']:.1f}%",
        "",
        f"(b) numpy + scipy L-BFGS-B baseline, {r['scipy_subset_size']} of those optima one by one "
        f"({r['n_starts']} starts each):",
        f"    {r['scipy_seconds_per_optimum']:.4f} s per optimum (median point "
        f"{r['scipy_median_seconds_per_optimum']:.4f} s; total {r['scipy_seconds']:.1f} s, "
        f"{r['scipy_cpu_over_wall']:.2f} CPU-s per wall-s)",
        f"    speedup steerjax vs baseline: {r['speedup']:.0f}x per optimum"
        + (
            f"; with compilation, steerjax is ahead from {r['break_even_optima']:.0f} optima on"
            if r["break_even_optima"] is not None
            else ""
        ),
        "    E_baseline - E_steerjax (accurate E at each returned design): "
        + _fmt_q(acc["baseline_minus_steerjax"]),
        f"    steerjax better by > {TINY:g}: {acc['n_steerjax_better_by_more_than_tiny']}, "
        f"baseline better by > {TINY:g}: {acc['n_baseline_better_by_more_than_tiny']}",
        f"    |textbook E - accurate E| at the baseline's designs: "
        f"{_fmt_q(acc['baseline_textbook_self_error_abs'], '{:.1e}')}",
    ]
    ref = r.get("reference")
    if ref:
        lines += [
            f"    vs reference optima ({ref['table']}, C_- in {{1, 1000}}):",
            f"      steerjax - reference: {_fmt_q(ref['steerjax_minus_reference'])}",
            f"      baseline - reference: {_fmt_q(ref['baseline_minus_reference'])}",
        ]
    t = r["throughput"]
    lines += [
        "",
        f"(c) float64 E evaluations (jit(vmap(steering_from_rates(cascade_rates(..., "
        f"fast_trig=True)))), {t['n']:,} random stable designs):",
        f"    {r['evals_per_second']:.3e} designs/s (both directions each; median of "
        f"{len(t['seconds_runs'])} runs, {t['seconds']:.4f} s); default fast_trig=False "
        f"{t['evals_per_second_default_trig']:.3e}/s; full SteeringResult with checks "
        f"{t['evals_per_second_full_result']:.3e}/s; vectorised numpy textbook "
        f"{t['numpy_textbook_evals_per_second']:.3e}/s",
        f"    sanity: all finite {t['all_finite']}, max relative difference vs numpy textbook "
        f"{t['max_rel_diff_vs_numpy_textbook']:.1e}",
        "",
        f"(d) solvers on the same {r['solvers']['n_problems']} Fig. 4 problems (one search pool "
        "for all; seconds per call after compilation):",
        *(
            f"    {name:16s} {s['seconds']:.4f} s  {s['ratio_to_newton']:6.1f}x  "
            f"max rel. diff. {s['max_rel_diff_from_newton']:.1e}  "
            f"mean steps {s['mean_steps_of_winning_start']:.0f}"
            for name, s in r["solvers"].items()
            if name != "n_problems"
        ),
        "",
        f"(e) phase-robust optima (phase_tolerance = {r['robust']['phase_tolerance_rad']:g} rad) on the same "
        f"{r['robust']['n_problems']} problems:",
        f"    {1e3 * r['robust']['robust']['seconds_per_optimum']:.2f} ms per optimum against "
        f"{1e3 * r['robust']['nominal']['seconds_per_optimum']:.2f} ms nominal "
        f"({r['robust_over_nominal']:.0f}x; "
        f"first call {r['robust']['robust']['first_call_seconds']:.1f} s with compilation)",
        "",
        f"(g) time to first answer (fresh processes; median of {len(r['first_answer']['cold_runs'])}):",
        f"    import steerjax {r['first_answer']['import_seconds']:.2f} s; "
        f"steerjax optimize (hot, C_- = 10) {r['cli_optimize_cold_seconds']:.2f} s with an empty "
        f"compilation cache, {r['cli_optimize_warm_seconds']:.2f} s warm; steerjax evaluate (one "
        f"design) {r['cli_evaluate_seconds']:.2f} s"
        + (
            "; one conditional optimum, empty cache, "
            f"{r['first_answer']['cli_conditional_cold_seconds']:.1f} s"
            if "cli_conditional_cold_seconds" in r["first_answer"]
            else ""
        ),
        *(
            [
                "",
                f"(h) {r['figures']['command']}, empty caches: "
                + (
                    f"{r['figures_seconds']:.1f} s"
                    if r["figures_seconds"] is not None
                    else f"failed (exit status {r['figures']['exit_status']})"
                ),
            ]
            if r.get("figures")
            else []
        ),
        "",
        f"total {r['total_seconds']:.1f} s",
    ]
    if r["warnings"]:
        lines += ["", *("WARNING: " + w for w in r["warnings"])]
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--out", default="bench-results", help="output folder (default bench-results)")
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions of the Fig. 4 run")
    parser.add_argument(
        "--block-size", type=int, default=None, help="steerjax block size (default: library's)"
    )
    parser.add_argument(
        "--lanes", type=int, default=None, help="steerjax searches in flight per block (default: library's)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Fig. 4 optimize calls at a time, in threads (default: one per CPU core, as "
        "optimal_steering_grid runs them; 1: one after the other)",
    )
    args = parser.parse_args(argv)
    if args.reps is not None and args.reps < 1:
        parser.error(f"--reps = {args.reps} is outside the allowed range [1, inf)")
    if args.block_size is not None and args.block_size < 1:
        parser.error(f"--block-size = {args.block_size} is outside the allowed range [1, inf)")
    if args.lanes is not None and args.lanes < 1:
        parser.error(f"--lanes = {args.lanes} is outside the allowed range [1, inf)")
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers = {args.workers} is outside the allowed range [1, inf)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    if args.reps is not None:
        sizes["reps"] = args.reps
    t_start = time.perf_counter()
    load_start = load_average()
    env = environment()
    C_grid = sj.log_grid(*C_RANGE, sizes["n_c"])

    print(f"(a) Fig. 4 with steerjax ({16 * sizes['n_c']} optima; compiling 4 programs) ...", flush=True)
    workers = args.workers or sj.analysis.default_workers(len(COUPLINGS) * len(DIRECTIONS))
    results, fig4 = time_fig4(C_grid, sizes["reps"], args.block_size, args.lanes, workers)
    quality = fig4_quality(results)
    n_optima = sum(int(np.size(r.value)) for r in results.values())

    points = baseline_subset(sizes["n_c"], sizes["per_config"])
    load_baseline = load_average()
    print(f"(b) scipy baseline on {len(points)} optima ...", flush=True)
    optima, walls, scipy_cpu = run_baseline(points, C_grid)
    E_true = accurate_E(points, optima, C_grid)
    accuracy, rows = compare_baseline(points, optima, E_true, results)
    reference = reference_check(results, rows, C_grid)

    print(f"(c) throughput on {sizes['n_evals']:,} designs ...", flush=True)
    tp = throughput(sizes["n_evals"], sizes["eval_reps"])

    print(f"(d) solvers on {sizes['n_solver']} Fig. 4 problems ...", flush=True)
    solvers = solver_comparison(sizes["n_solver"], sizes["reps"])
    print(f"(e) phase-robust optima on {sizes['n_solver']} Fig. 4 problems ...", flush=True)
    robust = robust_cost(sizes["n_solver"], sizes["reps"])
    print("(f) Pareto and asymmetry fronts, 41 points each ...", flush=True)
    pareto = pareto_cost(41, sizes["reps"])
    print("(g) time to first answer (fresh processes) ...", flush=True)
    first = first_answer(sizes["first_answer_reps"], conditional=not args.quick)
    figures = None
    if not args.quick:
        print("(h) steerjax figures, empty caches (fresh process) ...", flush=True)
        figures = figures_time()

    steerjax_per = fig4["seconds"] / n_optima
    scipy_total = float(sum(walls))
    scipy_per = scipy_total / len(points)
    med_idx = int(np.argsort(fig4["seconds_runs"])[len(fig4["seconds_runs"]) // 2])
    warnings = []
    if accuracy["n_baseline_better_by_more_than_tiny"]:
        warnings.append(
            f"the baseline found a lower E than steerjax at "
            f"{accuracy['n_baseline_better_by_more_than_tiny']} point(s) (see baseline_points.csv)"
        )
    if not quality["all_finite"] or not tp["all_finite"]:
        warnings.append("non-finite values in the steerjax results")
    if figures is not None and figures["exit_status"] != 0:
        warnings.append(f"steerjax figures failed (exit status {figures['exit_status']}): no figures_seconds")
    if load_start and env["cpu_count"] and load_start[0] > 0.5:
        warnings.append(
            f"the machine was not idle at the start (1-min load average {load_start[0]} on "
            f"{env['cpu_count']} CPUs): timings are noisy"
        )
    report = {
        "fig4_optima": n_optima,
        "fig4_seconds": fig4["seconds"],
        "compile_seconds": fig4["compile_seconds"],
        "steerjax_seconds_per_optimum": steerjax_per,
        "scipy_seconds_per_optimum": scipy_per,
        "speedup": scipy_per / steerjax_per,
        "evals_per_second": tp["evals_per_second"],
        "break_even_optima": fig4["compile_seconds"] / (scipy_per - steerjax_per)
        if scipy_per > steerjax_per
        else None,
        "quick": bool(args.quick),
        "backend": env["backend"],
        "device_kind": env["device_kind"],
        "n_devices": env["n_devices"],
        "cpu_count": env["cpu_count"],
        "jax_version": env["jax_version"],
        "load_average_start": load_start,
        "load_average_before_baseline": load_baseline,
        "load_average_end": load_average(),
        "n_starts": N_STARTS,
        "solver": "ProjectedNewton",
        "block_size": args.block_size or sj.optim.default_block_size(jax.devices()[0]),
        "lanes": args.lanes or sj.optim.default_lanes(jax.devices()[0]),
        "fig4_workers": workers,
        "fig4_seconds_runs": fig4["seconds_runs"],
        "fig4_first_call_seconds": fig4["first_call_seconds"],
        "fig4_cpu_over_wall": fig4["cpu_seconds_runs"][med_idx] / fig4["seconds_runs"][med_idx],
        "compile_method": "first call minus the median steady-state call (4 programs)",
        "fig4_converged_fraction": quality["converged_fraction"],
        "fig4_not_converged": quality["not_converged"],
        "fig4_at_stability_edge_fraction": quality["at_stability_edge_fraction"],
        "scipy_subset_size": len(points),
        "scipy_seconds": scipy_total,
        "scipy_median_seconds_per_optimum": _median(walls),
        "scipy_cpu_over_wall": scipy_cpu / scipy_total,
        "scipy_method": "L-BFGS-B, finite-difference gradients, options "
        + json.dumps(baseline.SCIPY_OPTIONS)
        + f", angles kept {baseline.THETA_MARGIN:g} rad from the stability edge",
        "steerjax_at_least_as_accurate": accuracy["n_baseline_better_by_more_than_tiny"] == 0,
        "accuracy": accuracy,
        "reference": reference,
        "throughput": tp,
        "solvers": solvers,
        "lbfgs_over_newton": solvers["LBFGS"]["ratio_to_newton"],
        "robust": robust,
        "robust_seconds_per_optimum": robust["robust"]["seconds_per_optimum"],
        "robust_over_nominal": robust["ratio"],
        "pareto": pareto,
        "pareto_seconds": pareto["seconds"],
        "first_answer": first,
        "cli_optimize_cold_seconds": first["cli_optimize_cold_seconds"],
        "cli_optimize_warm_seconds": first["cli_optimize_warm_seconds"],
        "cli_evaluate_seconds": first["cli_evaluate_seconds"],
        "cli_conditional_cold_seconds": first.get("cli_conditional_cold_seconds"),
        "figures_seconds": None if figures is None else figures["seconds"],
        "figures": figures,
        "environment": env,
        "total_seconds": time.perf_counter() - t_start,
        "timestamp_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "warnings": warnings,
    }
    text = summary_text(report)
    out = Path(args.out)
    _io.write_csv(out / "baseline_points.csv", rows=rows, fieldnames=list(rows[0]))
    _io.write_json(out / "bench.json", report)
    _io.atomic_write_text(out / "summary.txt", text)
    print()
    print(text, end="")
    print(f"(written to {out}/bench.json, summary.txt, baseline_points.csv)")
    print(json.dumps(report, default=_json_default))
    return 0


if __name__ == "__main__":
    sys.exit(main())
