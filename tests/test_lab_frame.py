"""The lab-frame model (finite oscillator frequency Omega) against independent computations.

References, none of which uses the code under test:

* the carrier-frame Langevin equations assembled here in complex form (a_-, a_-^dag, a_+, a_+^dag)
  directly from the jump operators ``L_j = i (sqrt(G_jB) a_j + sqrt(G_jP) a_j^dag)`` with the
  client's output substituted into the server's input, converted to quadratures and solved by
  ``scipy.linalg.solve_continuous_lyapunov`` (or at 50 digits with mpmath near the edge);
* the cascaded Lindblad master equation in Fock space (QuTiP), one light channel, the phase on
  the client's jump operator;
* the paper's closed forms (``sj.steering``, themselves checked against Eq. 4 elsewhere) for the
  limit Omega -> infinity;
* a dense grid of instants for Reid's fixed-pairing E, and central finite differences.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov

import steerjax as sj
from reference_lab_frame import covariance_mp, schur_E_mp
from reference_lab_frame import fixed_E_on_grid as _fixed_E_on_grid
from reference_lab_frame import langevin as _langevin
from reference_lab_frame import schur_E as _schur_E
from steerjax.model import _lab_frame as lf
from steerjax.model._rates import CascadeRates, oscillator_rates_from_damping


def _reference_cov(th: sj.Thermal, d: sj.Design, omega):
    r = sj.cascade_rates(th, d)
    m, p = r.minus, r.plus
    args = [float(x) for x in (m.Gamma, m.theta, m.gamma, m.gamma0, m.gamma_tilde0)]
    args += [float(x) for x in (p.Gamma, p.theta, p.gamma, p.gamma0, p.gamma_tilde0)]
    A, D = _langevin(*args, float(d.eps), float(d.phi), omega)
    return solve_continuous_lyapunov(A, -D)


# ---------------------------------------------------------------------------------------------
# Fixtures: one compiled program for the whole module
# ---------------------------------------------------------------------------------------------

_steer = jax.jit(sj.lab_frame_steering)
_cov = jax.jit(sj.model.lab_frame_covariance)
_E_rates = jax.jit(lambda r, phi, omega: lf.lab_frame_steering_from_rates(r, phi, omega, fixed_pairing=False))

_THERMALS = [
    sj.Thermal(gamma0_plus_hz=1.0, nbar_plus=0.1, gamma0_minus_hz=1.3, nbar_minus=0.15),
    sj.Thermal(gamma0_plus_hz=0.1, nbar_plus=1e5, gamma0_minus_hz=0.1, nbar_minus=1e5),
]


def _random_cases():
    rng = np.random.default_rng(1616)
    cases = []
    for k in range(6):
        th = _THERMALS[k % 2]
        gt = float(th.gamma_tilde0_minus_hz)
        d = sj.Design(
            theta_plus=float(rng.uniform(0.85, 1.5)),
            theta_minus=float(rng.uniform(0.85, 1.5)),
            C_plus=float(rng.uniform(0.5, 60.0)),
            C_minus=float(rng.uniform(0.5, 60.0)),
            eps=float(rng.choice([0.0, 0.3])),
            phi=float(rng.uniform(-1.0, 1.0)) if k % 3 else 0.0,
        )
        omega = float(d.C_minus) * gt * float(rng.uniform(0.3, 3.0))
        cases.append((th, d, omega))
    return cases


@pytest.fixture(scope="module")
def cases():
    return _random_cases()


def test_covariance_equals_independent_lyapunov_solve(cases):
    """Carrier-frame covariance against the complex Langevin equations solved by scipy."""
    worst = 0.0
    for th, d, omega in cases:
        S_ref = _reference_cov(th, d, omega)
        S = np.asarray(_cov(th, d, omega))
        err = np.abs(S - S_ref).max() / np.abs(S_ref).max()
        worst = max(worst, err)
        assert err < 1e-12
        assert np.abs(S_ref[0, 1]) + np.abs(S_ref[2, 3]) > 1e-6  # X-P correlations: not the RWA state
    print(f"max relative deviation of the covariance: {worst:.1e}")


def test_E_is_sqrt_det_of_conditional_covariance(cases):
    for th, d, omega in cases:
        S_ref = _reference_cov(th, d, omega)
        lab = _steer(th, d, omega)
        np.testing.assert_allclose(float(lab.E_plus_given_minus), _schur_E(S_ref, "plus"), rtol=1e-11)
        np.testing.assert_allclose(float(lab.E_minus_given_plus), _schur_E(S_ref, "minus"), rtol=1e-11)


def test_fixed_pairing_best_instant_against_dense_grid(cases):
    """The exact minimum over the instant is at or below every point of a 20,000-instant grid
    (and within the grid's resolution of its minimum), and never below the optimal-quadrature E."""
    for th, d, omega in cases[:4]:
        S_ref = _reference_cov(th, d, omega)
        lab = _steer(th, d, omega)
        for direction, E, E_opt, psi in (
            (
                "plus-given-minus",
                lab.E_plus_given_minus_reid_fixed,
                lab.E_plus_given_minus,
                lab.psi_plus_given_minus,
            ),
            (
                "minus-given-plus",
                lab.E_minus_given_plus_reid_fixed,
                lab.E_minus_given_plus,
                lab.psi_minus_given_plus,
            ),
        ):
            grid_min, _ = _fixed_E_on_grid(S_ref, direction)
            assert float(E) <= grid_min * (1 + 1e-11)
            assert float(E) >= grid_min * (1 - 1e-7)
            assert float(E) >= float(E_opt) * (1 - 1e-12)
            # the returned instant gives the returned value
            e_at, _ = _fixed_E_on_grid(_rotate(S_ref, float(psi)), direction, n=1)
            np.testing.assert_allclose(e_at, float(E), rtol=1e-10)


def _rotate(S, psi):
    c, s = math.cos(psi), math.sin(psi)
    T = np.array([[c, s, 0, 0], [-s, c, 0, 0], [0, 0, c, -s], [0, 0, s, c]])
    return T @ S @ T.T


def test_rotating_wave_limit_and_its_order():
    """Omega -> infinity gives the paper's closed forms; the error at phi = 0 falls as
    (Gamma/Omega)^2 (order measured from four frequencies)."""
    hot = _THERMALS[1]
    d = sj.Design(0.4149 * math.pi, 0.2505 * math.pi, 176.7, 100.0)
    ref = sj.steering(hot, d)
    gamma_minus = 100.0 * float(hot.gamma_tilde0_minus_hz)
    ratios = np.array([10.0, 30.0, 100.0, 300.0])
    runs = [_steer(hot, d, float(x * gamma_minus)) for x in ratios]  # the compiled scalar program
    lab = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *runs)
    errors = {}
    for name in ("E_plus_given_minus", "E_minus_given_plus"):
        e_ref = float(getattr(ref, name))
        err = np.abs(np.asarray(getattr(lab, name)) / e_ref - 1.0)
        slope = np.polyfit(np.log(ratios), np.log(err), 1)[0]
        errors[name] = (err, slope)
        assert abs(slope + 2.0) < 0.02, (name, slope)
        fixed = np.asarray(getattr(lab, name + "_reid_fixed")) / e_ref - 1.0
        assert np.all(np.abs(fixed) < 2 * err + 1e-12)  # the fixed pairing converges as well
    # the coefficient c in err = c (Gamma_-/Omega)^2, reported in the README
    print({k: (v[0] * ratios**2, v[1]) for k, v in errors.items()})
    far = _steer(hot, d, 1e6 * gamma_minus)
    np.testing.assert_allclose(float(far.E_plus_given_minus), float(ref.E_plus_given_minus), rtol=1e-11)
    np.testing.assert_allclose(float(far.E_minus_given_plus), float(ref.E_minus_given_plus), rtol=1e-11)


