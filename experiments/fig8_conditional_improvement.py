"""Fig. 8 of the paper (Sec. VI, Appendix B): how much the conditional scheme improves steering.

The joint output light, after the + subsystem and including the loss port, is measured by
homodyne detection (efficiency eta, default 1) and combined with the local measurements by the
optimal (Kalman-Bucy) filter.  For each client cooperativity C_- the optimal unconditional
steering parameter E_u* (theta_+-, C_+ optimised, asymmetric coupling f != 0) and the optimal
conditional one E_c* (theta_+-, C_+ and the local-oscillator phase optimised, each on its own;
see :func:`steerjax.conditional_improvement`) give the relative improvement

    d = (E_u* - E_c*) / E_u*,

plotted in percent for E_{+|-} (dashed) and E_{-|+} (solid), hot set (blue) and vacuum
server (orange), at eps = 0.  The thin dotted lines are the improvement at the unconditional
optimum (design kept, light measured at phase 0): a floor on d.  Where the unconditional
optimum does not steer (E_u* >= 1/2) the curves are pale.

Run on its own::

    python experiments/fig8_conditional_improvement.py --out figures [--quick]

or through ``steerjax figures --only 8``.  Change a parameter from Python::

    data = compute(efficiency=0.8)   # any key of DEFAULTS
    fig = plot(data)
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import jax
import numpy as np
from matplotlib.lines import Line2D

import _harness as harness
import steerjax as sj
import steerjax.plotting as sjp

FIGURE = "fig8"
TITLE = "Relative improvement d of optimal steering by the conditional scheme against C-"

DEFAULTS: dict[str, object] = {
    "thermal_sets": ("hot", "vacuum-server"),  # presets of steerjax.thermal_preset
    "eps": 0.0,  # transmission loss
    "efficiency": 1.0,  # homodyne detection efficiency eta
    "coupling": "asymmetric",  # f != 0 allowed
    "C_minus_range": (1.0, 1000.0),  # client cooperativity (log axis)
    "n_C": 30,  # points in C_- (log spaced)
    "n_starts": 8,  # starts of the unconditional optimiser
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_C": 5}
"""Grid size of ``--quick``."""

FILES = ("png", "pdf", "improvement.csv", "json")

PALE = 0.3
"""Colour strength (mixed with white) where the unconditional optimum does not steer."""


def _check(params: dict) -> None:
    """Range checks of the figure's own parameters (the library checks the physical ones)."""

    def bad(name, value, allowed):
        raise ValueError(f"{FIGURE}: {name} = {value!r} is outside the allowed range {allowed}")

    try:
        lo, hi = (float(v) for v in params["C_minus_range"])
    except (TypeError, ValueError):
        bad("C_minus_range", params["C_minus_range"], "(lo, hi) with 0 < lo < hi")
    if not 0.0 < lo < hi < math.inf:
        bad("C_minus_range", params["C_minus_range"], "(lo, hi) with 0 < lo < hi")
    if int(params["n_C"]) != params["n_C"] or int(params["n_C"]) < 2:
        bad("n_C", params["n_C"], "integers >= 2")
    if not 0.0 <= float(params["efficiency"]) <= 1.0:
        bad("efficiency", params["efficiency"], "[0, 1]")


def compute(quick: bool = False, *, progress=None, **overrides) -> dict:
    """E_u*, E_c* and d for every thermal set, direction and C_- of the grid.

    Returns:
        A dict with ``parameters``, ``grid``, ``C_minus``, ``table`` (one row per (thermal set,
        direction, C_-); angles in rad, phase in rad) and ``summary`` (largest d per curve).
    """
    params = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults=QUICK)
    _check(params)
    C = sj.log_grid(*(float(v) for v in params["C_minus_range"]), int(params["n_C"]))
    names = [str(t) for t in params["thermal_sets"]]
    thermal = sj.analysis.thermal_batch(names)
    thermal = jax.tree_util.tree_map(lambda x: np.asarray(x)[:, None], thermal)  # rows: sets
    C_grid = np.broadcast_to(C, (len(names), C.size))
    columns: dict[str, list] = {}
    total, done = 2 * len(names) * C.size, 0

    def solve(direction):
        return sj.conditional_improvement(
            thermal,
            C_grid,
            direction=direction,
            efficiency=float(params["efficiency"]),
            eps=float(params["eps"]),
            coupling=str(params["coupling"]),
            search=sj.SearchOptions(n_starts=int(params["n_starts"])),
        )

    # Both directions side by side, so that their compilations overlap (same results).
    results = sj.analysis.run_concurrently([functools.partial(solve, d) for d in sj.DIRECTIONS])
    for direction, res in zip(sj.DIRECTIONS, results, strict=True):
        u, c = res.unconditional, res.conditional
        rows = {
            "thermal": np.repeat(names, C.size),
            "direction": np.full(C_grid.size, direction),
            "C_minus": C_grid.ravel(),
            "E_u": res.E_u,
            "E_c": res.E_c,
            "d": res.d,
            "d_at_unconditional_design": res.d_at_unconditional_design,
            "lo_phase": c.lo_phase,
            "theta_plus_u": u.design.theta_plus,
            "theta_minus_u": u.design.theta_minus,
            "C_plus_u": u.design.C_plus,
            "theta_plus_c": c.design.theta_plus,
            "theta_minus_c": c.design.theta_minus,
            "C_plus_c": c.design.C_plus,
            "at_stability_edge_c": c.at_stability_edge,
            "converged_c": c.converged,
        }
        for k, v in rows.items():
            columns.setdefault(k, []).append(np.asarray(v).ravel())
        done += len(names) * C.size
        harness.report_progress(progress, done, total)
    table = {k: np.concatenate(v) for k, v in columns.items()}
    table["steers_u"] = table["E_u"] < sj.STEERING_BOUND - sj.analysis.STEERING_MARGIN
    summary = []
    for name in names:
        for direction in sj.DIRECTIONS:
            t = sj.analysis.table_rows(table, thermal=name, direction=direction)
            k = int(np.argmax(t["d"]))
            s = t["steers_u"]
            summary.append(
                {
                    "thermal": name,
                    "direction": direction,
                    "d_max": float(t["d"][k]),
                    "at_C_minus": float(t["C_minus"][k]),
                    "d_max_where_steering": float(np.max(t["d"][s])) if s.any() else None,
                    "d_min": float(np.min(t["d"])),
                    "lo_phase_over_pi": sorted({round(float(p) / math.pi, 6) for p in t["lo_phase"]}),
                }
            )
    return {
        "figure": FIGURE,
        "parameters": dict(params),
        "grid": {
            "C_minus": int(C.size),
            "thermal_sets": len(names),
            "directions": 2,
            "optima": 2 * int(table["d"].size),
        },
        "thermal_sets": names,
        "C_minus": C,
        "table": table,
        "summary": summary,
    }


