"""Fig. 5 of the paper: optimal client => server steering against the transmission loss (Sec. V).

For C_- = 2 (solid), 10 (dashed) and 100 (dash-dotted), E_{+|-} is minimised over theta_+,
theta_- and C_+ (asymmetric coupling) at each loss eps, for the hot thermal set (blue) and the
vacuum server (orange).  The largest loss that still allows steering, eps_max, comes from
:func:`steerjax.loss_tolerance` (bisection on the optimised E) and is marked by a circle.

Panel (a) is the paper's view, E_{+|-} against eps on a linear axis.  Everything interesting
for C_- >= 10 happens within a few per cent of eps = 1 (eps_max is close to 1 - 1/C_-), so
panel (b) shows the same optima as the steering margin 1/2 - E_{+|-} against the transmitted
fraction 1 - eps, both on log axes (loss grows to the right): there the vacuum server's margin
falls like (1 - eps) and stays positive for every eps < 1, while the hot curves drop to zero at
1 - eps_max.  The eps grid is linear on [0, 0.9] and log-spaced in 1 - eps above.

C_+ is searched within C_+/C_- in [1e-3, 1e3] (the library's default).  For the hot set the
optimal C_+/C_- grows without limit as eps -> eps_max, so eps_max depends (slightly) on that
bound; the JSON file also gives eps_max with C_+/C_- up to ``wide_C_plus_ratio_max``.

Run on its own::

    python experiments/fig5_loss_tolerance.py --out figures [--quick]

or through ``steerjax figures --only 5``.  Change a parameter from Python::

    data = compute(C_minus_cases=(3.0, 30.0))   # any key of DEFAULTS
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

FIGURE = "fig5"
TITLE = "Optimal E_{+|-} against the transmission loss eps for C- = 2, 10, 100, with eps_max"

DEFAULTS: dict[str, object] = {
    "thermal_sets": ("hot", "vacuum-server"),  # presets of steerjax.thermal_preset
    "C_minus_cases": (2.0, 10.0, 100.0),  # client cooperativities, one curve each
    "n_eps_linear": 46,  # eps on [0, 0.9], linear
    "n_eps_log": 121,  # 1 - eps on [one_minus_eps_min, 0.1], log spaced
    "one_minus_eps_min": 1e-6,  # the largest loss shown is 1 - this
    "eps_tol": 1e-6,  # final bracket width of the eps_max bisection
    "wide_C_plus_ratio_max": 1e7,  # upper C_+/C_- bound of the second eps_max estimate
    "n_starts": 8,  # starts of the optimiser per optimum
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_eps_linear": 10, "n_eps_log": 19, "eps_tol": 1e-4}
"""Grid sizes of ``--quick`` (and a coarser eps_max bracket)."""

FILES = ("png", "pdf", "curves.csv", "eps_max.csv", "json")

_C_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)))
_COUPLING, _DIRECTION = "asymmetric", "plus-given-minus"


def _check(params: dict) -> None:
    """Range checks of the figure's own parameters (the optimiser checks the others)."""

    def bad(name, value, allowed):
        raise ValueError(f"{FIGURE}: {name} = {value!r} is outside the allowed range {allowed}")

    cases = np.atleast_1d(np.asarray(params["C_minus_cases"], dtype=float))
    if cases.ndim != 1 or cases.size == 0 or np.any(~((cases > 0) & np.isfinite(cases))):
        bad("C_minus_cases", params["C_minus_cases"], "one or more values in (0, inf)")
    for name, least in (("n_eps_linear", 2), ("n_eps_log", 2)):
        if int(params[name]) != params[name] or int(params[name]) < least:
            bad(name, params[name], f"integers >= {least}")
    if not 0.0 < float(params["one_minus_eps_min"]) < 0.1:
        bad("one_minus_eps_min", params["one_minus_eps_min"], "(0, 0.1)")
    if not 0.0 < float(params["eps_tol"]) < 0.1:
        bad("eps_tol", params["eps_tol"], "(0, 0.1)")
    if not 1e3 <= float(params["wide_C_plus_ratio_max"]) < math.inf:
        bad("wide_C_plus_ratio_max", params["wide_C_plus_ratio_max"], "[1e3, inf)")