@pytest.mark.parametrize("rho", [1e-2, 1e-6, 1e-10])
def test_accurate_at_the_client_edge(rho):
    """Client given by its damping ratio (exact gamma_-): E from the sheared blocks against a
    50-digit solve of the independent Langevin model with the same float inputs."""
    minus = oscillator_rates_from_damping(
        jnp.asarray(0.1), jnp.asarray(1e5), jnp.asarray(100.0), jnp.asarray(rho)
    )
    plus = sj.model.oscillator_rates(
        jnp.asarray(0.1), jnp.asarray(1e5), jnp.asarray(170.0), jnp.asarray(1.30)
    )
    r = CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(0.0))
    omega, phi = 1.3e6, -0.0157
    e_pm, e_mp = _E_rates(r, phi, omega)
    mp.mp.dps = 50
    args = [
        mp.mpf(float(x)) for x in (minus.Gamma, minus.theta, minus.gamma, minus.gamma0, minus.gamma_tilde0)
    ]
    args += [mp.mpf(float(x)) for x in (plus.Gamma, plus.theta, plus.gamma, plus.gamma0, plus.gamma_tilde0)]
    A, D = _langevin(*args, mp.mpf(0), mp.mpf(phi), mp.mpf(omega), lib=mp)
    S = covariance_mp(A, D)
    ref_pm, ref_mp = schur_E_mp(S, [2, 3], [0, 1]), schur_E_mp(S, [0, 1], [2, 3])
    assert abs(float(e_pm) / float(ref_pm) - 1) < 1e-12
    assert abs(float(e_mp) / float(ref_mp) - 1) < 1e-12
    assert float(S[0, 0]) > 1e-3 / rho  # the client's variance really diverges


