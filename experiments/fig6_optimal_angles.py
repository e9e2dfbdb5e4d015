"""Fig. 6 of the paper (Appendix A): the optimal interaction angles against C_-.

The optima are those of Fig. 4: E_{+|-} (dashed) or E_{-|+} (solid) minimised over theta_+,
theta_- and C_+ at fixed C_-, with asymmetric coupling (f != 0, thick: theta_+ plain, theta_-
with circles) or symmetric coupling (f = 0, thin: the common angle theta = theta_+ = theta_-).
Panels (a, b): the hot thermal set at eps = 0 and 0.2 (blue / red); (c, d): the vacuum server
(orange / black).  Angles are in units of pi; pi/4 is the QND interaction, pi/2 pure beam
splitter.

Where the optimal E is not below 1/2 the optimum gives no steering and its angles mean
little (several designs are almost equally bad, and the optimum may switch between them): those
parts are drawn pale.  Every asymmetric optimum with E < 1/2 lies at the client's stability
edge, theta_- a hair below pi/4 (gamma_- -> 0+), as the JSON file records.

Run on its own::

    python experiments/fig6_optimal_angles.py --out figures [--quick]

or through ``steerjax figures --only 6``.  Change a parameter from Python::

    data = compute(eps_values=(0.0, 0.5))   # any key of DEFAULTS: one column of panels per loss
    fig = plot(data)
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

import _harness as harness
import steerjax as sj
import steerjax.plotting as sjp

FIGURE = "fig6"
TITLE = "Optimal interaction angles theta_+, theta_- against C- (f = 0 and f != 0; hot and vacuum server)"

DEFAULTS: dict[str, object] = {
    "thermal_sets": ("hot", "vacuum-server"),  # presets of steerjax.thermal_preset: one row each
    "eps_values": (0.0, 0.2),  # transmission losses: one column each
    "C_minus_range": (1.0, 1000.0),  # client cooperativity (log axis)
    "n_C": 200,  # points in C_- (log spaced)
    "n_starts": 8,  # starts of the optimiser per optimum
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_C": 32}
"""Grid size of ``--quick``."""

FILES = ("png", "pdf", "optima.csv", "json")

PALE = 0.3
"""Strength of the colour (mixed with white) of the parts of a curve where the optimum does not
steer (E >= 1/2)."""

JUMP = 0.05
"""A change of an optimal angle by more than this (in units of pi) between neighbouring values
of C_- is a switch between two local optima: the curve gets a gap there."""


def _check(params: dict) -> None:
    """Range checks of the figure's own parameters (the optimiser checks the others)."""

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


def compute(quick: bool = False, *, progress=None, **overrides) -> dict:
    """The optima of Figs. 4, 6 and 7 (see :func:`steerjax.analysis.optimal_steering_grid`).

    Returns:
        A dict with ``parameters``, ``grid``, ``C_minus``, ``table`` (one row per optimum,
        angles in rad) and ``summary`` (per curve: :func:`steerjax.analysis.optimal_grid_summary`).
    """
    params = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults=QUICK)
    _check(params)
    return sj.analysis.optimal_grid_data(FIGURE, params, progress=progress)


def _plot_curve(ax, x, y, steers, angles, *, marker=None, markevery=None, zorder=2, **style) -> None:
    """A curve drawn pale everywhere (:func:`steerjax.plotting.pale`, beneath every full
    curve) and in full colour where the optimum steers, with a gap wherever one of the optimal
    ``angles`` (units of pi) jumps by more than :data:`JUMP` between neighbouring points."""
    faint = dict(style, color=sjp.pale(style["color"], PALE))
    ax.plot(*sjp.gaps_at_jumps(x, y, JUMP, by=angles), zorder=1, **faint)
    solid = np.where(steers, y, np.nan)
    ax.plot(
        *sjp.gaps_at_jumps(x, solid, JUMP, by=angles),
        marker=marker,
        markevery=markevery,
        ms=3.2,
        zorder=zorder,
        **style,
    )


def plot(data: dict):
    """Rows: thermal sets; columns: losses.  theta_+ and theta_- (units of pi) against C_-."""
    table, C = data["table"], data["C_minus"]
    thermal_sets, eps_values = data["thermal_sets"], data["eps_values"]
    nr, nc = len(thermal_sets), len(eps_values)
    fig, axes = sjp.new_figure(nr, nc, figsize=(5.2 * nc + 0.4, 3.7 * nr + 1.0))
    every = max(1, C.size // 12)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i, thermal in enumerate(thermal_sets):
        for j, eps in enumerate(eps_values):
            ax = axes[i, j]
            for level in (0.25, 0.5):
                ax.axhline(level, color="#999999", lw=0.6, ls=":", zorder=0)
            for coupling in ("symmetric", "asymmetric"):
                style = sjp.optimum_style(thermal, coupling)
                for direction in sj.DIRECTIONS:
                    t = sj.analysis.table_rows(
                        table, thermal=thermal, eps=eps, coupling=coupling, direction=direction
                    )
                    ls = sjp.DIRECTION_LINESTYLES[direction]
                    z = 3 if coupling == "asymmetric" else 2
                    angles = (t["theta_plus"] / math.pi, t["theta_minus"] / math.pi)
                    _plot_curve(ax, t["C_minus"], angles[0], t["steers"], angles, ls=ls, zorder=z, **style)
                    if coupling == "asymmetric":
                        _plot_curve(
                            ax,
                            t["C_minus"],
                            angles[1],
                            t["steers"],
                            angles,
                            ls=ls,
                            marker="o",
                            markevery=(every // 2 if direction == "minus-given-plus" else 0, every),
                            zorder=z,
                            **style,
                        )
            sjp.log_axis(ax, "x")
            ax.set_xlim(C[0], C[-1])
            ax.set_ylim(0.2, 0.53)
            ax.set_yticks([0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5])
            ax.set_xlabel(r"$C_-$")
            ax.set_ylabel(r"optimal $\theta_\pm / \pi$")
            ax.set_title(f"{sjp.THERMAL_LABELS.get(thermal, thermal)}, $\\epsilon = {eps:g}$", fontsize=10)
            sjp.panel_label(ax, f"({letters[i * nc + j]})")
    fig.legend(
        handles=sjp.optimum_color_handles(thermal_sets),
        loc="outside lower left",
        ncol=2,
        fontsize=8,
        frameon=False,
    )
    styles = sjp.direction_handles(bound=False) + [
        Line2D([], [], color="#333333", lw=1.4, label=r"$\theta_+$ ($f = 0$: $\theta_+ = \theta_-$)"),
        Line2D([], [], color="#333333", lw=1.4, marker="o", ms=3.2, label=r"$\theta_-$ ($f \neq 0$)"),
        Line2D([], [], color=sjp.pale("#333333", PALE), lw=1.4, label=r"pale: optimum has $E \geq 1/2$"),
    ]
    fig.legend(handles=styles, loc="outside lower right", ncol=3, fontsize=8, frameon=False)
    return fig


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 6 into ``out_dir``; returns the metadata (also written as
    ``fig6.json``).  Files: ``fig6.png``, ``fig6.pdf``, ``fig6_optima.csv`` (every optimum with
    its design and diagnostics; angles in rad) and ``fig6.json``."""
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
            "pale_where": "optimal E >= 1/2 - steering_margin (no steering)",
            "curves": data["summary"],
        },
        script=__file__,
        progress=progress,
        total=total,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
