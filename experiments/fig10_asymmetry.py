"""Fig. 10 (beyond the paper): engineering the asymmetry, and what each improvement buys.

(a) For the hot set and (a') for the vacuum server (eps = 0, asymmetric coupling), the
    (E_{+|-}, E_{-|+}) plane for C_- = 2, 10, 100: the region reached by a random sample of
    stable designs (pale dots), the Pareto front (solid; neither direction can be improved
    without worsening the other) and the asymmetry front (dashed; the smallest E_{+|-} for each
    required E_{-|+} >= s >= 1/2: one-way steering, client => server while the server provably
    cannot steer the client), with the paper's two single-direction optima (circle: E_{+|-},
    square: E_{-|+}).  Fronts: :func:`steerjax.pareto_front` (constrained optima).
(b) The elasticities d ln E*/d ln p of the optimal E_{+|-} against C_- for the hardware
    parameters p (:func:`steerjax.analysis.optimum_elasticities`: envelope theorem with the
    active bounds).  A value of -0.4 means that 1 % more of p lowers E* by 0.4 %; the largest
    magnitude is the improvement that pays most.  Hot set solid, vacuum server dashed.

Run on its own::

    python experiments/fig10_asymmetry.py --out figures [--quick]

or through ``steerjax figures --only 10``.  Change a parameter from Python::

    data = compute(C_minus_cases=(5.0, 50.0))   # any key of DEFAULTS
    fig = plot(data)
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np
from matplotlib.lines import Line2D

import _harness as harness
import steerjax as sj
import steerjax.plotting as sjp

FIGURE = "fig10"
TITLE = "Engineering the asymmetry: Pareto and asymmetry fronts, and the elasticities of the optimum"

DEFAULTS: dict[str, object] = {
    "thermals": ("hot", "vacuum-server"),  # presets of steerjax.thermal_preset, one panel (a) each
    "eps": 0.0,  # transmission loss
    "C_minus_cases": (2.0, 10.0, 100.0),  # panel (a): one colour each
    "n_points": 41,  # points per front
    "asymmetry_max": 100.0,  # the asymmetry front's largest required E_{-|+}
    "n_sample": 20000,  # panel (a): random stable designs per (thermal, C_-)
    "C_minus_range": (1.0, 1000.0),  # panel (b): C_- (log axis)
    "n_C_minus": 31,  # panel (b): points in C_-
    "n_starts": 8,  # starts of the optimiser per optimum
    "seed": 0,  # of the random sample
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_points": 15, "n_sample": 4000, "n_C_minus": 11}
"""Grid sizes of ``--quick``."""

ELASTICITY_PARAMETERS = ("C_minus", "gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")
"""Panel (b)'s curves.  The loss is left out: at eps = 0 its elasticity is 0 (see the JSON's
``dEstar_d_eps`` for what loss costs)."""

_PARAM_LABELS = {
    "C_minus": r"$C_-$",
    "gamma0_plus_hz": r"$\gamma_{+,0}$ (server linewidth)",
    "nbar_plus": r"$\bar n_+$ (server bath)",
    "gamma0_minus_hz": r"$\gamma_{-,0}$ (client linewidth)",
    "nbar_minus": r"$\bar n_-$ (client bath)",
}
_PARAM_COLORS = {
    "C_minus": "#000000",
    "gamma0_plus_hz": "#c0392b",
    "nbar_plus": "#f1948a",
    "gamma0_minus_hz": "#1a9a8a",
    "nbar_minus": "#82e0aa",
}
_BATH_MARKER = {"nbar_plus": "o", "nbar_minus": "o"}
"""The bath curves get markers and thin lines: for n_bar >> 1 they lie on the linewidth curves
(what matters is the decoherence rate gamma_0 (n_bar + 1/2))."""
_C_COLORS = ("#e07b18", "#1f5fa8", "#7a2a8c", "#2a9d5c", "#8a8a8a")
"""Panel (a): one colour per C_- (in the order of ``C_minus_cases``)."""
_THERMAL_STYLES = {0: "-", 1: "--", 2: ":"}

FILES = ("png", "pdf", "fronts.csv", "elasticities.csv", "sample.npz", "json")


def _check(params: dict) -> None:
    """Range checks of the figure's own parameters (the library checks the physical ones)."""

    def bad(name, value, allowed):
        raise ValueError(f"{FIGURE}: {name} = {value!r} is outside the allowed range {allowed}")

    cases = np.atleast_1d(np.asarray(params["C_minus_cases"], dtype=float))
    if cases.ndim != 1 or cases.size == 0 or np.any(~((cases > 0) & np.isfinite(cases))):
        bad("C_minus_cases", params["C_minus_cases"], "one or more values in (0, inf)")
    thermals = params["thermals"]
    if isinstance(thermals, str) or len(thermals) == 0:
        bad("thermals", thermals, "a list of one or more preset names")
    try:
        lo, hi = (float(v) for v in params["C_minus_range"])
    except (TypeError, ValueError):
        bad("C_minus_range", params["C_minus_range"], "(lo, hi) with 0 < lo < hi")
    if not 0.0 < lo < hi < np.inf:
        bad("C_minus_range", params["C_minus_range"], "(lo, hi) with 0 < lo < hi")
    for name, least in (("n_points", 2), ("n_sample", 1), ("n_C_minus", 2), ("n_starts", 1)):
        if int(params[name]) != params[name] or int(params[name]) < least:
            bad(name, params[name], f"integers >= {least}")
    if int(params["seed"]) != params["seed"] or int(params["seed"]) < 0:
        bad("seed", params["seed"], "integers >= 0")