def test_gradients_against_finite_differences():
    """d E/d x of both rotation-invariant E (x: theta_+, theta_-, C_+, phi, Omega) and of the
    fixed-pairing E (x: phi) against central differences of the compiled values."""
    th = _THERMALS[1]
    base = np.array([0.4149 * math.pi, 0.26 * math.pi, 170.0, -0.02, 1.3e6])

    def design(x):
        return sj.Design(x[0], x[1], x[2], 100.0, eps=0.1, phi=x[3])

    def values(x):
        return jnp.stack(
            sj.model.lab_frame_steering_from_rates(
                sj.cascade_rates(th, design(x)), x[3], x[4], fixed_pairing=False
            )
        )  # rates in Hz: Omega enters in Hz

    jac = np.asarray(jax.jit(jax.jacfwd(values))(jnp.asarray(base)))

    def f(x):  # the module's compiled program
        lab = _steer(th, design(x), float(x[4]))
        return np.array([float(lab.E_plus_given_minus), float(lab.E_minus_given_plus)])

    steps = np.array([1e-6, 1e-6, 1e-4, 1e-6, 1.0])
    for k in range(5):
        e = np.zeros(5)
        e[k] = steps[k]
        fd = (f(base + e) - f(base - e)) / (2 * steps[k])
        np.testing.assert_allclose(jac[:, k], fd, rtol=2e-5, atol=1e-9 * np.abs(fd).max())
    assert np.abs(jac[0, 3]) > 0.05  # E depends on the carrier phase here: the check has teeth

    # the fixed-pairing E at its best instant, along a path S0 + s dS of covariances
    S0 = _reference_cov(th, design(base), base[4])
    dS = np.diag([0.1, 0.1, 0.1, 0.1])
    dS[0, 2] = dS[2, 0] = 0.05

    def fixed(s):
        return lf.reid_fixed_pairing_best_instant(S0 + s * dS)[0]

    g = float(jax.jit(jax.grad(fixed))(0.0))
    value = jax.jit(fixed)
    h = 1e-5
    fd = (float(value(h)) - float(value(-h))) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    assert abs(g) > 1e-3


def test_bad_omega_is_refused():
    d = sj.Design(1.2, 1.1, 2.0, 2.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"omega_hz = .* \(0, inf\)"):
            sj.lab_frame_steering(_THERMALS[0], d, bad)


