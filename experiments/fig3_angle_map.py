"""Fig. 3 of the paper: steering regimes against the interaction angles theta_-, theta_+ (Sec. IV B).

Left column: the (theta_-, theta_+) plane for C_+ = C_- = 50 and for C_+ = 2 C_- = 100, shaded by
steering regime, with the contours E_{+|-} = 1/2 (dashed) and E_{-|+} = 1/2 (solid); dynamically
unstable designs (gamma_+ <= 0 or gamma_- <= 0, i.e. an angle below ~pi/4 for these hot
oscillators) are grey and hatched.  Right column: the vertical cut theta_- = 0.35 pi, i.e.
E_{+|-}, E_{-|+} and the bare variances (Delta X_{+-0})^2 (Eq. 9) against theta_+.  The exact
regime boundaries along the cuts are computed as well (bisection on E = 1/2).

Run on its own::

    python experiments/fig3_angle_map.py --out figures [--quick]

or through ``steerjax figures --only 3``.  Change a parameter from Python::

    data = compute(C_minus=30.0, C_plus_cases=(30.0, 90.0))   # any key of DEFAULTS
    fig = plot(data)

Hot thermal set (gamma_0/2pi = 0.1 Hz, nbar = 1e5 for both oscillators), eps = 0.
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

FIGURE = "fig3"
TITLE = "Steering regimes in the (theta-, theta+) plane, and cuts at theta- = 0.35 pi"

DEFAULTS: dict[str, object] = {
    "thermal": "hot",  # preset name of steerjax.thermal_preset
    "C_minus": 50.0,  # client cooperativity
    "C_plus_cases": (50.0, 100.0),  # one row per server cooperativity
    "eps": 0.0,  # transmission loss
    "theta_range": (0.2 * math.pi, 0.5 * math.pi),  # both axes of the maps [rad]
    "theta_minus_cut": 0.35 * math.pi,  # client angle of the right column [rad]
    "n_map": 301,  # grid points per axis of each map
    "n_cut": 1501,  # points along each cut
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_map": 61, "n_cut": 241}
"""Grid sizes of ``--quick`` (the exact boundaries are as exact; only the pictures are coarser)."""


def _check(params: dict) -> None:
    """Plain range checks of the parameters (ValueError naming parameter, value and range)."""

    def bad(name, value, allowed):
        raise ValueError(f"{FIGURE}: {name} = {value!r} is outside the allowed range {allowed}")

    if not 0.0 < float(params["C_minus"]) < math.inf:
        bad("C_minus", params["C_minus"], "(0, inf)")
    cases = tuple(float(c) for c in np.atleast_1d(params["C_plus_cases"]))
    if not cases or any(not 0.0 < c < math.inf for c in cases):
        bad("C_plus_cases", params["C_plus_cases"], "one or more values in (0, inf)")
    if not 0.0 <= float(params["eps"]) < 1.0:
        bad("eps", params["eps"], "[0, 1)")
    lo, hi = (float(v) for v in params["theta_range"])
    if not 0.0 <= lo < hi <= math.pi / 2:
        bad("theta_range", params["theta_range"], "(lo, hi) with 0 <= lo < hi <= pi/2")
    if not 0.0 <= float(params["theta_minus_cut"]) <= math.pi / 2:
        bad("theta_minus_cut", params["theta_minus_cut"], "[0, pi/2]")
    for name, least in (("n_map", 3), ("n_cut", 3)):
        if int(params[name]) != params[name] or int(params[name]) < least:
            bad(name, params[name], f"integers >= {least}")


def compute(quick: bool = False, *, progress=None, **overrides) -> dict:
    """All data of Fig. 3: one regime map and one cut per server cooperativity, and the exact
    regime boundaries along the cuts.

    Args:
        quick: coarser grids (:data:`QUICK`).
        progress: optional callback ``progress(done, total)``.
        **overrides: any key of :data:`DEFAULTS`.

    Returns:
        A dict with ``parameters`` (all values used), ``grid``, ``theta`` (the maps' axis values
        [rad]), ``maps`` (arrays of shape ``(cases, n_map, n_map)``, axes [case, theta_+,
        theta_-]), ``theta_plus_cut`` and ``cuts`` (arrays ``(cases, n_cut)``), ``boundaries``
        (per case: exact boundaries and regime segments along the cut) and ``area_fractions``
        (per case: the share of the map of each regime and of unstable designs).
    """
    params = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults=QUICK)
    _check(params)
    thermal = sj.thermal_preset(params["thermal"])
    cases = np.asarray([float(c) for c in np.atleast_1d(params["C_plus_cases"])])
    c_minus, eps, t_cut = float(params["C_minus"]), float(params["eps"]), float(params["theta_minus_cut"])
    n_map, n_cut = int(params["n_map"]), int(params["n_cut"])
    theta = np.linspace(*(float(v) for v in params["theta_range"]), n_map)
    theta_plus_cut = np.linspace(*(float(v) for v in params["theta_range"]), n_cut)
    n_cases = cases.size
    total = 1 + n_cases
    harness.report_progress(progress, 0, total)

    # Maps (axes [case, theta_+, theta_-]) and cuts (axes [case, theta_+]) in one batched call.
    cp_map = np.broadcast_to(cases[:, None, None], (n_cases, n_map, n_map))
    tp_map = np.broadcast_to(theta[None, :, None], cp_map.shape)
    tm_map = np.broadcast_to(theta[None, None, :], cp_map.shape)
    cp_cut = np.broadcast_to(cases[:, None], (n_cases, n_cut))
    tp_cut = np.broadcast_to(theta_plus_cut[None, :], cp_cut.shape)
    both = sj.steering_sweep(
        thermal,
        np.concatenate([tp_map.ravel(), tp_cut.ravel()]),
        np.concatenate([tm_map.ravel(), np.full(cp_cut.size, t_cut)]),
        np.concatenate([cp_map.ravel(), cp_cut.ravel()]),
        c_minus,
        eps,
    )
    split = cp_map.size
    maps = {k: v[:split].reshape(cp_map.shape) for k, v in both.items()}
    cuts = {k: v[split:].reshape(cp_cut.shape) for k, v in both.items()}
    harness.report_progress(progress, 1, total)

    boundaries = []
    for i, c_plus in enumerate(cases):

        def E_of_theta_plus(tp, c_plus=c_plus):
            r = sj.steering_sweep(thermal, tp, t_cut, c_plus, c_minus, eps)
            return r["E_plus_given_minus"], r["E_minus_given_plus"]

        found = sj.analysis.regime_boundaries(
            E_of_theta_plus,
            theta_plus_cut,
            values=(cuts["E_plus_given_minus"][i], cuts["E_minus_given_plus"][i]),
        )
        boundaries.append(
            {
                "C_plus": float(c_plus),
                "crossings": [
                    {
                        "theta_plus": b["x"],
                        "theta_plus_over_pi": b["x"] / math.pi,
                        "quantity": b["quantity"],
                        "regime_below": b["regime_below"],
                        "regime_above": b["regime_above"],
                    }
                    for b in found["boundaries"]
                ],
                "segments": [
                    {
                        "theta_plus_over_pi_start": s["x_start"] / math.pi,
                        "theta_plus_over_pi_end": s["x_end"] / math.pi,
                        "regime": s["regime"],
                    }
                    for s in found["segments"]
                ],
            }
        )
        harness.report_progress(progress, 2 + i, total)

    codes = maps["regime"]
    area = [
        {name: float(np.mean(codes[i] == k)) for k, name in enumerate(sj.model.REGIMES)}
        | {"unstable": float(np.mean(codes[i] < 0))}
        for i in range(n_cases)
    ]
    parameters = dict(params)
    parameters["thermal_values"] = {
        k: float(getattr(thermal, k))
        for k in ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")
    }
    return {
        "figure": FIGURE,
        "parameters": parameters,
        "grid": {"map": [n_map, n_map], "cut": n_cut, "cases": n_cases},
        "C_plus_cases": cases,
        "theta": theta,
        "maps": maps,
        "theta_plus_cut": theta_plus_cut,
        "cuts": cuts,
        "boundaries": boundaries,
        "area_fractions": area,
        "dtype": str(np.asarray(cuts["E_plus_given_minus"]).dtype),
    }


_DIAGONAL = {"color": "#555555", "lw": 0.9, "ls": "-."}


def plot(data: dict):
    """The figure: one row per server cooperativity; regime map left, cut right."""
    params = data["parameters"]
    cases = data["C_plus_cases"]
    n = len(cases)
    c_minus, t_cut = float(params["C_minus"]), float(params["theta_minus_cut"])
    fig, axes = sjp.new_figure(n, 2, figsize=(9.0, 3.7 * n + 1.1), width_ratios=(1.0, 1.3))
    x = data["theta"] / math.pi
    xc = data["theta_plus_cut"] / math.pi
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i, c_plus in enumerate(cases):
        ax_map, ax_cut = axes[i]
        head = rf"$C_+ = {c_plus:g}$, $C_- = {c_minus:g}$"
        sjp.regime_map(
            ax_map, x, x, data["maps"]["E_plus_given_minus"][i], data["maps"]["E_minus_given_plus"][i]
        )
        ax_map.plot([x[0], x[-1]], [x[0], x[-1]], **_DIAGONAL)
        ax_map.axvline(t_cut / math.pi, color="#333333", lw=0.8, ls=(0, (1, 2)))
        ax_map.set_xlim(x[0], x[-1])
        ax_map.set_ylim(x[0], x[-1])
        ax_map.set_aspect("equal")
        ax_map.set_xlabel(r"$\theta_-/\pi$")
        ax_map.set_ylabel(r"$\theta_+/\pi$")
        ax_map.set_title(head, fontsize=10)
        sjp.panel_label(ax_map, f"({letters[2 * i]})")

        cut = data["cuts"]
        sjp.steering_cut(
            ax_cut,
            xc,
            cut["E_plus_given_minus"][i],
            cut["E_minus_given_plus"][i],
            cut["bare_var_plus"][i],
            cut["bare_var_minus"][i],
        )
        ax_cut.set_xlim(xc[0], xc[-1])
        ax_cut.set_ylim(0.2, 10.0)
        sjp.regime_strip(ax_cut, xc, cut["regime"][i])
        for b in data["boundaries"][i]["crossings"]:
            ax_cut.axvline(b["theta_plus_over_pi"], color="#777777", lw=0.6, ls=(0, (4, 3)), zorder=0)
        ax_cut.set_xlabel(rf"$\theta_+/\pi$  ($\theta_- = {t_cut / math.pi:.3g}\pi$)")
        ax_cut.set_ylabel(r"$E$, $(\Delta X_{\pm0})^2$")
        ax_cut.set_title(head, fontsize=10)
        sjp.panel_label(ax_cut, f"({letters[2 * i + 1]})")
    handles = sjp.regime_legend_handles(include_unstable=bool(np.any(data["maps"]["regime"] < 0)))
    handles.append(Line2D([], [], **_DIAGONAL, label=r"$\theta_+ = \theta_-$ ($f = 0$)"))
    fig.legend(handles=handles, loc="outside lower left", ncol=2, fontsize=8, frameon=False)
    fig.legend(handles=sjp.cut_legend_handles(), loc="outside lower right", ncol=2, fontsize=8, frameon=False)
    return fig


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 3 into ``out_dir``; returns the metadata (also written as
    ``fig3.json``).  Files: ``fig3.png``, ``fig3.pdf``, ``fig3_maps.npz`` (the maps),
    ``fig3_cuts.csv`` (the cuts, one row per point and case), ``fig3_boundaries.csv`` (exact
    regime boundaries along the cuts) and ``fig3.json``."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    data = compute(quick, progress=None if progress is None else lambda d, t: progress(d, t + 1), **overrides)
    t1 = time.perf_counter()
    fig = plot(data)
    files = sjp.save_figure(fig, out_dir, FIGURE)
    t2 = time.perf_counter()
    cases, n_cut = data["C_plus_cases"], data["grid"]["cut"]
    params = data["parameters"]
    maps = {"theta_minus": data["theta"], "theta_plus": data["theta"], "C_plus_cases": cases}
    maps |= {k: data["maps"][k] for k in ("E_plus_given_minus", "E_minus_given_plus")}
    maps["regime"] = data["maps"]["regime"].astype(np.int8)
    files.append(harness.save_arrays(out_dir, f"{FIGURE}_maps", maps))
    cut = data["cuts"]
    files.append(
        harness.save_table(
            out_dir,
            f"{FIGURE}_cuts",
            {
                "C_plus": np.repeat(cases, n_cut),
                "C_minus": np.full(cases.size * n_cut, float(params["C_minus"])),
                "theta_minus": np.full(cases.size * n_cut, float(params["theta_minus_cut"])),
                "theta_plus": np.tile(data["theta_plus_cut"], cases.size),
                **{
                    k: cut[k].ravel()
                    for k in (
                        "E_plus_given_minus",
                        "E_minus_given_plus",
                        "bare_var_plus",
                        "bare_var_minus",
                        "f",
                    )
                },
                "regime": np.asarray([sj.model.regime_name(c) for c in cut["regime"].ravel()]),
            },
        )
    )
    rows = [(b["C_plus"], c) for b in data["boundaries"] for c in b["crossings"]]
    files.append(
        harness.save_table(
            out_dir,
            f"{FIGURE}_boundaries",
            {
                "C_plus": [r[0] for r in rows],
                "theta_plus": [r[1]["theta_plus"] for r in rows],
                "theta_plus_over_pi": [r[1]["theta_plus_over_pi"] for r in rows],
                "quantity": [r[1]["quantity"] for r in rows],
                "regime_below": [r[1]["regime_below"] for r in rows],
                "regime_above": [r[1]["regime_above"] for r in rows],
            },
        )
    )
    return harness.finish_run(
        out_dir,
        FIGURE,
        TITLE,
        parameters=params,
        grid=data["grid"],
        quick=quick,
        times=(t0, t1, t2),
        files=files,
        results={
            "dtype": data["dtype"],
            "cut_boundaries": data["boundaries"],
            "area_fractions": data["area_fractions"],
        },
        script=__file__,
        progress=progress,
        total=data["grid"]["cases"] + 2,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
