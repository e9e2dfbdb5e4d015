"""Fig. 9 (beyond the paper): the price of robustness to a phase error.

The inter-subsystem phase phi (the quadrature rotation of the light between the two sites,
Sec. II) is zero in the paper's designs.  The optimum of E_{+|-} (asymmetric coupling, hot set,
eps = 0) puts the client at its stability edge, where E grows without bound as soon as phi != 0.
A *phase-robust* optimum minimises instead the worst case of E over phi in [-delta, delta]
(:class:`steerjax.Problem` with ``phase_tolerance=delta``; the worst case is the exact maximum
over the interval, :func:`steerjax.worst_case_over_phase`).

(a) E_{+|-} against phi for C_- = 10: the nominal optimum (delta = 0, black) and the robust
    optima for delta = 1 mrad and 10 mrad (coloured, their tolerance intervals shaded), on a
    symmetric-log phi axis (linear within +-``phi_linear``) and a log E axis; the dotted line
    is E = 1/2 and the open circles mark where each design stops steering.
(b) The robust optimum's worst case E_worst against delta (log axis) for C_- = 2, 10, 100;
    the thin horizontal lines are the nominal optima E* (delta = 0), and the dotted line is
    E = 1/2.  E_worst - E* is what a phase stability of +-delta costs.

All robust optima (every delta of panel (b) and the two designs of panel (a)) are one batch of
one :class:`steerjax.Problem`, so the robust optimiser compiles once; the nominal optima are a
second batch.

Run on its own::

    python experiments/fig9_price_of_robustness.py --out figures [--quick]

or through ``steerjax figures --only 9``.  Change a parameter from Python::

    data = compute(C_minus_cases=(5.0, 50.0))   # any key of DEFAULTS
    fig = plot(data)
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import numpy as np
from matplotlib.lines import Line2D

import _harness as harness
import steerjax as sj
import steerjax.plotting as sjp

FIGURE = "fig9"
TITLE = "The price of robustness: E_{+|-} against a phase error, and the robust optimum's worst case"

DEFAULTS: dict[str, object] = {
    "thermal": "hot",  # preset of steerjax.thermal_preset
    "eps": 0.0,  # transmission loss
    "C_minus_phase": 10.0,  # client cooperativity of panel (a)
    "phase_tolerances": (1e-3, 1e-2),  # delta [rad] of the robust designs of panel (a)
    "phi_max": 0.03,  # panel (a): phi in [-phi_max, phi_max] [rad]
    "phi_linear": 1e-7,  # panel (a): the phi axis is linear within +-phi_linear [rad]
    "n_phi": 241,  # panel (a): points per sign of phi (log spaced in |phi|), plus phi = 0
    "C_minus_cases": (2.0, 10.0, 100.0),  # panel (b): one curve each
    "delta_range": (1e-5, 10**-1.5),  # panel (b): phase tolerance delta [rad] (log axis)
    "n_delta": 15,  # panel (b): points in delta (log spaced; 15: four per decade)
    "n_starts": 8,  # starts of the optimiser per optimum
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_delta": 8, "n_phi": 81}
"""Grid sizes of ``--quick`` (two deltas per decade; the robust optimiser's compilation, not the
grid, is most of the time)."""

FILES = ("png", "pdf", "phase.csv", "worst_case.csv", "json")

_DIRECTION, _COUPLING = "plus-given-minus", "asymmetric"
_NOMINAL_COLOR = "#000000"
_DELTA_COLORS = ("#1a9a8a", "#c0392b", "#b8860b", "#8e44ad")
"""Panel (a): one colour per robust design (in the order of ``phase_tolerances``)."""
_C_COLORS = ("#e07b18", "#1f5fa8", "#7a2a8c", "#2a9d5c", "#8a8a8a")
"""Panel (b): one colour per C_- (in the order of ``C_minus_cases``)."""


def _check(params: dict) -> None:
    """Range checks of the figure's own parameters (the library checks the physical ones)."""

    def bad(name, value, allowed):
        raise ValueError(f"{FIGURE}: {name} = {value!r} is outside the allowed range {allowed}")

    def positive_list(name):
        values = np.atleast_1d(np.asarray(params[name], dtype=float))
        if values.ndim != 1 or values.size == 0 or np.any(~((values > 0) & np.isfinite(values))):
            bad(name, params[name], "one or more values in (0, inf)")
        return values

    positive_list("C_minus_cases")
    deltas = positive_list("phase_tolerances")
    if np.any(deltas > math.pi / 2):
        bad("phase_tolerances", params["phase_tolerances"], "values in (0, pi/2]")
    if not 0.0 < float(params["C_minus_phase"]) < math.inf:
        bad("C_minus_phase", params["C_minus_phase"], "(0, inf)")
    try:
        lo, hi = (float(v) for v in params["delta_range"])
    except (TypeError, ValueError):
        bad("delta_range", params["delta_range"], "(lo, hi) with 0 < lo < hi <= pi/2")
    if not 0.0 < lo < hi <= math.pi / 2:
        bad("delta_range", params["delta_range"], "(lo, hi) with 0 < lo < hi <= pi/2")
    if not 0.0 < float(params["phi_max"]) <= math.pi / 2:
        bad("phi_max", params["phi_max"], "(0, pi/2]")
    if not 0.0 < float(params["phi_linear"]) < float(params["phi_max"]):
        bad("phi_linear", params["phi_linear"], f"(0, phi_max = {params['phi_max']!r})")
    for name, least in (("n_delta", 2), ("n_phi", 3)):
        if int(params[name]) != params[name] or int(params[name]) < least:
            bad(name, params[name], f"integers >= {least}")
    if int(params["n_starts"]) != params["n_starts"] or int(params["n_starts"]) < 1:
        bad("n_starts", params["n_starts"], "integers >= 1")


