"""Fig. 11 (beyond the paper): the optimum beyond the rotating-wave approximation.

The paper's model (Eqs. 1-4) assumes the oscillator frequency Omega far above every rate.  With
the hot set a readout rate Gamma_- = C_- x 2pi x 10 kHz reaches a typical membrane or spin
frequency Omega/2pi = 1.3 MHz near C_- = 100.  The lab-frame model (:func:`steerjax.lab_frame_steering`;
one broadband light channel, client at -Omega, server at +Omega) keeps the terms the RWA drops.

(a) Optimal E_{+|-} against C_- (hot set, eps = 0, asymmetric coupling, client damping ratio
    >= ``min_damping_ratio``): in the paper's model (``sj.Problem``); the paper's optimum evaluated
    in the lab frame at phi = 0 (a design built as the paper writes it); and the lab-frame
    optimum with the carrier phase phi between the sites re-tuned (``sj.Problem(omega_hz=...,
    phi_bounds=...)``).  Vertical lines: where each lab-frame curve departs from the paper's E by
    more than ``error_mark`` (1 %).
(b) The re-tuned carrier phase phi* [mrad] against C_-.

Run on its own::

    python experiments/fig11_beyond_rotating_wave.py --out figures [--quick]

or through ``steerjax figures --only 11``.  Change a parameter from Python::

    data = compute(omega_hz=2.0e6)   # any key of DEFAULTS
    fig = plot(data)
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import numpy as np

import _harness as harness
import steerjax as sj
import steerjax.plotting as sjp

FIGURE = "fig11"
TITLE = (
    "Beyond the rotating-wave approximation: optimal E_{+|-} at Omega/2pi = 1.3 MHz and the re-tuned phase"
)

DEFAULTS: dict[str, object] = {
    "thermal": "hot",  # preset of steerjax.thermal_preset
    "eps": 0.0,  # transmission loss
    "omega_hz": 1.3e6,  # oscillator frequency Omega/2pi [Hz]
    "min_damping_ratio": 0.01,  # client (and server) damping ratio kept at or above this
    "C_minus_range": (1.0, 1000.0),  # C_- axis (log)
    "n_C": 25,  # points in C_- (log spaced)
    "phi_bounds": (-math.pi / 2, math.pi / 2),  # search interval of the carrier phase [rad]
    "error_mark": 0.01,  # mark where |E_lab/E_paper - 1| first exceeds this
    "n_starts": 8,  # starts of the optimiser per optimum
}
"""Every parameter of the figure; :func:`compute` accepts any of them as a keyword override."""

QUICK = {"n_C": 9}
"""Grid size of ``--quick`` (compilation of the lab-frame optimiser is most of the time)."""

FILES = ("png", "pdf", "csv", "json")

_DIRECTION, _COUPLING = "plus-given-minus", "asymmetric"
_COLORS = {"paper": "#000000", "lab0": "#c0392b", "lab": "#1f5fa8"}


def _check(params: dict) -> None:
    """Range checks of the figure's own parameters (the library checks the physical ones)."""

    def bad(name, value, allowed):
        raise ValueError(f"{FIGURE}: {name} = {value!r} is outside the allowed range {allowed}")

    try:
        lo, hi = (float(v) for v in params["C_minus_range"])
    except (TypeError, ValueError):
        bad("C_minus_range", params["C_minus_range"], "(lo, hi) with 0 < lo < hi < inf")
    if not 0.0 < lo < hi < math.inf:
        bad("C_minus_range", params["C_minus_range"], "(lo, hi) with 0 < lo < hi < inf")
    if int(params["n_C"]) != params["n_C"] or int(params["n_C"]) < 2:
        bad("n_C", params["n_C"], "integers >= 2")
    if not 0.0 < float(params["error_mark"]) < 1.0:
        bad("error_mark", params["error_mark"], "(0, 1)")
    if int(params["n_starts"]) != params["n_starts"] or int(params["n_starts"]) < 1:
        bad("n_starts", params["n_starts"], "integers >= 1")


@jax.jit
def _lab_E(thermal, design, omega_hz):
    return sj.lab_frame_steering(thermal, design, omega_hz, fixed_pairing=False, on_invalid="nan")


def first_crossing(C: np.ndarray, error: np.ndarray, level: float) -> float | None:
    """The smallest C_- at which |error| reaches ``level``, interpolated linearly in
    (log C_-, log |error|) between the grid points that bracket it; None if it never does."""
    err = np.abs(np.asarray(error, dtype=float))
    above = np.nonzero(err >= level)[0]
    if above.size == 0:
        return None
    k = int(above[0])
    if k == 0:
        return float(C[0])
    x0, x1 = math.log(C[k - 1]), math.log(C[k])
    y0, y1 = math.log(max(err[k - 1], 1e-300)), math.log(err[k])
    return float(math.exp(x0 + (math.log(level) - y0) * (x1 - x0) / (y1 - y0)))


