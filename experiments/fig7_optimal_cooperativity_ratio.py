"""Fig. 7 of the paper (Appendix A): the optimal cooperativity ratio C_+/C_- against C_-.

The optima are those of Figs. 4 and 6: E_{+|-} (dashed) or E_{-|+} (solid) minimised over
theta_+, theta_- and C_+ at fixed C_-, with asymmetric coupling (f != 0, thick) or symmetric
coupling (f = 0, thin).  Panels (a, b): the hot thermal set at eps = 0 and 0.2 (blue / red);
(c, d): the vacuum server (orange / black).  The dotted line is C_+ = C_-.

C_+ is searched within C_+/C_- in [1e-3, 1e3].  Two kinds of points are left out, and listed
in the JSON file: where E does not depend on C_+ at all (symmetric coupling at theta = pi/2,
where E_{-|+} is the client's own variance and, for the vacuum server, E_{+|-} = 1/2 exactly --
the paper leaves these out too), and where the optimum sits on the search bound (C_+ would go
to 0 or infinity; this happens only where E >= 1/2).  Where the optimal E is not below 1/2 the
curves are pale; a gap marks a switch between two local optima.

Run on its own::

    python experiments/fig7_optimal_cooperativity_ratio.py --out figures [--quick]

or through ``steerjax figures --only 7``.  Change a parameter from Python::

    data = compute(thermal_sets=("hot",))   # any key of DEFAULTS
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

FIGURE = "fig7"
TITLE = "Optimal cooperativity ratio C+/C- against C- (f = 0 and f != 0; hot and vacuum server)"

DEFAULTS: dict[str, object] = {
    "thermal_sets": ("hot", "vacuum-server"),  # presets of steerjax.thermal_preset: one row each
    "eps_values": (0.0, 0.2),  # transmission losses: one column each
    "C_minus_range": (1.0, 1000.0),  # client cooperativity (log axis)
    "n_C": 200,  # points in C_- (log spaced)
    "n_starts": 8,  # starts of the optimiser per optimum
    "ratio_range": (0.1, 100.0),  # limits of the C_+/C_- axis (log scale)
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_C": 32}
"""Grid size of ``--quick``."""

FILES = ("png", "pdf", "optima.csv", "json")

PALE = 0.3
"""Strength of the colour (mixed with white) of the parts of a curve where the optimum does not
steer (E >= 1/2)."""

JUMP = 0.05 * math.pi
"""A change of an optimal angle by more than this [rad] between neighbouring values of C_- is a
switch between two local optima (as in Fig. 6): the curve gets a gap there."""


def _check(params: dict) -> None:
    """Range checks of the figure's own parameters (the optimiser checks the others)."""

    def bad(name, value, allowed):
        raise ValueError(f"{FIGURE}: {name} = {value!r} is outside the allowed range {allowed}")

    for name in ("C_minus_range", "ratio_range"):
        try:
            lo, hi = (float(v) for v in params[name])
        except (TypeError, ValueError):
            bad(name, params[name], "(lo, hi) with 0 < lo < hi")
        if not 0.0 < lo < hi < math.inf:
            bad(name, params[name], "(lo, hi) with 0 < lo < hi")
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


def _plot_curve(ax, x, y, steers, angles, *, zorder=2, **style) -> None:
    """A curve drawn pale everywhere (beneath every full curve) and in full colour where the
    optimum steers, with a gap wherever an optimal angle jumps by more than :data:`JUMP`."""
    faint = dict(style, color=sjp.pale(style["color"], PALE))
    ax.plot(*sjp.gaps_at_jumps(x, y, JUMP, by=angles), zorder=1, **faint)
    solid = np.where(steers, y, np.nan)
    ax.plot(*sjp.gaps_at_jumps(x, solid, JUMP, by=angles), zorder=zorder, **style)


def shown(t: dict) -> np.ndarray:
    """Which optima of a curve are drawn: those where C_+ matters and is not on its bound."""
    return ~t["C_plus_irrelevant"] & ~t["C_plus_at_bound"]


def plot(data: dict):
    """Rows: thermal sets; columns: losses.  C_+/C_- against C_- (log-log)."""
    table, C = data["table"], data["C_minus"]
    thermal_sets, eps_values = data["thermal_sets"], data["eps_values"]
    nr, nc = len(thermal_sets), len(eps_values)
    fig, axes = sjp.new_figure(nr, nc, figsize=(5.2 * nc + 0.4, 3.7 * nr + 1.0))
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i, thermal in enumerate(thermal_sets):
        for j, eps in enumerate(eps_values):
            ax = axes[i, j]
            ax.axhline(1.0, color="#999999", lw=0.7, ls=":", zorder=0)
            for coupling in ("symmetric", "asymmetric"):
                style = sjp.optimum_style(thermal, coupling)
                for direction in sj.DIRECTIONS:
                    t = sj.analysis.table_rows(
                        table, thermal=thermal, eps=eps, coupling=coupling, direction=direction
                    )
                    y = np.where(shown(t), t["C_plus_over_C_minus"], np.nan)
                    _plot_curve(
                        ax,
                        t["C_minus"],
                        y,
                        t["steers"],
                        (t["theta_plus"], t["theta_minus"]),
                        ls=sjp.DIRECTION_LINESTYLES[direction],
                        zorder=3 if coupling == "asymmetric" else 2,
                        **style,
                    )
            sjp.log_axis(ax, "x")
            sjp.log_axis(ax, "y", minor_labels=True)
            ax.set_xlim(C[0], C[-1])
            ax.set_ylim(*(float(v) for v in data["parameters"]["ratio_range"]))
            ax.set_xlabel(r"$C_-$")
            ax.set_ylabel(r"optimal $C_+/C_-$")
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
        Line2D([], [], color=sjp.pale("#333333", PALE), lw=1.4, label=r"pale: optimum has $E \geq 1/2$"),
        Line2D([], [], color="#999999", lw=0.7, ls=":", label=r"$C_+ = C_-$"),
    ]
    fig.legend(handles=styles, loc="outside lower right", ncol=2, fontsize=8, frameon=False)
    return fig


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 7 into ``out_dir``; returns the metadata (also written as
    ``fig7.json``).  Files: ``fig7.png``, ``fig7.pdf``, ``fig7_optima.csv`` (every optimum with
    its design and diagnostics) and ``fig7.json``."""
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
            "left_out": "C_plus_irrelevant (E independent of C_+) or C_plus_at_bound",
            "curves": data["summary"],
        },
        script=__file__,
        progress=progress,
        total=total,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