def phi_grid(phi_linear: float, phi_max: float, n: int, deltas) -> np.ndarray:
    """Phases of panel (a): ``n`` values of |phi| log spaced from ``phi_linear / 10`` to
    ``phi_max``, both signs, phi = 0, and the ends +-delta of every tolerance interval (so that
    the curves' maxima over the intervals are on the grid)."""
    mags = sj.log_grid(float(phi_linear) / 10.0, float(phi_max), int(n))
    mags = np.concatenate([mags, np.asarray(deltas, dtype=float)])
    mags = mags[mags <= float(phi_max)]
    return np.unique(np.concatenate([-mags, [0.0], mags]))


_FIELDS = ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")


def _E_at_phases(thermal: sj.Thermal, designs: dict[str, np.ndarray], phi) -> np.ndarray:
    """E_{+|-} of designs (a dict of flat numpy fields, one design per row) at the phases
    ``phi`` (shape rows x phases), in one jitted call."""
    phi = np.asarray(phi, dtype=float)
    design = sj.Design(**{f: np.broadcast_to(designs[f][:, None], phi.shape) for f in _FIELDS}, phi=phi)
    return np.asarray(_E_jit(thermal, design))


@jax.jit
def _E_jit(thermal, design):
    return sj.steering_at_phase(thermal, design, on_invalid="nan")[0]


@jax.jit
def _worst_jit(thermal, design, delta):
    # jitted: run eagerly, the root search of worst_case_over_phase costs ~20 s of dispatch
    return sj.worst_case_over_phase(thermal, design, _DIRECTION, delta, on_invalid="nan").E_worst


