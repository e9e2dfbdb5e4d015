"""The Gaussian engine against the cascaded Lindblad master equation solved with QuTiP.

Independent model (cascaded-systems formalism; see the physics notes).  For each optical
sideband channel the client contributes L1 and the server L2:

* channel l: L1 = i sqrt(Gamma_-B) a_-,  L2 = i sqrt(Gamma_+P) a_+^dag,
* channel u: L1 = i sqrt(Gamma_-P) a_-^dag, L2 = i sqrt(Gamma_+B) a_+.

The field reaching the server is e^{i phi} sqrt(1-eps) (client output) + sqrt(eps) (vacuum), so
L1 enters the cascade as e^{i phi} L1: collapse operators sqrt(1-eps) e^{i phi} L1 + L2 and
sqrt(eps) L1, and the cascade Hamiltonian -(i/2) sqrt(1-eps) (L2^dag e^{i phi} L1 - h.c.).
Thermal baths: sqrt(gamma0 (nbar+1)) a and sqrt(gamma0 nbar) a^dag for each oscillator.  The
steady state in a truncated Fock space gives the symmetrised quadrature covariance, which must
equal the engine's Lyapunov solution.  Nothing here uses the engine's drift/diffusion.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import steerjax as sj

qt = pytest.importorskip("qutip")

CUTOFF = 12  # Fock states per mode
TOL = 1e-6


def _master_equation_covariance(th, d, phi, cutoff=CUTOFF):
    """Steady-state covariance of (X_-, P_-, X_+, P_+) from the cascaded master equation."""
    am = qt.tensor(qt.destroy(cutoff), qt.qeye(cutoff))
    ap = qt.tensor(qt.qeye(cutoff), qt.destroy(cutoff))
    Gm = d["C_minus"] * th["gamma0_minus_hz"] * (th["nbar_minus"] + 0.5)
    Gp = d["C_plus"] * th["gamma0_plus_hz"] * (th["nbar_plus"] + 0.5)
    GmB, GmP = Gm * math.sin(d["theta_minus"]) ** 2, Gm * math.cos(d["theta_minus"]) ** 2
    GpB, GpP = Gp * math.sin(d["theta_plus"]) ** 2, Gp * math.cos(d["theta_plus"]) ** 2
    t = math.sqrt(1.0 - d["eps"])
    rot = complex(math.cos(phi), math.sin(phi))
    channels = (
        (1j * math.sqrt(GmB) * am, 1j * math.sqrt(GpP) * ap.dag()),  # lower sideband
        (1j * math.sqrt(GmP) * am.dag(), 1j * math.sqrt(GpB) * ap),  # upper sideband
    )
    H = 0 * am.dag() * am
    c_ops = []
    for L1, L2 in channels:
        L1r = rot * L1
        c_ops += [t * L1r + L2, math.sqrt(d["eps"]) * L1]
        H = H - 0.5j * t * (L2.dag() * L1r - L1r.dag() * L2)
    for a, g0, nbar in (
        (am, th["gamma0_minus_hz"], th["nbar_minus"]),
        (ap, th["gamma0_plus_hz"], th["nbar_plus"]),
    ):
        c_ops += [math.sqrt(g0 * (nbar + 1)) * a, math.sqrt(g0 * nbar) * a.dag()]
    # The Liouvillian of two truncated modes is nearly banded: SuperLU with the natural column
    # order is ~10-100x faster here than with its default fill-reducing order.
    rho = qt.steadystate(H, c_ops, solver="spsolve", permc_spec="NATURAL")
    s2 = math.sqrt(2.0)
    quad = [
        (am + am.dag()) / s2,
        (am - am.dag()) / (1j * s2),
        (ap + ap.dag()) / s2,
        (ap - ap.dag()) / (1j * s2),
    ]
    mean = [qt.expect(x, rho) for x in quad]
    S = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            S[i, j] = np.real(
                qt.expect(0.5 * (quad[i] * quad[j] + quad[j] * quad[i]), rho) - mean[i] * mean[j]
            )
    return S


def _designs():
    """Stable designs with nbar <= 0.2 and C <= 2 whose occupations keep the cutoff adequate."""
    rng = np.random.default_rng(31337)
    eps_values = (0.0, 0.25, 0.0, 0.5, 0.1)
    out = []
    for eps in eps_values:
        th = {
            "gamma0_plus_hz": float(rng.uniform(0.5, 2.0)),
            "nbar_plus": float(rng.uniform(0.0, 0.2)),
            "gamma0_minus_hz": float(rng.uniform(0.5, 2.0)),
            "nbar_minus": float(rng.uniform(0.0, 0.2)),
        }
        d = {
            "theta_plus": float(rng.uniform(1.0, 1.5)),
            "theta_minus": float(rng.uniform(1.0, 1.5)),
            "C_plus": float(rng.uniform(0.3, 2.0)),
            "C_minus": float(rng.uniform(0.3, 2.0)),
            "eps": eps,
        }
        out.append((th, d))
    out[2][0]["nbar_plus"] = out[2][0]["nbar_minus"] = 0.0  # zero-temperature baths
    return out


_engine = jax.jit(sj.covariance)


def _engine_covariance(th, d, phi):
    return np.asarray(_engine(sj.Thermal(**th), sj.Design(**d, phi=phi)))


@pytest.fixture(scope="module")
def designs():
    out = _designs()
    for th, d in out:  # keep the Fock cutoff adequate: modest occupations only
        S = _engine_covariance(th, d, 0.0)
        assert np.diag(S).max() < 0.9
    return out


def test_master_equation_equals_engine_at_phi_zero(designs):
    """Includes eps > 0 (three designs) and zero-temperature baths; the phi = 0 engine itself
    reproduces Eq. (4) (tests/test_gaussian.py), so this also checks the closed forms."""
    worst = 0.0
    for th, d in designs:
        S_me = _master_equation_covariance(th, d, 0.0)
        S_en = _engine_covariance(th, d, 0.0)
        worst = max(worst, np.abs(S_me - S_en).max())
        np.testing.assert_allclose(S_me, S_en, atol=TOL, rtol=0)
        assert np.abs(S_en[0, 2]) > 1e-2  # the oscillators are correlated: the test has teeth
    print(f"master equation vs engine at phi = 0: max |dS| = {worst:.1e}")


def test_fock_cutoff_convergence_points_at_the_engine(designs):
    """For the most occupied design, the master-equation covariance converges geometrically to
    the engine's as the cutoff grows (10 -> 12): the engine is the untruncated limit."""
    th, d = max(designs, key=lambda td: np.diag(_engine_covariance(*td, 0.9)).max())
    S_en = _engine_covariance(th, d, 0.9)
    err10 = np.abs(_master_equation_covariance(th, d, 0.9, cutoff=10) - S_en).max()
    err12 = np.abs(_master_equation_covariance(th, d, 0.9, cutoff=12) - S_en).max()
    print(f"cutoff 10: {err10:.1e}, cutoff 12: {err12:.1e}")
    assert err12 < 0.2 * err10 and err12 < TOL


@pytest.mark.parametrize("phi", [0.9, math.pi / 2, -2.2])
def test_master_equation_equals_engine_at_nonzero_phi(designs, phi):
    """The engine's phi generalisation (kappa = sqrt(1-eps)(R cos phi - i K sin phi) and the
    rotated noise inputs) against the master equation with the rotated client output.  The sign
    of phi matters: the engine at -phi disagrees by O(0.1) for the same designs."""
    worst, sign_gap = 0.0, 0.0
    for th, d in designs[2:4]:
        S_me = _master_equation_covariance(th, d, phi)
        S_en = _engine_covariance(th, d, phi)
        worst = max(worst, np.abs(S_me - S_en).max())
        np.testing.assert_allclose(S_me, S_en, atol=TOL, rtol=0)
        sign_gap = max(sign_gap, np.abs(S_me - _engine_covariance(th, d, -phi)).max())
    print(f"phi = {phi:.3f}: max |dS| = {worst:.1e}; engine at -phi differs by {sign_gap:.2f}")
    assert sign_gap > 1e-2