def plot(data: dict):
    """d [%] against C_- (log-log), one panel."""
    table, C = data["table"], data["C_minus"]
    fig, axes = sjp.new_figure(1, 1, figsize=(6.2, 4.6))
    ax = axes[0, 0]
    coupling = str(data["parameters"]["coupling"])
    for thermal in data["thermal_sets"]:
        style = sjp.optimum_style(thermal, coupling)
        for direction in sj.DIRECTIONS:
            t = sj.analysis.table_rows(table, thermal=thermal, direction=direction)
            x, d, floor = t["C_minus"], 100 * t["d"], 100 * t["d_at_unconditional_design"]
            ls = sjp.DIRECTION_LINESTYLES[direction]
            ax.plot(x, d, ls=ls, zorder=1, **dict(style, color=sjp.pale(style["color"], PALE)))
            ax.plot(x, np.where(t["steers_u"], d, np.nan), ls=ls, zorder=3, **style)
            ax.plot(x, floor, ls=":", color=style["color"], lw=0.8, zorder=2)
    ax.axhline(1.0, color="#999999", lw=0.7, ls="--", zorder=0)
    sjp.log_axis(ax, "x")
    ax.set_yscale("log")
    ax.set_xlim(C[0], C[-1])
    ax.set_xlabel(r"$C_-$")
    ax.set_ylabel(r"$d = (E_u^* - E_c^*)/E_u^*$  [%]")
    eta = float(data["parameters"]["efficiency"])
    eps = float(data["parameters"]["eps"])
    ax.set_title(f"conditional improvement, $\\eta = {eta:g}$, $\\epsilon = {eps:g}$", fontsize=10)
    handles = [
        Line2D(
            [], [], lw=2.2, color=sjp.optimum_style(t, coupling)["color"], label=sjp.THERMAL_LABELS.get(t, t)
        )
        for t in data["thermal_sets"]
    ]
    handles += sjp.direction_handles(bound=False)
    handles += [
        Line2D([], [], color="#333333", lw=0.8, ls=":", label="at the unconditional optimum"),
        Line2D([], [], color=sjp.pale("#333333", PALE), lw=1.4, label=r"pale: $E_u^* \geq 1/2$"),
        Line2D([], [], color="#999999", lw=0.7, ls="--", label="d = 1 %"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return fig


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 8 into ``out_dir``; returns the metadata (also written as
    ``fig8.json``).  Files: ``fig8.png``, ``fig8.pdf``, ``fig8_improvement.csv`` (both optima
    per row, with designs and the optimal phase) and ``fig8.json``."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    data = compute(quick, progress=None if progress is None else lambda d, t: progress(d, t + 1), **overrides)
    t1 = time.perf_counter()
    fig = plot(data)
    files = sjp.save_figure(fig, out_dir, FIGURE)
    t2 = time.perf_counter()
    files.append(harness.save_table(out_dir, f"{FIGURE}_improvement", data["table"]))
    total = data["grid"]["optima"] // 2 + 1
    return harness.finish_run(
        out_dir,
        FIGURE,
        TITLE,
        parameters=data["parameters"],
        grid=data["grid"],
        quick=quick,
        times=(t0, t1, t2),
        files=files,
        results={
            "dtype": str(np.asarray(data["table"]["d"]).dtype),
            "lo_phase_starts_rad": list(sj.optim.CONDITIONAL_WARM_PHASES),
            "curves": data["summary"],
        },
        script=__file__,
        progress=progress,
        total=total,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