def compute(quick: bool = False, *, progress=None, **overrides) -> dict:
    """Optima in the paper's model and in the lab frame, and the paper's optimum evaluated in
    the lab frame.

    Returns:
        A dict with ``parameters``, ``grid``, ``table`` (one row per C_-: ``E_paper``,
        ``E_lab_phi0`` (the paper's design in the lab frame at phi = 0), ``E_lab`` and ``phi``
        (the re-tuned lab-frame optimum), the relative errors ``error_phi0`` = E_paper/E_lab_phi0
        - 1 and ``error_retuned`` = E_paper/E_lab - 1, and the designs) and ``crossings`` (C_-
        where each error first exceeds ``error_mark``).
    """
    params = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults=QUICK)
    _check(params)
    thermal = sj.thermal_preset(str(params["thermal"]))
    eps, omega = float(params["eps"]), float(params["omega_hz"])
    rho = float(params["min_damping_ratio"])
    search = sj.SearchOptions(n_starts=int(params["n_starts"]))
    C = sj.log_grid(*(float(v) for v in params["C_minus_range"]), int(params["n_C"]))
    total, done = 3, 0
    common = dict(eps=eps, direction=_DIRECTION, coupling=_COUPLING, min_damping_ratio=rho)

    paper = sj.optimize(sj.Problem(thermal, C, **common), search)
    done += 1
    harness.report_progress(progress, done, total)
    lab0 = _lab_E(thermal, paper.design, omega)
    done += 1
    harness.report_progress(progress, done, total)
    lab = sj.optimize(
        sj.Problem(thermal, C, **common, omega_hz=omega, phi_bounds=tuple(params["phi_bounds"])), search
    )
    done += 1
    harness.report_progress(progress, done, total)

    table = {
        "C_minus": C,
        "Gamma_minus_over_Omega": C * float(thermal.gamma_tilde0_minus_hz) / omega,
        "E_paper": np.asarray(paper.value),
        "E_lab_phi0": np.asarray(lab0.E_plus_given_minus),
        "E_lab": np.asarray(lab.value),
        "phi": np.asarray(lab.design.phi),
        "theta_plus_paper": np.asarray(paper.design.theta_plus),
        "theta_minus_paper": np.asarray(paper.design.theta_minus),
        "C_plus_paper": np.asarray(paper.design.C_plus),
        "theta_plus_lab": np.asarray(lab.design.theta_plus),
        "theta_minus_lab": np.asarray(lab.design.theta_minus),
        "C_plus_lab": np.asarray(lab.design.C_plus),
        "converged_paper": np.asarray(paper.converged),
        "converged_lab": np.asarray(lab.converged),
    }
    table["error_phi0"] = table["E_paper"] / table["E_lab_phi0"] - 1.0
    table["error_retuned"] = table["E_paper"] / table["E_lab"] - 1.0
    mark = float(params["error_mark"])
    crossings = {
        "phi0": first_crossing(C, table["error_phi0"], mark),
        "retuned": first_crossing(C, table["error_retuned"], mark),
    }
    return {
        "figure": FIGURE,
        "parameters": dict(params),
        "grid": {"C_minus": int(C.size), "optima": 2 * int(C.size)},
        "table": table,
        "crossings": crossings,
    }