def test_rotating_wave_warning():
    hot = _THERMALS[1]
    d = sj.Design(0.4149 * math.pi, 0.2505 * math.pi, 176.7, 100.0)
    with pytest.warns(sj.model.RotatingWaveWarning, match=r"Gamma/Omega = 1\.36 > 0\.1.*%"):
        chk = sj.model.rotating_wave_check(hot, d, 1.3e6)
    S_ref = _reference_cov(hot, d, 1.3e6)
    paper = sj.steering(hot, d)
    np.testing.assert_allclose(
        float(chk.relative_error_plus_given_minus),
        float(paper.E_plus_given_minus) / _schur_E(S_ref, "plus") - 1.0,
        rtol=1e-8,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chk = sj.model.rotating_wave_check(hot, d, 1e8)
    assert float(chk.ratio) < 0.1


# ---------------------------------------------------------------------------------------------
# The cascaded master equation in Fock space (QuTiP)
# ---------------------------------------------------------------------------------------------


def _master_equation_covariance(th, d, omega, cutoff):
    """Carrier-frame covariance from the cascaded Lindblad equation: H = -Omega a_-^dag a_- +
    Omega a_+^dag a_+ + cascade term, one channel with L1 = i(s_-B a_- + s_-P a_-^dag) (rotated by
    e^{i phi}), L2 = i(s_+B a_+ + s_+P a_+^dag), the lost light sqrt(eps) L1, thermal baths."""
    qt = pytest.importorskip("qutip")
    am = qt.tensor(qt.destroy(cutoff), qt.qeye(cutoff))
    ap = qt.tensor(qt.qeye(cutoff), qt.destroy(cutoff))
    Gm = d["C_minus"] * th["gamma0_minus_hz"] * (th["nbar_minus"] + 0.5)
    Gp = d["C_plus"] * th["gamma0_plus_hz"] * (th["nbar_plus"] + 0.5)
    L1 = 1j * math.sqrt(Gm) * (math.sin(d["theta_minus"]) * am + math.cos(d["theta_minus"]) * am.dag())
    L2 = 1j * math.sqrt(Gp) * (math.sin(d["theta_plus"]) * ap + math.cos(d["theta_plus"]) * ap.dag())
    t = math.sqrt(1.0 - d["eps"])
    L1r = complex(math.cos(d["phi"]), math.sin(d["phi"])) * L1
    H = -omega * am.dag() * am + omega * ap.dag() * ap - 0.5j * t * (L2.dag() * L1r - L1r.dag() * L2)
    c_ops = [t * L1r + L2, math.sqrt(d["eps"]) * L1]
    for a, g0, nbar in (
        (am, th["gamma0_minus_hz"], th["nbar_minus"]),
        (ap, th["gamma0_plus_hz"], th["nbar_plus"]),
    ):
        c_ops += [math.sqrt(g0 * (nbar + 1)) * a, math.sqrt(g0 * nbar) * a.dag()]
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
            sym = qt.expect(0.5 * (quad[i] * quad[j] + quad[j] * quad[i]), rho)
            S[i, j] = np.real(sym - mean[i] * mean[j])
    return S


# One general case (phi != 0, eps > 0); low occupations (variances <= 0.54) so that 8 Fock
# states per mode reach ~1e-9; Omega comparable to the coupling rates (the RWA is off by ~2e-2).
_ME_CASES = [
    (
        dict(gamma0_plus_hz=1.0, nbar_plus=0.0, gamma0_minus_hz=1.0, nbar_minus=0.03),
        dict(theta_plus=1.45, theta_minus=1.5, C_plus=1.0, C_minus=1.0, eps=0.2, phi=0.7),
        0.6,
    ),
]


def test_master_equation_in_fock_space():
    for th, d, omega in _ME_CASES:
        S = np.asarray(_cov(sj.Thermal(**th), sj.Design(**d), omega))
        assert np.diag(S).max() < 0.55
        S_me = _master_equation_covariance(th, d, omega, cutoff=8)
        err = np.abs(S_me - S).max()
        print(f"master equation (cutoff 8) vs lab-frame model: max |dS| = {err:.1e}")
        assert err < 1e-8
        rwa = np.asarray(sj.covariance(sj.Thermal(**th), sj.Design(**d)))
        assert np.abs(S_me - rwa).max() > 1e-2  # the RWA model is visibly different here


def test_omega_keyword_of_the_engine(cases):
    """``steering_at_phase``/``covariance`` with ``omega_hz`` are the lab-frame model; without
    it, the paper's model exactly as before."""
    th, d, omega = cases[1]
    f = jax.jit(
        lambda th, d, om: (sj.steering_at_phase(th, d, omega_hz=om), sj.covariance(th, d, omega_hz=om))
    )
    (e_pm, e_mp), S = f(th, d, omega)
    lab = _steer(th, d, omega)
    assert float(e_pm) == float(lab.E_plus_given_minus) and float(e_mp) == float(lab.E_minus_given_plus)
    np.testing.assert_array_equal(np.asarray(S), np.asarray(_cov(th, d, omega)))
    paper = sj.steering_at_phase(th, d, omega_hz=None)
    assert float(paper[0]) == float(sj.steering_at_phase(th, d)[0])
    assert abs(float(paper[0]) / float(e_pm) - 1) > 1e-3  # the two models differ here
