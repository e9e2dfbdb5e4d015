"""Fig. 4 of the paper: optimal steering against the client's cooperativity C_- (Sec. V).

For every C_- the steering parameter of one direction, E_{+|-} (client steers server, dashed) or
E_{-|+} (server steers client, solid), is minimised over the server's cooperativity C_+ and the
interaction angles theta_+, theta_- -- independently (asymmetric coupling, f != 0: thick curves)
or tied, theta_+ = theta_- (symmetric coupling, f = 0: thin curves) -- for the hot thermal set
(blue / red) and the vacuum server (orange / black).  Panel (a): no transmission loss, (b):
eps = 0.2.  The steering bound E = 1/2 is dotted.

C_+ is searched within C_+/C_- in [1e-3, 1e3] (the library's default); where the optimum lies on
that bound (only where E >= 1/2), E is the bound's value, not an infimum over all C_+.  The
JSON file lists, per curve, where that happens, where the optimiser reported non-convergence,
where the optimal angles jump between branches, and the interpolated C_- at which the optimum
starts to steer.

Run on its own::

    python experiments/fig4_optimal_steering.py --out figures [--quick]

or through ``steerjax figures --only 4``.  Change a parameter from Python::

    data = compute(eps_values=(0.0, 0.1, 0.3))   # any key of DEFAULTS: one panel per loss
    fig = plot(data)
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from matplotlib.ticker import FuncFormatter

import _harness as harness
import steerjax as sj
import steerjax.plotting as sjp

FIGURE = "fig4"
TITLE = "Optimal E_{+|-} and E_{-|+} against C-, symmetric and asymmetric coupling, eps = 0 and 0.2"

DEFAULTS: dict[str, object] = {
    "thermal_sets": ("hot", "vacuum-server"),  # presets of steerjax.thermal_preset
    "eps_values": (0.0, 0.2),  # transmission losses, one panel each
    "C_minus_range": (1.0, 1000.0),  # client cooperativity (log axis)
    "n_C": 200,  # points in C_- (log spaced)
    "n_starts": 8,  # starts of the optimiser per optimum
    "E_range": (0.02, 2.0),  # limits of the E axis (log scale)
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_C": 32}
"""Grid size of ``--quick``."""

FILES = ("png", "pdf", "optima.csv", "json")


def _check(params: dict) -> None:
    """Range checks of the figure's own parameters (the optimiser checks the others)."""

    def bad(name, value, allowed):
        raise ValueError(f"{FIGURE}: {name} = {value!r} is outside the allowed range {allowed}")

    for name in ("C_minus_range", "E_range"):
        try:
            lo, hi = (float(v) for v in params[name])
        except (TypeError, ValueError):
            bad(name, params[name], "(lo, hi) with 0 < lo < hi")
        if not 0.0 < lo < hi < math.inf:
            bad(name, params[name], "(lo, hi) with 0 < lo < hi")
    if int(params["n_C"]) != params["n_C"] or int(params["n_C"]) < 2:
        bad("n_C", params["n_C"], "integers >= 2")


def compute(quick: bool = False, *, progress=None, **overrides) -> dict:
    """All optima of Fig. 4: both thermal sets x every loss x both couplings x both directions
    x ``n_C`` values of C_-.

    Args:
        quick: coarser grid (:data:`QUICK`).
        progress: optional callback ``progress(done, total)`` over the optima.
        **overrides: any key of :data:`DEFAULTS`.

    Returns:
        A dict with ``parameters``, ``grid``, ``C_minus`` (the grid), ``table`` (the flat table
        of :func:`steerjax.analysis.optimal_steering_grid`: one row per optimum) and
        ``summary`` (per curve: :func:`steerjax.analysis.optimal_grid_summary`).
    """
    params = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults=QUICK)
    _check(params)
    return sj.analysis.optimal_grid_data(FIGURE, params, progress=progress)


def plot(data: dict):
    """One panel per loss: the optimal E of both directions against C_- (log-log)."""
    params, table = data["parameters"], data["table"]
    eps_values, thermal_sets = data["eps_values"], data["thermal_sets"]
    n = len(eps_values)
    fig, axes = sjp.new_figure(1, n, figsize=(5.0 * n + 0.6, 4.9))
    C = data["C_minus"]
    for j, eps in enumerate(eps_values):
        ax = axes[0, j]
        ax.axhline(sj.STEERING_BOUND, color="#444444", lw=0.9, ls=":", zorder=1)
        for coupling in ("symmetric", "asymmetric"):  # thick curves on top
            for thermal in thermal_sets:
                for direction in sj.DIRECTIONS:
                    t = sj.analysis.table_rows(
                        table, thermal=thermal, eps=eps, coupling=coupling, direction=direction
                    )
                    ax.plot(
                        t["C_minus"],
                        t["E"],
                        ls=sjp.DIRECTION_LINESTYLES[direction],
                        zorder=3 if coupling == "asymmetric" else 2,
                        **sjp.optimum_style(thermal, coupling),
                    )
        sjp.log_axis(ax, "both")
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_E))
        ax.set_xlim(C[0], C[-1])
        ax.set_ylim(*(float(v) for v in params["E_range"]))
        ax.set_xlabel(r"$C_-$")
        ax.set_ylabel(r"optimal $E_{+|-}$, $E_{-|+}$")
        ax.set_title(rf"$\epsilon = {eps:g}$", fontsize=10)
        sjp.panel_label(ax, f"({'abcdefghijklmnopqrstuvwxyz'[j]})")
    fig.legend(
        handles=sjp.optimum_legend_handles(thermal_sets),
        loc="outside lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    return fig


def _minor_E(value: float, _pos=None) -> str:
    """Label the minor ticks 0.05, 0.2, 0.3, 0.5 of the E axis (0.5 is the steering bound)."""
    return f"{value:g}" if any(abs(value - m) < 1e-9 for m in (0.05, 0.2, 0.3, 0.5)) else ""


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 4 into ``out_dir``; returns the metadata (also written as
    ``fig4.json``).  Files: ``fig4.png``, ``fig4.pdf``, ``fig4_optima.csv`` (every optimum with
    its design and diagnostics, one row each) and ``fig4.json``."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    data = compute(quick, progress=None if progress is None else lambda d, t: progress(d, t + 1), **overrides)
    t1 = time.perf_counter()
    fig = plot(data)
    files = sjp.save_figure(fig, out_dir, FIGURE)
    t2 = time.perf_counter()
    files.append(harness.save_table(out_dir, f"{FIGURE}_optima", data["table"]))
    total = data["grid"]["optima"] + 1
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
            "dtype": str(np.asarray(data["table"]["E"]).dtype),
            "C_plus_ratio_bounds": [1e-3, 1e3],
            "steering_margin": sj.analysis.STEERING_MARGIN,
            "curves": data["summary"],
        },
        script=__file__,
        progress=progress,
        total=total,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