@jax.jit
def _both_E(thermal, design):
    res = sj.steering(thermal, design, on_invalid="nan")  # unstable designs -> NaN
    return res.E_plus_given_minus, res.E_minus_given_plus


def random_designs(C_minus: float, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` random designs at fixed C_- and eps = 0: theta_+- uniform in [0, pi/2], C_+
    log-uniform within the optimiser's default bounds C_+/C_- in [1e-3, 1e3].  Unstable ones
    are kept here and dropped after evaluation (their E is NaN)."""
    return {
        "theta_plus": rng.uniform(0.0, np.pi / 2, n),
        "theta_minus": rng.uniform(0.0, np.pi / 2, n),
        "C_plus": C_minus * 10.0 ** rng.uniform(-3.0, 3.0, n),
        "C_minus": np.full(n, float(C_minus)),
    }


def compute(quick: bool = False, *, progress=None, **overrides) -> dict:
    """Fronts and random samples of panel (a), elasticities of panel (b).

    Returns:
        A dict with ``parameters``, ``grid``, ``fronts`` (one row per front point: thermal,
        C_minus, front, both E, design), ``optima`` (per (thermal, C_-): both single-direction
        optima), ``sample`` (per (thermal, C_-): E of random stable designs) and
        ``elasticities`` (one row per (thermal, C_-): E* and the elasticity and derivative of
        every parameter of :data:`steerjax.analysis.IMPROVEMENT_PARAMETERS`).
    """
    params = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults=QUICK)
    _check(params)
    eps = float(params["eps"])
    cases = np.atleast_1d(np.asarray(params["C_minus_cases"], dtype=float))
    names = [str(t) for t in params["thermals"]]
    search = sj.SearchOptions(n_starts=int(params["n_starts"]))
    rng = np.random.default_rng(int(params["seed"]))
    total, done = len(names) * (cases.size + 1), 0

    fronts: dict[str, list] = {}
    optima, sample = [], {}
    for name in names:
        thermal = sj.thermal_preset(name)
        for c in cases:
            f = sj.pareto_front(
                thermal,
                float(c),
                eps,
                int(params["n_points"]),
                asymmetry_max=float(params["asymmetry_max"]),
                search=search,
            )
            cols = f.columns()
            n = cols["front"].size
            for key, value in (("thermal", np.full(n, name)), ("C_minus", np.full(n, c)), *cols.items()):
                fronts.setdefault(key, []).append(np.asarray(value))
            optima.append(
                {
                    "thermal": name,
                    "C_minus": float(c),
                    **{
                        f"{label}_{k}": float(np.asarray(getattr(r, k)))
                        for label, r in (("plus_optimum", f.plus_optimum), ("minus_optimum", f.minus_optimum))
                        for k in ("E_plus_given_minus", "E_minus_given_plus")
                    },
                }
            )
            d = random_designs(float(c), int(params["n_sample"]), rng)
            e_pm, e_mp = _both_E(thermal, sj.Design(**d, eps=eps))
            keep = np.isfinite(np.asarray(e_pm)) & np.isfinite(np.asarray(e_mp))
            sample[f"{name}/{c:g}/E_plus_given_minus"] = np.asarray(e_pm)[keep]
            sample[f"{name}/{c:g}/E_minus_given_plus"] = np.asarray(e_mp)[keep]
            done += 1
            harness.report_progress(progress, done, total)
    fronts_cols = {k: np.concatenate(v) for k, v in fronts.items()}

    grid = sj.log_grid(*(float(v) for v in params["C_minus_range"]), int(params["n_C_minus"]))
    elast: dict[str, list] = {}
    for name in names:
        s = sj.analysis.optimum_elasticities(sj.thermal_preset(name), grid, eps=eps, search=search)
        elast.setdefault("thermal", []).append(np.full(grid.size, name))
        elast.setdefault("C_minus", []).append(grid)
        elast.setdefault("E_star", []).append(np.asarray(s.E_star))
        for p in sj.analysis.IMPROVEMENT_PARAMETERS:
            elast.setdefault(f"elasticity_{p}", []).append(np.asarray(getattr(s.elasticity, p)))
            elast.setdefault(f"dEstar_d_{p}", []).append(np.asarray(getattr(s.derivative, p)))
        elast.setdefault("largest", []).append(
            np.asarray(sj.analysis.largest_elasticity(s, ELASTICITY_PARAMETERS), dtype=str)
        )
        done += 1
        harness.report_progress(progress, done, total)
    return {
        "figure": FIGURE,
        "parameters": dict(params),
        "grid": {
            "thermals": len(names),
            "C_minus_cases": int(cases.size),
            "front_points": int(fronts_cols["front"].size),
            "sample_per_case": int(params["n_sample"]),
            "C_minus_elasticity": int(grid.size),
        },
        "thermals": names,
        "C_minus_cases": cases,
        "fronts": fronts_cols,
        "optima": optima,
        "sample": sample,
        "elasticities": {k: np.concatenate(v) for k, v in elast.items()},
    }


def _panel_a(ax, data: dict, name: str) -> None:
    fr = data["fronts"]
    for k, c in enumerate(data["C_minus_cases"]):
        color = _C_COLORS[k % len(_C_COLORS)]
        x = data["sample"][f"{name}/{c:g}/E_plus_given_minus"]
        y = data["sample"][f"{name}/{c:g}/E_minus_given_plus"]
        ax.scatter(x, y, s=1.0, color=sjp.pale(color, 0.25), lw=0, rasterized=True, zorder=1)
        for kind, ls in (("pareto", "-"), ("asymmetry", "--")):
            m = (fr["thermal"] == name) & (fr["C_minus"] == c) & (fr["front"] == kind)
            ax.plot(
                fr["E_plus_given_minus"][m], fr["E_minus_given_plus"][m], ls, color=color, lw=1.8, zorder=3
            )
        (opt,) = [o for o in data["optima"] if o["thermal"] == name and o["C_minus"] == float(c)]
        for label, marker in (("plus_optimum", "o"), ("minus_optimum", "s")):
            ax.plot(
                opt[f"{label}_E_plus_given_minus"],
                opt[f"{label}_E_minus_given_plus"],
                marker=marker,
                ms=6,
                mfc="white",
                mec=color,
                mew=1.5,
                ls="",
                zorder=4,
            )
    for fn in (ax.axvline, ax.axhline):
        fn(sj.STEERING_BOUND, color="#444444", lw=0.9, ls=":", zorder=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(0.07, 2.0)
    ax.set_ylim(0.07, 2.0 * float(data["parameters"]["asymmetry_max"]))
    ax.set_xlabel(r"$E_{+|-}$ (client $\Rightarrow$ server)")
    ax.set_ylabel(r"$E_{-|+}$ (server $\Rightarrow$ client)")
    ax.set_title(
        f"{sjp.THERMAL_LABELS.get(name, name)}, $\\epsilon = {float(data['parameters']['eps']):g}$",
        fontsize=10,
    )
    # the regimes' quadrants around (1/2, 1/2), labelled away from the fronts (data coordinates)
    for x, y, ha, va, text in (
        (0.09, 60.0, "left", "top", "one-way: client $\\Rightarrow$ server\n(server cannot steer back)"),
        (0.53, 0.46, "left", "top", "one-way\nserver $\\Rightarrow$ client"),
        (0.47, 0.46, "right", "top", "two-way"),
    ):
        ax.text(x, y, text, ha=ha, va=va, fontsize=7.5, color="#444444", zorder=5)


def plot(data: dict):
    """(a) the (E_{+|-}, E_{-|+}) plane per thermal set; (b) the elasticities against C_-."""
    names = data["thermals"]
    fig, axes = sjp.new_figure(1, len(names) + 1, figsize=(5.0 * (len(names) + 1), 5.2))
    for k, name in enumerate(names):
        _panel_a(axes[0][k], data, name)
        sjp.panel_label(axes[0][k], "(a)" if k == 0 else f"(a{chr(39) * k})")
    ax_b = axes[0][-1]
    el = data["elasticities"]
    for j, name in enumerate(names):
        m = el["thermal"] == name
        for p in ELASTICITY_PARAMETERS:
            y = el[f"elasticity_{p}"][m]
            if np.all(y == 0):
                continue  # e.g. nbar_+ = 0 of the vacuum server: no relative change
            bath = p in _BATH_MARKER
            ax_b.plot(
                el["C_minus"][m],
                y,
                _THERMAL_STYLES[j % 3],
                color=_PARAM_COLORS[p],
                lw=1.0 if bath else 2.2,
                marker=_BATH_MARKER.get(p),
                ms=3.0,
                zorder=4 if bath else 3,
            )
    ax_b.axhline(0.0, color="#444444", lw=0.8)
    ax_b.set_xscale("log")
    ax_b.set_xlabel(r"$C_-$")
    ax_b.set_ylabel(r"elasticity $\partial \ln E^*_{+|-} / \partial \ln p$")
    ax_b.set_title("what 1 % more of p does to the optimal $E_{+|-}$", fontsize=10)
    sjp.panel_label(ax_b, "(b)")
    handles = [
        Line2D([], [], color=_C_COLORS[k % len(_C_COLORS)], lw=1.8, label=f"(a) $C_- = {c:g}$")
        for k, c in enumerate(data["C_minus_cases"])
    ]
    handles += [
        Line2D([], [], color="#333333", ls="-", lw=1.8, label="(a) Pareto front"),
        Line2D([], [], color="#333333", ls="--", lw=1.8, label="(a) asymmetry front"),
        Line2D([], [], ls="", marker="o", mfc="white", mec="#333333", label=r"(a) optimum of $E_{+|-}$"),
        Line2D([], [], ls="", marker="s", mfc="white", mec="#333333", label=r"(a) optimum of $E_{-|+}$"),
    ]
    handles += [
        Line2D([], [], color=_PARAM_COLORS[p], lw=1.8, label=f"(b) {_PARAM_LABELS[p]}")
        for p in ELASTICITY_PARAMETERS
    ]
    handles += [
        Line2D(
            [],
            [],
            color="#333333",
            ls=_THERMAL_STYLES[j % 3],
            lw=1.8,
            label=f"(b) {sjp.THERMAL_LABELS.get(n, n)}",
        )
        for j, n in enumerate(names)
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    return fig


def summary(data: dict) -> dict:
    """Derived numbers for the JSON file: per thermal set and C_- of panel (a) the fronts' ends
    and the best one-way steering; per thermal set which parameter pays most, by C_-."""
    fr, el = data["fronts"], data["elasticities"]
    cases = []
    for name in data["thermals"]:
        for c in data["C_minus_cases"]:
            m = (fr["thermal"] == name) & (fr["C_minus"] == c)
            asym = m & (fr["front"] == "asymmetry")
            one_way = asym & (fr["E_minus_given_plus"] >= sj.STEERING_BOUND)
            cases.append(
                {
                    "thermal": name,
                    "C_minus": float(c),
                    "pareto_points": int(np.sum(m & (fr["front"] == "pareto"))),
                    "best_one_way_E_plus_given_minus": (
                        float(np.min(fr["E_plus_given_minus"][one_way])) if one_way.any() else None
                    ),
                }
            )
    largest = {
        name: {
            f"{c:g}": str(p)
            for c, p in zip(
                el["C_minus"][el["thermal"] == name], el["largest"][el["thermal"] == name], strict=True
            )
        }
        for name in data["thermals"]
    }
    return {"cases": cases, "optima": data["optima"], "largest_elasticity": largest}


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 10 into ``out_dir``; returns the metadata (also written as
    ``fig10.json``).  Files: ``fig10.png``, ``fig10.pdf``, ``fig10_fronts.csv`` (both fronts per
    thermal set and C_-), ``fig10_elasticities.csv`` (panel (b)), ``fig10_sample.npz`` (the
    random designs' E of panel (a)) and ``fig10.json``."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    data = compute(quick, progress=None if progress is None else lambda d, t: progress(d, t + 1), **overrides)
    t1 = time.perf_counter()
    fig = plot(data)
    files = sjp.save_figure(fig, out_dir, FIGURE)
    t2 = time.perf_counter()
    files.append(harness.save_table(out_dir, f"{FIGURE}_fronts", data["fronts"]))
    files.append(harness.save_table(out_dir, f"{FIGURE}_elasticities", data["elasticities"]))
    files.append(harness.save_arrays(out_dir, f"{FIGURE}_sample", data["sample"]))
    return harness.finish_run(
        out_dir,
        FIGURE,
        TITLE,
        parameters=data["parameters"],
        grid=data["grid"],
        quick=quick,
        times=(t0, t1, t2),
        files=files,
        results={"dtype": str(np.asarray(data["fronts"]["E_plus_given_minus"]).dtype), **summary(data)},
        script=__file__,
        progress=progress,
        total=len(data["thermals"]) * (len(data["C_minus_cases"]) + 1) + 1,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