def eps_grid(n_linear: int, n_log: int, one_minus_eps_min: float) -> np.ndarray:
    """Losses: ``n_linear`` points on [0, 0.9], then ``n_log`` with 1 - eps log-spaced from 0.1
    down to ``one_minus_eps_min`` (the point 0.9 is shared)."""
    linear = np.linspace(0.0, 0.9, int(n_linear))
    near_one = 1.0 - sj.log_grid(0.1, float(one_minus_eps_min), int(n_log))
    return np.unique(np.concatenate([linear, near_one]))


def _thermal_column(names) -> sj.Thermal:
    """The presets ``names`` as a Thermal batch of shape (len(names), 1)."""
    thermal = sj.analysis.thermal_batch(names)
    fields = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")
    return sj.Thermal(**{f: getattr(thermal, f)[:, None] for f in fields})


def compute(quick: bool = False, *, progress=None, **overrides) -> dict:
    """All data of Fig. 5: the optimised E_{+|-} on the eps grid for every thermal set and C_-,
    and eps_max (two estimates).

    Args:
        quick: coarser grids (:data:`QUICK`).
        progress: optional callback ``progress(done, total)``.
        **overrides: any key of :data:`DEFAULTS`.

    Returns:
        A dict with ``parameters``, ``grid``, ``eps`` (the grid), ``table`` (one row per
        optimum, the columns of :func:`steerjax.analysis.optimal_steering_grid`) and
        ``eps_max`` (one dict per thermal set and C_-: ``eps_max`` from
        :func:`steerjax.loss_tolerance`, ``steers_for_all_eps``, ``E_at_zero_loss``,
        ``E_at_eps_max``, ``eps_max_wide_C_plus`` and ``one_minus_inverse_C_minus``).
    """
    params = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults=QUICK)
    _check(params)
    cases = np.atleast_1d(np.asarray(params["C_minus_cases"], dtype=float))
    eps = eps_grid(params["n_eps_linear"], params["n_eps_log"], params["one_minus_eps_min"])
    n_starts = int(params["n_starts"])
    names = [str(t) for t in np.atleast_1d(params["thermal_sets"])]
    n_curve_steps = len(names) * cases.size * eps.size
    total = n_curve_steps + 2
    table = sj.optimal_steering_grid(
        names,
        eps,
        cases,
        couplings=(_COUPLING,),
        directions=(_DIRECTION,),
        n_starts=n_starts,
        progress=None if progress is None else lambda d, _t: progress(d, total),
        figure=FIGURE,
    )
    names = list(dict.fromkeys(table["thermal"]))  # normalised preset names
    # eps_max for every (thermal set, C_-) at once; the batch shape (thermal sets, C_-) is the
    # same for both estimates, and n_starts that of the curves, so that all share one compiled
    # optimiser (and the small per-shape compilations of the set-up).
    thermal = _thermal_column(names)
    C = np.broadcast_to(cases[None, :], (len(names), cases.size))
    eps_tol = float(params["eps_tol"])
    wide = sj.loss_tolerance(
        thermal,
        C,
        coupling=_COUPLING,
        direction=_DIRECTION,
        eps_tol=eps_tol,
        search=sj.SearchOptions(n_starts=n_starts),
        C_plus_ratio_bounds=(1e-3, float(params["wide_C_plus_ratio_max"])),
    ).eps_max
    harness.report_progress(progress, n_curve_steps + 1, total)
    tol = sj.loss_tolerance(
        thermal,
        C,
        coupling=_COUPLING,
        direction=_DIRECTION,
        eps_tol=eps_tol,
        search=sj.SearchOptions(n_starts=n_starts),
    )
    harness.report_progress(progress, total, total)
    eps_max = [
        {
            "thermal": name,
            "C_minus": float(c),
            "eps_max": float(tol.eps_max[i, k]),
            "steers_for_all_eps": bool(tol.steers_for_all_eps[i, k]),
            "E_at_zero_loss": float(tol.E_at_zero_loss[i, k]),
            "E_at_eps_max": float(tol.E_at_eps_max[i, k]),
            "eps_max_wide_C_plus": float(wide[i, k]),
            "one_minus_inverse_C_minus": 1.0 - 1.0 / float(c),
        }
        for i, name in enumerate(names)
        for k, c in enumerate(cases)
    ]
    return {
        "figure": FIGURE,
        "parameters": dict(params),
        "grid": {"eps": int(eps.size), "C_minus_cases": int(cases.size), "thermal_sets": len(names)},
        "thermal_sets": names,
        "C_minus_cases": cases,
        "eps": eps,
        "table": table,
        "eps_max": eps_max,
    }