def loss_of_steering(thermal: sj.Thermal, designs: dict[str, np.ndarray], lo, hi, iterations: int = 60):
    """Bisection, for every row at once, for the phase at which E_{+|-} reaches 1/2 between
    ``lo`` (E < 1/2) and ``hi`` (E >= 1/2) [rad]; 60 halvings reach the rounding of phi."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(int(iterations)):
        mid = 0.5 * (lo + hi)
        below = _E_at_phases(thermal, designs, mid[:, None])[:, 0] < sj.STEERING_BOUND
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def compute(quick: bool = False, *, progress=None, **overrides) -> dict:
    """Nominal and phase-robust optima, E_{+|-}(phi) of the designs of panel (a), and the worst
    case against delta of panel (b).

    Returns:
        A dict with ``parameters``, ``grid``, ``phase`` (panel (a): one row per (design, phi);
        ``delta`` = 0 is the nominal optimum), ``worst_case`` (panel (b): one row per (C_-,
        delta), with the robust optimum's nominal E, E_worst and design, the nominal optimum's
        E* and its own worst case over the same interval), ``nominal`` (per C_-: E* and design)
        and ``designs_a`` (panel (a)'s designs, their E_worst and where they stop steering).
    """
    params = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults=QUICK)
    _check(params)
    thermal = sj.thermal_preset(str(params["thermal"]))
    eps = float(params["eps"])
    n_starts = int(params["n_starts"])
    cases = np.atleast_1d(np.asarray(params["C_minus_cases"], dtype=float))
    deltas_b = sj.log_grid(*(float(v) for v in params["delta_range"]), int(params["n_delta"]))
    C_a = float(params["C_minus_phase"])
    deltas_a = np.atleast_1d(np.asarray(params["phase_tolerances"], dtype=float))
    total, done = 3, 0

    # Nominal optima: every C_- of panel (b), then C_a.
    C_nom = np.concatenate([cases, [C_a]])
    nominal = sj.optimize(
        sj.Problem(thermal, C_nom, eps=eps, direction=_DIRECTION, coupling=_COUPLING),
        sj.SearchOptions(n_starts=n_starts),
    )
    done += 1
    harness.report_progress(progress, done, total)

    # Robust optima, one flat batch: (C_-, delta) of panel (b), then the designs of panel (a).
    C_rob = np.concatenate([np.repeat(cases, deltas_b.size), np.full(deltas_a.size, C_a)])
    d_rob = np.concatenate([np.tile(deltas_b, cases.size), deltas_a])
    robust = sj.optimize(
        sj.Problem(thermal, C_rob, eps=eps, direction=_DIRECTION, coupling=_COUPLING, phase_tolerance=d_rob),
        sj.SearchOptions(n_starts=n_starts),
    )
    done += 1
    harness.report_progress(progress, done, total)

    # Panel (b): the robust optimum's worst case, and the nominal optimum's over the same interval.
    n_b = cases.size * deltas_b.size
    nom_design = nominal.design
    nom_b = sj.Design(
        **{f: np.repeat(np.asarray(getattr(nom_design, f))[: cases.size], deltas_b.size) for f in _FIELDS}
    )
    nom_worst = _worst_jit(thermal, nom_b, np.tile(deltas_b, cases.size))
    rob_design = robust.design
    worst_case = {
        "C_minus": C_rob[:n_b],
        "delta": d_rob[:n_b],
        "E_worst": np.asarray(robust.E_worst)[:n_b],
        "E_nominal": np.asarray(robust.value)[:n_b],
        "E_star": np.repeat(np.asarray(nominal.value)[: cases.size], deltas_b.size),
        "E_worst_of_nominal_optimum": np.asarray(nom_worst),
        "theta_plus": np.asarray(rob_design.theta_plus)[:n_b],
        "theta_minus": np.asarray(rob_design.theta_minus)[:n_b],
        "C_plus": np.asarray(rob_design.C_plus)[:n_b],
        "damping_ratio_minus": np.asarray(robust.damping_ratio_minus)[:n_b],
        "converged": np.asarray(robust.converged)[:n_b],
    }
    worst_case["price"] = worst_case["E_worst"] / worst_case["E_star"] - 1.0
    worst_case["steers"] = worst_case["E_worst"] < sj.STEERING_BOUND

    # Panel (a): E_{+|-}(phi) of the nominal optimum at C_a and of the robust designs.
    phi = phi_grid(params["phi_linear"], params["phi_max"], params["n_phi"], deltas_a)
    rows = [("nominal", 0.0, nominal, cases.size)]
    rows += [("robust", float(d), robust, n_b + k) for k, d in enumerate(deltas_a)]
    designs = {
        f: np.array([float(np.asarray(getattr(r.design, f))[i]) for _, _, r, i in rows]) for f in _FIELDS
    }
    E = _E_at_phases(thermal, designs, np.broadcast_to(phi, (len(rows), phi.size)))
    # where each design stops steering, for each sign of phi: bracket on the grid, then bisect
    edges = np.full((len(rows), 2), np.nan)
    lo, hi, which = [], [], []
    for r in range(len(rows)):
        for j, sign in enumerate((1.0, -1.0)):
            on_side = np.nonzero(sign * phi >= 0)[0]
            on_side = on_side[np.argsort(np.abs(phi[on_side]))]
            above = np.nonzero(E[r, on_side] >= sj.STEERING_BOUND)[0]
            if above.size and above[0] > 0:
                lo.append(phi[on_side[above[0] - 1]])
                hi.append(phi[on_side[above[0]]])
                which.append((r, j))
    if which:
        rows_idx = np.array([r for r, _ in which])
        found = loss_of_steering(thermal, {f: v[rows_idx] for f, v in designs.items()}, lo, hi)
        for (r, j), value in zip(which, found, strict=True):
            edges[r, j] = abs(value)
    columns: dict[str, list] = {}
    designs_a = []
    for r, (kind, delta, res, index) in enumerate(rows):
        for key, value in (("design", kind), ("delta", delta), ("phi", phi), ("E", E[r])):
            columns.setdefault(key, []).append(np.broadcast_to(np.asarray(value), phi.shape))
        designs_a.append(
            {
                "design": kind,
                "delta": delta,
                "E_nominal": float(np.asarray(res.value)[index]),
                "E_worst": float(np.asarray(res.E_worst)[index]) if kind == "robust" else None,
                "damping_ratio_minus": float(np.asarray(res.damping_ratio_minus)[index]),
                # |phi| [rad] beyond which E >= 1/2 (None: steers on the whole grid)
                "steering_lost_at_phi": {
                    side: (None if np.isnan(edges[r, j]) else float(edges[r, j]))
                    for j, side in enumerate(("positive", "negative"))
                },
                **{f: float(designs[f][r]) for f in _FIELDS},
            }
        )
    phase = {k: np.concatenate(v) for k, v in columns.items()}
    done += 1
    harness.report_progress(progress, done, total)
    nominal_rows = [
        {
            "C_minus": float(c),
            "E_star": float(np.asarray(nominal.value)[i]),
            "damping_ratio_minus": float(np.asarray(nominal.damping_ratio_minus)[i]),
            "theta_plus": float(np.asarray(nom_design.theta_plus)[i]),
            "theta_minus": float(np.asarray(nom_design.theta_minus)[i]),
            "C_plus": float(np.asarray(nom_design.C_plus)[i]),
        }
        for i, c in enumerate(C_nom)
    ]
    return {
        "figure": FIGURE,
        "parameters": dict(params),
        "grid": {
            "phi": int(phi.size),
            "delta": int(deltas_b.size),
            "C_minus_cases": int(cases.size),
            "robust_optima": int(C_rob.size),
            "nominal_optima": int(C_nom.size),
        },
        "C_minus_cases": cases,
        "deltas": deltas_b,
        "phi": phi,
        "phase": phase,
        "worst_case": worst_case,
        "nominal": nominal_rows,
        "designs_a": designs_a,
    }


def _axis_phi(ax, phi_linear: float, phi_max: float) -> None:
    """Symmetric-log phi axis: linear within +-``phi_linear``, ticks at the powers of ten."""
    ax.set_xscale("symlog", linthresh=phi_linear, linscale=0.6)
    ax.set_xlim(-phi_max, phi_max)
    exps = range(int(math.ceil(math.log10(phi_linear))), int(math.floor(math.log10(phi_max))) + 1)
    ticks = [10.0**k for k in exps]
    ax.set_xticks([-t for t in reversed(ticks)] + [0.0] + ticks)

    def label(v, _pos=None):
        if v == 0:
            return "0"
        k = int(round(math.log10(abs(v))))
        return f"$-10^{{{k}}}$" if v < 0 else f"$10^{{{k}}}$"

    ax.xaxis.set_major_formatter(label)
    ax.tick_params(axis="x", labelsize=7.5)


def _design_color(row: dict, robust_rows: list) -> str:
    if row["design"] == "nominal":
        return _NOMINAL_COLOR
    k = [r["delta"] for r in robust_rows].index(row["delta"])
    return _DELTA_COLORS[k % len(_DELTA_COLORS)]


def _lost_markers(ax, row: dict, color: str, scale: float = 1.0) -> None:
    for side, s in (("positive", 1.0), ("negative", -1.0)):
        edge = row["steering_lost_at_phi"][side]
        if edge is not None:
            ax.plot(
                [s * edge * scale],
                [sj.STEERING_BOUND],
                marker="o",
                ms=6,
                mfc="white",
                mec=color,
                mew=1.4,
                zorder=5,
            )


def plot(data: dict):
    """(a) E_{+|-} against phi (symmetric-log phi, log E; inset: linear zoom in mrad);
    (b) the robust optimum's worst case against delta (log-log)."""
    params = data["parameters"]
    fig, axes = sjp.new_figure(1, 2, figsize=(11.5, 5.4))
    ax_a, ax_b = axes[0]
    bound = sj.STEERING_BOUND
    phase = data["phase"]
    phi_max, phi_linear = float(params["phi_max"]), float(params["phi_linear"])
    robust = [r for r in data["designs_a"] if r["design"] == "robust"]

    # (a) the whole range, and a linear zoom (inset) where the robust designs differ
    inset = ax_a.inset_axes([0.3, 0.52, 0.4, 0.33])
    for row in sorted(robust, key=lambda r: -r["delta"]):  # widest band first
        color = _design_color(row, robust)
        for x in (-row["delta"], row["delta"]):
            ax_a.axvline(x, color=color, lw=0.8, ls="--", zorder=1)
        inset.axvspan(-1e3 * row["delta"], 1e3 * row["delta"], color=sjp.pale(color, 0.15), lw=0, zorder=0)
    for row in data["designs_a"]:
        color = _design_color(row, robust)
        mask = (phase["design"] == row["design"]) & (phase["delta"] == row["delta"])
        phi, E = phase["phi"][mask], phase["E"][mask]
        ax_a.plot(phi, E, color=color, lw=1.8, zorder=3)
        inset.plot(1e3 * phi, E, color=color, lw=1.5, zorder=3)
        _lost_markers(ax_a, row, color)
        _lost_markers(inset, row, color, scale=1e3)
    for ax in (ax_a, inset):
        ax.axhline(bound, color="#444444", lw=0.9, ls=":", zorder=1)
    _axis_phi(ax_a, phi_linear, phi_max)
    ax_a.set_yscale("log")
    E_max = float(np.nanmax(phase["E"]))
    ax_a.set_ylim(0.1, 10 ** (math.ceil(math.log10(max(E_max, 10.0))) + 1))
    ax_a.set_xlabel(r"phase error $\phi$ [rad]  (symmetric log; linear within $\pm$" + f"{phi_linear:g} rad)")
    ax_a.set_ylabel(r"$E_{+|-}$")
    ax_a.set_title(
        f"{sjp.THERMAL_LABELS.get(str(params['thermal']), params['thermal'])}, "
        f"$C_- = {float(params['C_minus_phase']):g}$, $\\epsilon = {float(params['eps']):g}$; "
        r"dashed: $\pm\delta$",
        fontsize=10,
    )
    sjp.panel_label(ax_a, "(a)")
    E_robust = [r["E_nominal"] for r in data["designs_a"]]
    top = max([bound * 1.04] + [float(np.nanmax(phase["E"][phase["delta"] == r["delta"]])) for r in robust])
    inset.set_xlim(-1e3 * phi_max, 1e3 * phi_max)
    inset.set_ylim(min(E_robust) - 0.02 * (top - min(E_robust)), min(top * 1.02, bound * 1.1))
    inset.set_xlabel(r"$\phi$ [mrad] (linear)", fontsize=7.5, labelpad=1)
    inset.tick_params(labelsize=7)
    inset.set_facecolor("white")

    # (b)
    wc = data["worst_case"]
    deltas = data["deltas"]
    for k, c in enumerate(data["C_minus_cases"]):
        color = _C_COLORS[k % len(_C_COLORS)]
        t = sj.analysis.table_rows(wc, C_minus=c)
        ax_b.plot(t["delta"], t["E_worst"], color=color, lw=1.8, marker="o", ms=3.5, zorder=3)
        ax_b.axhline(t["E_star"][0], color=color, lw=0.9, ls="--", zorder=2)
        ax_b.annotate(
            f"+{100 * t['price'][-1]:.2g} %",
            (t["delta"][-1], t["E_worst"][-1]),
            xytext=(5, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=7.5,
            color=color,
            bbox=dict(facecolor="white", edgecolor="none", pad=0.6),
            zorder=6,
        )
    for row in robust:  # the designs of panel (a)
        ax_b.plot(
            [row["delta"]],
            [row["E_worst"]],
            ls="",
            marker="s",
            ms=8,
            mfc="none",
            mec=_design_color(row, robust),
            mew=1.5,
            zorder=4,
        )
    ax_b.axhline(bound, color="#444444", lw=0.9, ls=":", zorder=1)
    sjp.log_axis(ax_b, "x")
    sjp.log_axis(ax_b, "y", minor_labels=True)
    ax_b.set_xlim(deltas[0] / 1.5, deltas[-1] * 4.0)
    ax_b.set_ylim(float(np.min(wc["E_star"])) / 1.15, 0.6)
    ax_b.set_xlabel(r"phase tolerance $\delta$ [rad]")
    ax_b.set_ylabel(r"robust optimum: worst case of $E_{+|-}$ over $|\phi| \leq \delta$")
    ax_b.set_title(r"dashed: nominal optimum $E^*$; labels: $E_{\rm worst}/E^* - 1$", fontsize=10)
    sjp.panel_label(ax_b, "(b)")

    handles = [Line2D([], [], color=_NOMINAL_COLOR, lw=1.8, label=r"nominal optimum ($\delta = 0$)")]
    handles += [
        Line2D(
            [],
            [],
            color=_design_color(r, robust),
            lw=1.8,
            label=f"robust optimum, $\\delta$ = {r['delta'] * 1e3:g} mrad",
        )
        for r in robust
    ]
    handles += [
        Line2D([], [], ls="", marker="o", ms=6, mfc="white", mec="#333333", mew=1.4, label="steering lost"),
        Line2D([], [], color="#444444", lw=0.9, ls=":", label=f"bound {bound:g}"),
    ]
    handles += [
        Line2D(
            [],
            [],
            color=_C_COLORS[k % len(_C_COLORS)],
            lw=1.8,
            marker="o",
            ms=3.5,
            label=f"(b) $C_- = {c:g}$",
        )
        for k, c in enumerate(data["C_minus_cases"])
    ]
    handles.append(
        Line2D(
            [],
            [],
            ls="",
            marker="s",
            ms=8,
            mfc="none",
            mec="#333333",
            mew=1.5,
            label="(b) squares: the designs of (a)",
        )
    )
    fig.legend(handles=handles, loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    return fig


def summary(data: dict) -> dict:
    """Derived numbers for the JSON file: per C_- the price of robustness at each delta."""
    wc = data["worst_case"]
    curves = []
    for c in data["C_minus_cases"]:
        t = sj.analysis.table_rows(wc, C_minus=c)
        curves.append(
            {
                "C_minus": float(c),
                "E_star": float(t["E_star"][0]),
                "delta": [float(v) for v in t["delta"]],
                "E_worst": [float(v) for v in t["E_worst"]],
                "price_percent": [round(100 * float(v), 4) for v in t["price"]],
                "E_worst_of_nominal_optimum": [float(v) for v in t["E_worst_of_nominal_optimum"]],
                "not_converged_delta": [float(v) for v in t["delta"][~t["converged"]]],
            }
        )
    return {"curves": curves, "designs_a": data["designs_a"], "nominal": data["nominal"]}


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 9 into ``out_dir``; returns the metadata (also written as
    ``fig9.json``).  Files: ``fig9.png``, ``fig9.pdf``, ``fig9_phase.csv`` (panel (a): E_{+|-}
    per design and phi), ``fig9_worst_case.csv`` (panel (b): one robust optimum per row, with
    its design, E*, and the nominal optimum's worst case over the same interval) and
    ``fig9.json``."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    data = compute(quick, progress=None if progress is None else lambda d, t: progress(d, t + 1), **overrides)
    t1 = time.perf_counter()
    fig = plot(data)
    files = sjp.save_figure(fig, out_dir, FIGURE)
    t2 = time.perf_counter()
    files.append(harness.save_table(out_dir, f"{FIGURE}_phase", data["phase"]))
    files.append(harness.save_table(out_dir, f"{FIGURE}_worst_case", data["worst_case"]))
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
            "dtype": str(np.asarray(data["worst_case"]["E_worst"]).dtype),
            "coupling": _COUPLING,
            "direction": _DIRECTION,
            **summary(data),
        },
        script=__file__,
        progress=progress,
        total=4,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