def plot(data: dict):
    """(a) the three optimal curves against C_- with the 1 % marks; (b) the re-tuned phase."""
    params = data["parameters"]
    t = data["table"]
    C = t["C_minus"]
    fig, axes = sjp.new_figure(2, 1, figsize=(6.8, 7.6), height_ratios=(2.2, 1.0))
    ax_a, ax_b = axes[0][0], axes[1][0]
    omega_mhz = float(params["omega_hz"]) / 1e6
    ax_a.plot(C, t["E_paper"], color=_COLORS["paper"], lw=1.8, label="paper's model (RWA)")
    ax_a.plot(
        C,
        t["E_lab_phi0"],
        color=_COLORS["lab0"],
        lw=1.6,
        ls="--",
        label=rf"paper's design, lab frame $\Omega/2\pi$ = {omega_mhz:g} MHz, $\phi = 0$",
    )
    ax_a.plot(
        C,
        t["E_lab"],
        color=_COLORS["lab"],
        lw=1.6,
        marker="o",
        ms=3,
        label=r"lab-frame optimum, $\phi$ re-tuned",
    )
    mark = float(params["error_mark"])
    for key, color in (("phi0", _COLORS["lab0"]), ("retuned", _COLORS["lab"])):
        c = data["crossings"][key]
        if c is not None:
            for ax in (ax_a, ax_b):
                ax.axvline(c, color=color, lw=0.9, ls=":", zorder=1)
            ax_a.annotate(
                f"{100 * mark:g} % off\n$C_- \\approx$ {c:.3g}",
                (c, float(np.min(t["E_paper"])) * 1.15),
                xytext=(-3, 0),  # left of the line, below the curves
                textcoords="offset points",
                fontsize=7.5,
                color=color,
                ha="right",
                va="bottom",
            )
    sjp.log_axis(ax_a, "x")
    sjp.log_axis(ax_a, "y", minor_labels=True)
    ax_a.set_ylabel(r"optimal $E_{+|-}$")
    ax_a.set_title(
        f"{sjp.THERMAL_LABELS.get(str(params['thermal']), params['thermal'])}, "
        f"$\\epsilon = {float(params['eps']):g}$, client damping ratio $\\geq$ "
        f"{float(params['min_damping_ratio']):g}",
        fontsize=10,
    )
    ax_a.legend(fontsize=8, loc="upper right", frameon=False)
    sjp.panel_label(ax_a, "(a)")
    twin = ax_a.secondary_xaxis(
        "top",
        functions=(
            lambda c: c * float(t["Gamma_minus_over_Omega"][0]) / float(C[0]),
            lambda r: r * float(C[0]) / float(t["Gamma_minus_over_Omega"][0]),
        ),
    )
    twin.set_xlabel(r"$\Gamma_-/\Omega$", fontsize=8.5)
    twin.tick_params(labelsize=7.5)

    # only where the optimum steers: at E = 1/2 (no steering, C_- <~ 1) E is flat in phi
    steers = t["E_lab"] < sj.STEERING_BOUND
    ax_b.plot(C[steers], 1e3 * t["phi"][steers], color=_COLORS["lab"], lw=1.6, marker="o", ms=3)
    ax_b.axhline(0.0, color="#444444", lw=0.8)
    sjp.log_axis(ax_b, "x")
    ax_b.set_xlim(ax_a.get_xlim())
    ax_b.set_xlabel(r"client cooperativity $C_-$")
    ax_b.set_ylabel(r"re-tuned phase $\phi^*$ [mrad]")
    ax_b.text(
        0.98,
        0.06,
        "shown where the optimum steers (E < 1/2)",
        transform=ax_b.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        color="#444444",
    )
    sjp.panel_label(ax_b, "(b)")
    return fig


def summary(data: dict) -> dict:
    """Derived numbers for the JSON file: the 1 % crossings and the largest errors."""
    t = data["table"]
    return {
        "crossings_C_minus": data["crossings"],
        "max_error_phi0": float(np.max(np.abs(t["error_phi0"]))),
        "max_error_retuned": float(np.max(np.abs(t["error_retuned"]))),
        "phi_range_mrad_where_steering": [
            float(1e3 * np.min(t["phi"][t["E_lab"] < sj.STEERING_BOUND])),
            float(1e3 * np.max(t["phi"][t["E_lab"] < sj.STEERING_BOUND])),
        ],
        "not_converged": int(np.count_nonzero(~t["converged_lab"]) + np.count_nonzero(~t["converged_paper"])),
    }


def main(out_dir, quick: bool = False, progress=None, **overrides) -> dict:
    """Compute, plot and write Fig. 11 into ``out_dir``; returns the metadata (also written as
    ``fig11.json``).  Files: ``fig11.png``, ``fig11.pdf``, ``fig11.csv`` (one row per C_-) and
    ``fig11.json``."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    data = compute(quick, progress=None if progress is None else lambda d, t: progress(d, t + 1), **overrides)
    t1 = time.perf_counter()
    fig = plot(data)
    files = sjp.save_figure(fig, out_dir, FIGURE)
    t2 = time.perf_counter()
    files.append(harness.save_table(out_dir, FIGURE, data["table"]))
    return harness.finish_run(
        out_dir,
        FIGURE,
        TITLE,
        parameters=data["parameters"],
        grid=data["grid"],
        quick=quick,
        times=(t0, t1, t2),
        files=files,
        results={"coupling": _COUPLING, "direction": _DIRECTION, **summary(data)},
        script=__file__,
        progress=progress,
        total=4,
    )


if __name__ == "__main__":
    harness.run_as_script(main, FIGURE, __doc__)
