"""Optima beyond the rotating-wave approximation (issue 16): ``steerjax optimize --omega-hz``.

Checked against (i) the table of issue 16, computed there with an independently derived lab-frame
model and checked against a cascaded master equation, to its printed digits, and (ii) scipy
searches over the numpy reference model of ``tests/reference_lab_frame.py`` (no steerjax).
Hot set, client damping ratio >= 1e-2, eps = 0, Omega/2pi = 1.3 MHz.
"""

from __future__ import annotations

import csv
import math

import jax
import numpy as np
import pytest
from scipy.optimize import minimize

import reference_optimum
import steerjax as sj
from reference_lab_frame import covariance, rates_from_rho, rates_from_theta, schur_E
from steerjax._cli import main

OMEGA = 1.3e6
C_MINUS = (10.0, 100.0, 1000.0)
RHO_MIN = 0.01
# issue 16's table: C-, E in the paper's model, lab frame at phi = 0 (the paper's design),
# lab frame with phi re-tuned, and that phase [mrad]
ISSUE_TABLE = {
    10.0: (0.2870, 0.2873, 0.2871, -18.6),
    100.0: (0.1014, 0.1086, 0.1017, -15.7),
    1000.0: (0.0342, 0.2040, 0.0353, -15.4),
}
HOT = dict(gamma0=0.1, nbar=1e5)


def _lab_E(x, C_minus, omega=OMEGA):
    """Reference E_{+|-} (rotation invariant) at (theta_+, rho_-, C_+, phi), rates in Hz."""
    theta_p, rho_m, C_p, phi = x
    S = covariance(
        rates_from_rho(rho_m, C_minus, **HOT), rates_from_theta(theta_p, C_p, **HOT), 0.0, phi, omega
    )
    return schur_E(S, "plus")


def _paper_E(x, C_minus):
    """Reference E_{+|-} of the paper's model: Eqs. (4), (6) as printed, in numpy."""
    theta_p, rho_m, C_p = x
    plus = reference_optimum._rates_from_theta(theta_p, C_p, HOT["gamma0"], HOT["nbar"])
    minus = reference_optimum._rates_from_rho(rho_m, C_minus, HOT["gamma0"], HOT["nbar"])
    return float(reference_optimum.textbook_E(plus, minus, 0.0)[0])


@pytest.fixture(scope="module")
def optima(tmp_path_factory):
    """``steerjax optimize --omega-hz 1.3e6`` (phi re-tuned within its default [-pi/2, pi/2])."""
    out = tmp_path_factory.mktemp("lab") / "optima.csv"
    argv = ["optimize", "--thermal", "hot", "--c-minus", *map(str, C_MINUS)]
    argv += ["--min-damping-ratio", str(RHO_MIN), "--omega-hz", str(OMEGA), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return {float(r["C_minus"]): r for r in rows}


def test_retuned_optima_reproduce_the_issue_table(optima):
    for C, (_, _, e_retuned, phi_mrad) in ISSUE_TABLE.items():
        row = optima[C]
        assert float(row["omega_hz"]) == OMEGA
        assert round(float(row["E"]), 4) == e_retuned, (C, row["E"])
        # the optimum is flat in phi (E changes by < 4e-5 relative over 0.3 mrad here), so the
        # phase agrees only to a few tenths of a mrad; see the README
        assert abs(1e3 * float(row["phi"]) - phi_mrad) < 0.35, (C, row["phi"])
        assert float(row["damping_ratio_minus"]) == pytest.approx(RHO_MIN, rel=1e-6)
    assert round(1e3 * float(optima[100.0]["phi"]), 1) == -15.7


@pytest.mark.parametrize("C", [10.0, 100.0])
def test_retuned_optimum_not_beaten_by_independent_search(optima, C):
    """Nelder-Mead over (theta_+, rho_-, C_+, phi) of the numpy reference model, from the
    returned design and from the paper's optimum at phi = 0: never more than 1e-9 below."""
    row = optima[C]
    ours = float(row["E"])
    x_ours = np.array([float(row["theta_plus"]), RHO_MIN, float(row["C_plus"]), float(row["phi"])])
    assert _lab_E(x_ours, C) == pytest.approx(ours, rel=1e-9)

    def f(z):  # rho_- >= RHO_MIN through a square, C_+ through a log
        x = (z[0], RHO_MIN + z[1] ** 2, math.exp(z[2]), z[3])
        if not (0.0 < x[0] < math.pi / 2):
            return 10.0
        return _lab_E(x, C)

    best = np.inf
    for z0 in ([x_ours[0], 0.0, math.log(x_ours[2]), x_ours[3]], [x_ours[0], 0.05, math.log(x_ours[2]), 0.0]):
        res = minimize(f, z0, method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-14, maxfev=1500))
        best = min(best, res.fun)
    assert best >= ours * (1 - 1e-9), (best, ours)


def test_paper_design_in_the_lab_frame_matches_the_issue_table():
    """Columns 2-3 of the table: the paper's optimum with client damping ratio >= 1e-2, found by
    L-BFGS-B on the reference model at Omega -> infinity, evaluated at 1.3 MHz, phi = 0, by the
    reference and by steerjax."""
    designs, refs = [], []
    for C, (e_paper, e_lab0, _, _) in ISSUE_TABLE.items():
        best = None
        for t0, c0 in ((0.82, 1.0), (0.9, 1.0), (1.0, 1.5), (1.3, 1.8), (1.5, 3.0)):
            res = minimize(
                _paper_E,
                [t0, RHO_MIN, c0 * C],
                args=(C,),
                method="L-BFGS-B",
                bounds=[(0.79, 1.5707), (RHO_MIN, 1.0), (C * 1e-3, C * 1e3)],
            )
            best = res if best is None or res.fun < best.fun else best
        assert round(best.fun, 4) == e_paper, (C, best.fun)
        ref = _lab_E((*best.x, 0.0), C)
        assert round(ref, 4) == e_lab0, (C, ref)
        designs.append((best.x[0], rates_from_rho(best.x[1], C, **HOT)[1], best.x[2], C))
        refs.append(ref)
    d = sj.Design(*(np.array(x) for x in zip(*designs, strict=True)))
    ours = jax.jit(lambda d: sj.lab_frame_steering(sj.HOT, d, OMEGA, fixed_pairing=False))(d)
    # theta_- from rho_- carries the conditioning of the client's edge (rho_- = 1e-2: ~1e-14)
    np.testing.assert_allclose(np.asarray(ours.E_plus_given_minus), refs, rtol=1e-9)
