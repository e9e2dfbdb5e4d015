"""Fig. 2 of the paper: steering regimes against the cooperativities C_-, C_+ (Sec. IV A).

Left column: the (C_-, C_+) plane for theta_- = 0.35 pi and three server angles, theta_+ = 0.35 pi
(f = 0), 0.30 pi (f > 0) and 0.40 pi (f < 0), shaded by steering regime, with the contours
E_{+|-} = 1/2 (dashed) and E_{-|+} = 1/2 (solid).  Right column: the vertical cut C_- = 50,
i.e. E_{+|-}, E_{-|+} and the bare variances (Delta X_{+-0})^2 (Eq. 9) against C_+/C_-.

Besides the plotted data, the script computes the exact regime boundaries along each cut
(E = 1/2 located by bisection to rounding level) -- the paper reads the two-way ranges
"0.40 <~ C_+/C_- <~ 1.7 (f > 0)" and "0.45 <~ C_+/C_- <~ 3.2 (f < 0)" off its plots.

Run on its own::

    python experiments/fig2_cooperativity_map.py --out figures [--quick]

or through ``steerjax figures --only 2``.  Change a parameter from Python::

    data = compute(theta_minus=0.3 * math.pi)   # any key of DEFAULTS
    fig = plot(data)

Hot thermal set (gamma_0/2pi = 0.1 Hz, nbar = 1e5 for both oscillators), eps = 0.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

import _harness as harness
import steerjax as sj
import steerjax.plotting as sjp

FIGURE = "fig2"
TITLE = "Steering regimes in the (C-, C+) plane, and cuts at C- = 50"

DEFAULTS: dict[str, object] = {
    "thermal": "hot",  # preset name of steerjax.thermal_preset
    "theta_minus": 0.35 * math.pi,  # client angle [rad]
    "theta_plus_cases": (0.35 * math.pi, 0.30 * math.pi, 0.40 * math.pi),  # one row per server angle
    "eps": 0.0,  # transmission loss
    "C_range": (1.0, 1000.0),  # both axes of the maps (log scale)
    "C_minus_cut": 50.0,  # client cooperativity of the right column
    "ratio_range": (0.05, 20.0),  # C+/C- along the cut (log scale)
    "n_map": 301,  # grid points per axis of each map
    "n_cut": 2001,  # points along each cut
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_map": 61, "n_cut": 241}
"""Grid sizes of ``--quick`` (the exact boundaries are as exact; only the pictures are coarser)."""

FILES = ("png", "pdf", "maps.npz", "cuts.csv", "boundaries.csv", "json")


def _check(params: dict) -> None:
    """Plain range checks of the parameters (ValueError naming parameter, value and range)."""

    def bad(name, value, allowed):
        raise ValueError(f"{FIGURE}: {name} = {value!r} is outside the allowed range {allowed}")

    for name in ("theta_minus",):
        if not 0.0 <= float(params[name]) <= math.pi / 2:
            bad(name, params[name], "[0, pi/2]")
    cases = tuple(float(t) for t in np.atleast_1d(params["theta_plus_cases"]))
    if not cases or any(not 0.0 <= t <= math.pi / 2 for t in cases):
        bad("theta_plus_cases", params["theta_plus_cases"], "one or more angles in [0, pi/2]")
    if not 0.0 <= float(params["eps"]) < 1.0:
        bad("eps", params["eps"], "[0, 1)")
    for name in ("C_range", "ratio_range"):
        lo, hi = (float(v) for v in params[name])
        if not 0.0 < lo < hi < math.inf:
            bad(name, params[name], "(lo, hi) with 0 < lo < hi")
    if not 0.0 < float(params["C_minus_cut"]) < math.inf:
        bad("C_minus_cut", params["C_minus_cut"], "(0, inf)")
    for name, least in (("n_map", 3), ("n_cut", 3)):
        if int(params[name]) != params[name] or int(params[name]) < least:
            bad(name, params[name], f"integers >= {least}")


def _f_label(theta_plus: float, theta_minus: float) -> str:
    """Sign of f = 2R/gamma_+ with R = -sqrt(Gamma_+ Gamma_-) sin(theta_+ - theta_-)."""
    d = theta_plus - theta_minus
    return "f = 0" if d == 0 else ("f > 0" if d < 0 else "f < 0")


def compute(quick: bool = False, *, progress=None, **overrides) -> dict:
    """All data of Fig. 2: three regime maps, three cuts and the exact boundaries on the cuts.

    Args:
        quick: coarser grids (:data:`QUICK`).
        progress: optional callback ``progress(done, total)``.
        **overrides: any key of :data:`DEFAULTS`.

    Returns:
        A dict with ``parameters`` (all values used), ``grid``, ``C`` (the maps' axis values),
        ``maps`` (arrays of shape ``(cases, n_map, n_map)``, axes [case, C_+, C_-]), ``ratio``
        and ``cuts`` (arrays of shape ``(cases, n_cut)``), ``boundaries`` (per case: the exact
        boundaries and regime segments along the cut, and the two-way range) and
        ``area_fractions`` (per case: the share of the map, in log-C area, of each regime).
    """
    params = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults=QUICK)
    _check(params)
    thermal = sj.thermal_preset(params["thermal"])
    cases = np.asarray([float(t) for t in np.atleast_1d(params["theta_plus_cases"])])
    theta_minus, eps = float(params["theta_minus"]), float(params["eps"])
    n_map, n_cut, c_cut = int(params["n_map"]), int(params["n_cut"]), float(params["C_minus_cut"])
    C = np.geomspace(*(float(v) for v in params["C_range"]), n_map)
    ratio = np.geomspace(*(float(v) for v in params["ratio_range"]), n_cut)
    total = 1 + len(cases)
    harness.report_progress(progress, 0, total)

    # Maps (axes [case, C_+, C_-]) and cuts (axes [case, ratio]) in one batched call.
    n_cases = cases.size
    tp_map = np.broadcast_to(cases[:, None, None], (n_cases, n_map, n_map))
    cp_map = np.broadcast_to(C[None, :, None], tp_map.shape)
    cm_map = np.broadcast_to(C[None, None, :], tp_map.shape)
    tp_cut = np.broadcast_to(cases[:, None], (n_cases, n_cut))
    cp_cut = np.broadcast_to(c_cut * ratio[None, :], tp_cut.shape)
    both = sj.steering_sweep(
        thermal,
        np.concatenate([tp_map.ravel(), tp_cut.ravel()]),
        theta_minus,
        np.concatenate([cp_map.ravel(), cp_cut.ravel()]),
        np.concatenate([cm_map.ravel(), np.full(tp_cut.size, c_cut)]),
        eps,
    )
    split = tp_map.size
    maps = {k: v[:split].reshape(tp_map.shape) for k, v in both.items() if k != "f"}
    cuts = {k: v[split:].reshape(tp_cut.shape) for k, v in both.items()}
    harness.report_progress(progress, 1, total)

    # Exact boundaries along each cut, in log(C_+/C_-).
    log_ratio = np.log(ratio)
    boundaries = []
    for i, tp in enumerate(cases):

        def E_of_log_ratio(lr, tp=tp):
            r = sj.steering_sweep(thermal, tp, theta_minus, c_cut * np.exp(lr), c_cut, eps)
            return r["E_plus_given_minus"], r["E_minus_given_plus"]

        found = sj.analysis.regime_boundaries(
            E_of_log_ratio,
            log_ratio,
            values=(cuts["E_plus_given_minus"][i], cuts["E_minus_given_plus"][i]),
        )
        crossings = [
            {
                "ratio": math.exp(b["x"]),
                "C_plus": c_cut * math.exp(b["x"]),
                "quantity": b["quantity"],
                "regime_below": b["regime_below"],
                "regime_above": b["regime_above"],
            }
            for b in found["boundaries"]
        ]
        segments = [
            {"ratio_start": math.exp(s["x_start"]), "ratio_end": math.exp(s["x_end"]), "regime": s["regime"]}
            for s in found["segments"]
        ]
        two_way = [[s["ratio_start"], s["ratio_end"]] for s in segments if s["regime"] == "two-way"]
        boundaries.append(
            {
                "theta_plus": float(tp),
                "f_sign": _f_label(float(tp), theta_minus),
                "f_at_ratio_1": float(
                    sj.steering_sweep(thermal, tp, theta_minus, c_cut, c_cut, eps)["f"].reshape(-1)[0]
                ),
                "crossings": crossings,
                "segments": segments,
                "two_way_ratio_ranges": two_way,
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
        "theta_plus_cases": cases,
        "C": C,
        "maps": maps,
        "ratio": ratio,
        "cuts": cuts,
        "boundaries": boundaries,
        "area_fractions": area,
        "dtype": str(np.asarray(cuts["E_plus_given_minus"]).dtype),
    }


def _pi_text(x: float) -> str:
    return f"{x / math.pi:.3g}" + r"\pi"


def plot(data: dict):
    """The figure: one row per server angle; regime map left, cut at C_- = const right."""
    params = data["parameters"]
    cases = data["theta_plus_cases"]
    n = len(cases)
    fig, axes = sjp.new_figure(n, 2, figsize=(10.0, 3.15 * n + 1.0))
    C, ratio, c_cut = data["C"], data["ratio"], float(params["C_minus_cut"])
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i, tp in enumerate(cases):
        ax_map, ax_cut = axes[i]
        info = data["boundaries"][i]
        angles = rf"$\theta_+ = {_pi_text(tp)}$, $\theta_- = {_pi_text(float(params['theta_minus']))}$"
        head = f"{angles} ({info['f_sign']})"
        sjp.regime_map(
            ax_map, C, C, data["maps"]["E_plus_given_minus"][i], data["maps"]["E_minus_given_plus"][i]
        )
        sjp.log_axis(ax_map, "both")
        ax_map.set_xlim(C[0], C[-1])
        ax_map.set_ylim(C[0], C[-1])
        ax_map.axvline(c_cut, color="#333333", lw=0.8, ls=(0, (1, 2)))
        ax_map.set_xlabel(r"$C_-$")
        ax_map.set_ylabel(r"$C_+$")
        ax_map.set_title(head, fontsize=10)
        sjp.panel_label(ax_map, f"({letters[2 * i]})")

        cut = data["cuts"]
        sjp.steering_cut(
            ax_cut,
            ratio,
            cut["E_plus_given_minus"][i],
            cut["E_minus_given_plus"][i],
            cut["bare_var_plus"][i],
            cut["bare_var_minus"][i],
        )
        sjp.log_axis(ax_cut, "x")
        ax_cut.set_xlim(ratio[0], ratio[-1])
        ax_cut.set_ylim(0.2, 5.0)
        sjp.regime_strip(ax_cut, ratio, cut["regime"][i])
        for crossing in info["crossings"]:
            ax_cut.axvline(crossing["ratio"], color="#777777", lw=0.6, ls=(0, (4, 3)), zorder=0)
        for lo, hi in info["two_way_ratio_ranges"]:
            ax_cut.text(
                math.sqrt(lo * hi),
                4.2,
                f"two-way\n{lo:.3f} – {hi:.3f}",
                ha="center",
                va="top",
                fontsize=8,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#999999", "lw": 0.5},
            )
        ax_cut.set_xlabel(rf"$C_+/C_-$  ($C_- = {c_cut:g}$)")
        ax_cut.set_ylabel(r"$E$, $(\Delta X_{\pm0})^2$")
        ax_cut.set_title(head, fontsize=10)
        sjp.panel_label(ax_cut, f"({letters[2 * i + 1]})")
    handles = sjp.regime_legend_handles(include_unstable=bool(np.any(data["maps"]["regime"] < 0)))
    fig.legend(handles=handles, loc="outside lower left", ncol=2, fontsize=8, frameon=False)
    fig.legend(handles=sjp.cut_legend_handles(), loc="outside lower right", ncol=2, fontsize=8, frameon=False)
    return fig


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 2 into ``out_dir``; returns the metadata (also written as
    ``fig2.json``).  Files: ``fig2.png``, ``fig2.pdf``, ``fig2_maps.npz`` (the maps),
    ``fig2_cuts.csv`` (the cuts, one row per point and case), ``fig2_boundaries.csv`` (exact
    regime boundaries along the cuts) and ``fig2.json``."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    data = compute(quick, progress=None if progress is None else lambda d, t: progress(d, t + 1), **overrides)
    t1 = time.perf_counter()
    fig = plot(data)
    files = sjp.save_figure(fig, out_dir, FIGURE)
    t2 = time.perf_counter()
    cases, n_cut = data["theta_plus_cases"], data["grid"]["cut"]
    maps = {"C_minus": data["C"], "C_plus": data["C"], "theta_plus_cases": cases}
    maps |= {k: data["maps"][k] for k in ("E_plus_given_minus", "E_minus_given_plus")}
    maps["regime"] = data["maps"]["regime"].astype(np.int8)
    files.append(harness.save_arrays(out_dir, f"{FIGURE}_maps", maps))
    cut = data["cuts"]
    files.append(
        harness.save_table(
            out_dir,
            f"{FIGURE}_cuts",
            {
                "theta_plus": np.repeat(cases, n_cut),
                "ratio": np.tile(data["ratio"], cases.size),
                "C_plus": np.tile(data["ratio"] * float(data["parameters"]["C_minus_cut"]), cases.size),
                "C_minus": np.full(cases.size * n_cut, float(data["parameters"]["C_minus_cut"])),
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
    rows = [(b["theta_plus"], b["f_sign"], c) for b in data["boundaries"] for c in b["crossings"]]
    files.append(
        harness.save_table(
            out_dir,
            f"{FIGURE}_boundaries",
            {
                "theta_plus": [r[0] for r in rows],
                "f_sign": [r[1] for r in rows],
                "ratio": [r[2]["ratio"] for r in rows],
                "C_plus": [r[2]["C_plus"] for r in rows],
                "quantity": [r[2]["quantity"] for r in rows],
                "regime_below": [r[2]["regime_below"] for r in rows],
                "regime_above": [r[2]["regime_above"] for r in rows],
            },
        )
    )
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
            "dtype": data["dtype"],
            "cut_boundaries": data["boundaries"],
            "area_fractions_log_C": data["area_fractions"],
        },
        script=__file__,
        progress=progress,
        total=data["grid"]["cases"] + 2,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