def curve_summary(data: dict) -> list[dict]:
    """Per thermal set and C_-: the diagnostics of the optima along eps (for the JSON file)."""
    out = []
    for name in data["thermal_sets"]:
        for c in data["C_minus_cases"]:
            t = sj.analysis.table_rows(data["table"], thermal=name, C_minus=c)
            x = t["eps"]
            out.append(
                {
                    "thermal": name,
                    "C_minus": float(c),
                    "n": int(x.size),
                    "n_steering": int(np.sum(t["steers"])),
                    "E_at_largest_eps": {"eps": float(x[-1]), "E": float(t["E"][-1])},
                    "not_converged_eps": [float(v) for v in x[~t["converged"]]],
                    "n_at_stability_edge": int(np.sum(t["at_stability_edge"])),
                    "C_plus_at_bound_eps_range": (
                        [float(x[t["C_plus_at_bound"]].min()), float(x[t["C_plus_at_bound"]].max())]
                        if np.any(t["C_plus_at_bound"])
                        else []
                    ),
                    "C_plus_at_bound_and_steering": int(np.sum(t["C_plus_at_bound"] & t["steers"])),
                }
            )
    return out


def plot(data: dict):
    """(a) E_{+|-} against eps (linear); (b) 1/2 - E_{+|-} against 1 - eps (log-log)."""
    table, cases = data["table"], data["C_minus_cases"]
    names = data["thermal_sets"]
    fig, axes = sjp.new_figure(1, 2, figsize=(11.0, 4.9))
    ax_lin, ax_log = axes[0]
    ax_lin.axhline(sj.STEERING_BOUND, color="#444444", lw=0.9, ls=":", zorder=1)
    one_minus_min = float(data["parameters"]["one_minus_eps_min"])
    for name in names:
        style = sjp.optimum_style(name, _COUPLING)
        for k, c in enumerate(cases):
            ls = _C_LINESTYLES[k % len(_C_LINESTYLES)]
            t = sj.analysis.table_rows(table, thermal=name, C_minus=c)
            ax_lin.plot(t["eps"], t["E"], ls=ls, zorder=3, **style)
            margin = sj.STEERING_BOUND - t["E"]
            ax_log.plot(1.0 - t["eps"], np.where(margin > 0, margin, np.nan), ls=ls, zorder=3, **style)
    for row in data["eps_max"]:
        style = sjp.optimum_style(row["thermal"], _COUPLING)
        if row["steers_for_all_eps"] or not np.isfinite(row["eps_max"]):
            continue
        for ax, x, y in ((ax_lin, row["eps_max"], sj.STEERING_BOUND), (ax_log, 1.0 - row["eps_max"], None)):
            if y is None:
                ax.axvline(x, color=style["color"], lw=0.8, ls=":", zorder=2)
            else:
                ax.plot([x], [y], marker="o", ms=7, mfc="white", mec=style["color"], mew=1.6, zorder=5)
                ax.annotate(
                    f"{row['eps_max']:.3f}",
                    (x, y),
                    xytext=(-4, 7),
                    textcoords="offset points",
                    ha="right",
                    va="bottom",
                    fontsize=7.5,
                    color=style["color"],
                )
    all_eps = sorted({r["thermal"] for r in data["eps_max"] if r["steers_for_all_eps"]})
    if all_eps:
        text = " and ".join(sjp.THERMAL_LABELS.get(n, n) for n in all_eps)
        ax_lin.text(
            0.02,
            0.03,
            f"{text}: $E_{{+|-}} < 1/2$ for every $\\epsilon < 1$ tested",
            transform=ax_lin.transAxes,
            fontsize=8,
            color="#333333",
        )
    ax_lin.set_xlim(0.0, 1.0)
    ax_lin.set_ylim(0.0, 0.56)
    ax_lin.set_xlabel(r"transmission loss $\epsilon$")
    ax_lin.set_ylabel(r"optimal $E_{+|-}$")
    ax_lin.set_title("linear loss axis", fontsize=10)
    sjp.panel_label(ax_lin, "(a)")

    sjp.log_axis(ax_log, "both")
    ax_log.set_xlim(1.0, one_minus_min)  # loss grows to the right
    ax_log.set_ylim(one_minus_min * 0.05, 1.0)
    ax_log.set_xlabel(r"transmitted fraction $1 - \epsilon$ (log; loss grows to the right)")
    ax_log.set_ylabel(r"steering margin $1/2 - E_{+|-}$")
    ax_log.set_title(r"close to $\epsilon = 1$; dotted: $1 - \epsilon_{\max}$", fontsize=10)
    sjp.panel_label(ax_log, "(b)")

    handles = [
        Line2D([], [], ls="-", **sjp.optimum_style(n, _COUPLING), label=sjp.THERMAL_LABELS.get(n, n))
        for n in names
    ]
    handles += [
        Line2D(
            [], [], color="#333333", lw=1.4, ls=_C_LINESTYLES[k % len(_C_LINESTYLES)], label=f"$C_- = {c:g}$"
        )
        for k, c in enumerate(cases)
    ]
    handles += [
        Line2D(
            [], [], ls="", marker="o", ms=7, mfc="white", mec="#333333", mew=1.4, label=r"$\epsilon_{\max}$"
        ),
        Line2D([], [], color="#444444", lw=0.9, ls=":", label=f"bound {sj.STEERING_BOUND:g}"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    return fig


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 5 into ``out_dir``; returns the metadata (also written as
    ``fig5.json``).  Files: ``fig5.png``, ``fig5.pdf``, ``fig5_curves.csv`` (every optimum along
    eps, with its design and diagnostics), ``fig5_eps_max.csv`` and ``fig5.json``."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    data = compute(quick, progress=None if progress is None else lambda d, t: progress(d, t + 1), **overrides)
    t1 = time.perf_counter()
    fig = plot(data)
    files = sjp.save_figure(fig, out_dir, FIGURE)
    t2 = time.perf_counter()
    files.append(harness.save_table(out_dir, f"{FIGURE}_curves", data["table"]))
    rows = data["eps_max"]
    files.append(harness.save_table(out_dir, f"{FIGURE}_eps_max", {k: [r[k] for r in rows] for k in rows[0]}))
    total = data["grid"]["eps"] * data["grid"]["C_minus_cases"] * data["grid"]["thermal_sets"]
    total += 3
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
            "coupling": _COUPLING,
            "direction": _DIRECTION,
            "C_plus_ratio_bounds": [1e-3, 1e3],
            "eps_max": rows,
            "curves": curve_summary(data),
        },
        script=__file__,
        progress=progress,
        total=total,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
