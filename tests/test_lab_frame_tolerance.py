"""Tolerances in the lab-frame model (issue 16 with issue 11): the worst case of the lab-frame E over
a carrier-phase error, the tolerance box in the lab frame, and robust optima at finite Omega.

The maximum over the phase interval is checked against a dense grid of the lab-frame E (itself
checked against a 50-digit Lyapunov solve and a Fock-space master equation in
``test_lab_frame.py``/``test_qutip_master_equation.py``), with cases whose maximum lies inside
the interval, so that a search that looked at the ends only would fail.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

import steerjax as sj
from steerjax.model._lab_phase import lab_frame_quartics
from steerjax.model._rates import cascade_rates, thermal_in_rate_units

OMEGA = 1.3e6
GRID = 4001


def _at_phase(design, phi):
    return sj.Design(
        design.theta_plus, design.theta_minus, design.C_plus, design.C_minus, eps=design.eps, phi=phi
    )


def _grid_both(design, phi, omega=OMEGA, bath="optical"):
    lab = sj.lab_frame_steering(
        sj.HOT, _at_phase(design, phi), omega, fixed_pairing=False, bath=bath, on_invalid="nan"
    )
    return np.asarray(lab.E_plus_given_minus), np.asarray(lab.E_minus_given_plus)


def _grid_E(design, direction, phi, omega=OMEGA, bath="optical"):
    return _grid_both(design, phi, omega, bath)[0 if direction == "+|-" else 1]


CASES = [
    # design, phi0 [rad], delta [rad]
    (sj.Design(0.4149 * math.pi, 0.2505 * math.pi, 17.67, 10.0), -0.0186, 0.01),
    (sj.Design(0.4 * math.pi, 0.3 * math.pi, 50.0, 20.0, eps=0.2), 0.3, 0.5),
    (sj.Design(0.4 * math.pi, 0.3 * math.pi, 500.0, 100.0), 1.0, 1.0),
]


@pytest.mark.parametrize(("case", "bath"), [(0, "optical"), (1, "optical"), (2, "optical"), (1, "viscous")])
def test_lab_frame_phase_worst_case_is_the_maximum_of_a_dense_grid(case, bath):
    design, phi0, delta = CASES[case]
    design = _at_phase(design, phi0)
    phi = np.linspace(phi0 - delta, phi0 + delta, GRID)
    grid = _grid_both(design, jnp.asarray(phi), bath=bath)
    for k, direction in enumerate(("+|-", "-|+")):
        wc = sj.worst_case_over_phase(sj.HOT, design, direction, delta, omega_hz=OMEGA, bath=bath)
        top = float(grid[k].max())
        # a value reached in the interval, never below the grid's maximum (the grid's spacing
        # delta/2000 resolves a smooth maximum to better than 1e-6 relative)
        assert float(wc.E_worst) >= top * (1 - 1e-12)
        assert float(wc.E_worst) <= top * (1 + 1e-5)
        assert abs(float(wc.phi_worst) - phi0) <= delta * (1 + 1e-12)
        at = _grid_E(design, direction, jnp.asarray(float(wc.phi_worst)), bath=bath)
        assert float(wc.E_worst) == pytest.approx(float(at), rel=1e-12)
        nominal = _grid_E(design, direction, jnp.asarray(phi0), bath=bath)
        assert float(wc.E_nominal) == pytest.approx(float(nominal), rel=1e-12)


def test_an_interior_maximum_is_found():
    """Case 1, E_{-|+}: the maximum is well inside the interval (not at an end, not at phi0)."""
    design, phi0, delta = CASES[1]
    design = _at_phase(design, phi0)
    wc = sj.worst_case_over_phase(sj.HOT, design, "-|+", delta, omega_hz=OMEGA)
    inside = abs(float(wc.phi_worst) - phi0)
    assert 0.01 < inside < delta - 0.01
    ends = _grid_E(design, "-|+", jnp.asarray([phi0 - delta, phi0 + delta]))
    assert float(wc.E_worst) > float(ends.max()) * (1 + 1e-3)


@pytest.mark.parametrize("direction", ["+|-", "-|+"])
def test_conditional_determinants_are_quartic_forms_in_the_phase(direction):
    """The structure the root search relies on: E^2 = N(t)/W(t), quartics in t = tan(phi - phi0),
    interpolated from five phases, predicts the lab-frame E at other phases."""
    design, phi0, _ = CASES[1]
    scaled, unit = thermal_in_rate_units(sj.HOT)
    r = cascade_rates(scaled, design)
    N, W = lab_frame_quartics(r, direction, phi0, OMEGA / unit, ("optical", "optical"))
    psi = np.asarray([0.123, -0.7, 1.0, 1.4])
    t = np.tan(psi)
    ratio = np.polyval(np.asarray(N)[::-1], t) / np.polyval(np.asarray(W)[::-1], t)
    E = _grid_E(design, direction, jnp.asarray(phi0 + psi))
    np.testing.assert_allclose(np.sqrt(ratio), E, rtol=1e-9)


def test_bath_without_omega_is_refused():
    with pytest.raises(ValueError, match="bath = 'viscous' needs omega_hz"):
        sj.worst_case_over_phase(sj.HOT, CASES[0][0], "+|-", 0.01, bath="viscous")


def test_free_phase_with_phase_and_box_tolerances_is_refused_with_the_reason():
    with pytest.raises(
        ValueError, match=r"free carrier phase .* not supported together with theta_tolerance"
    ):
        sj.Problem(
            sj.HOT, 10.0, omega_hz=OMEGA, phi_bounds=(-0.1, 0.1), phase_tolerance=1e-3, theta_tolerance=1e-3
        )
    # a fixed phase (equal ends) is allowed
    sj.Problem(
        sj.HOT, 10.0, omega_hz=OMEGA, phi_bounds=(-0.02, -0.02), phase_tolerance=1e-3, theta_tolerance=1e-3
    )


PHI_BOUNDS = (-0.2, 0.2)
DELTA = 1e-3


@pytest.fixture(scope="module")
def robust_lab():
    """phi re-tuned against a phase error of +-1 mrad, lab frame at 1.3 MHz, C- = 10."""
    problem = sj.Problem(sj.HOT, 10.0, omega_hz=OMEGA, phi_bounds=PHI_BOUNDS, phase_tolerance=DELTA)
    return jax.tree_util.tree_map(np.asarray, sj.optimize(problem))


def _worst_at(x):
    """Independent objective for the checks below: the certified lab-frame worst case over
    [phi0 - delta, phi0 + delta] at (theta_+, theta_-, log C_+, phi0); NaN (invalid or
    unstable) counts as +inf."""
    d = sj.Design(x[0], x[1], math.exp(x[2]), 10.0, phi=x[3])
    v = float(sj.worst_case_over_phase(sj.HOT, d, "+|-", DELTA, omega_hz=OMEGA, on_invalid="nan").E_worst)
    return v if math.isfinite(v) else math.inf


def _x(design):
    return np.asarray(
        [
            float(design.theta_plus),
            float(design.theta_minus),
            math.log(float(design.C_plus)),
            float(design.phi),
        ]
    )


def test_robust_lab_frame_optimum_reports_the_grid_worst_case(robust_lab):
    res = robust_lab
    assert bool(res.converged)
    phi0 = float(res.design.phi)
    assert PHI_BOUNDS[0] < phi0 < PHI_BOUNDS[1]
    assert phi0 == pytest.approx(-0.0186, abs=1e-3)  # the re-tuned phase of issue 16's table
    phi = np.linspace(phi0 - DELTA, phi0 + DELTA, GRID)
    top = float(_grid_E(res.design, "+|-", jnp.asarray(phi)).max())
    assert float(res.E_worst) == pytest.approx(top, rel=1e-6)
    assert float(res.E_worst) >= float(res.value)
    assert float(res.value) == pytest.approx(float(_grid_E(res.design, "+|-", jnp.asarray(phi0))), rel=1e-12)


def test_retuned_phase_is_the_best_centre(robust_lab):
    """No other centre of the phase interval gives a smaller worst case at the returned design
    (the two ends balance there: a kink in phi, which the search does not see)."""
    x = _x(robust_lab.design)
    for shift in (-1e-4, -1e-5, -1e-6, 1e-6, 1e-5, 1e-4):
        assert _worst_at(x + np.asarray([0, 0, 0, shift])) >= float(robust_lab.E_worst) * (1 - 1e-9)


def test_robust_lab_frame_optimum_is_not_improved_by_nelder_mead(robust_lab):
    x0 = _x(robust_lab.design)
    polish = minimize(_worst_at, x0, method="Nelder-Mead", options=dict(xatol=1e-9, fatol=1e-12, maxfev=400))
    assert float(robust_lab.E_worst) <= polish.fun * (1 + 1e-6)


def test_tolerance_box_in_the_lab_frame_reaches_its_corners():
    """The box worst case (theta tolerance) in the lab frame is at least the lab-frame E at every
    corner of the box, evaluated with the public function."""
    from steerjax.optim._coordinates import worst_case
    from steerjax.optim._optimize import _problem_in_rate_units

    t = 2e-3
    design = sj.Design(0.42 * math.pi, 0.3 * math.pi, 20.0, 10.0, phi=-0.0186)
    problem = sj.Problem(sj.HOT, 10.0, omega_hz=OMEGA, phi_bounds=(-0.0186, -0.0186), theta_tolerance=t)
    scaled, _ = _problem_in_rate_units(problem)
    r = cascade_rates(scaled.thermal, design)
    value = float(jax.jit(lambda r, d: worst_case(scaled, r, d))(r, design))
    corners = []
    for sp in (-1, 1):
        for sm in (-1, 1):
            d = sj.Design(design.theta_plus + sp * t, design.theta_minus + sm * t, 20.0, 10.0, phi=-0.0186)
            corners.append(float(_grid_E(d, "+|-", jnp.asarray(-0.0186))))
    assert value >= max(corners) * (1 - 1e-12)
    assert value <= max(corners) * (1 + 1e-3)
    # and it is the lab frame's, not the paper's model
    paper = [
        float(
            sj.steering(
                sj.HOT, sj.Design(design.theta_plus + sp * t, design.theta_minus + sm * t, 20.0, 10.0)
            ).E_plus_given_minus
        )
        for sp in (-1, 1)
        for sm in (-1, 1)
    ]
    assert abs(value / max(paper) - 1) > 1e-4


def test_cli_refuses_a_free_phase_with_phase_and_box_tolerances_by_row(capsys):
    """With --omega-hz phi is free by default: with both kinds of tolerance the row is refused
    with the reason and the fix (exit status 1, no traceback)."""
    from steerjax._cli import main

    argv = [
        "optimize",
        "--thermal",
        "hot",
        "--c-minus",
        "10",
        "--omega-hz",
        "1.3e6",
        "--phase-tolerance",
        "1e-3",
        "--theta-tolerance",
        "1e-3",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "with phase_tolerance is not supported together with theta_tolerance" in err
    assert "--phi-bounds PHI PHI" in err


@pytest.fixture(scope="module")
def retuned():
    """theta_+ -> ((G, phi0*), dG/dtheta_+) at a fixed design by the library's re-tuning (rates
    in the optimiser's unit), compiled once for the three calls of the test below."""
    from steerjax.optim._model_choice import retuned_phase_worst
    from steerjax.optim._optimize import _problem_in_rate_units

    problem = sj.Problem(sj.HOT, 10.0, omega_hz=OMEGA, phi_bounds=PHI_BOUNDS, phase_tolerance=DELTA)
    scaled, _ = _problem_in_rate_units(problem)

    def G(tp):
        r = cascade_rates(scaled.thermal, sj.Design(tp, 0.2505 * math.pi, 17.67, 10.0))
        return retuned_phase_worst(scaled, r)

    value_and_grad = jax.jit(jax.value_and_grad(G, has_aux=True))

    def call(tp):
        (G_value, centre), dG = value_and_grad(jnp.asarray(tp))
        return (G_value, centre), dG

    return call


def test_retuned_worst_case_and_its_derivative_against_brute_force(retuned):
    """G(x) = min over the centre of the certified worst case: its value against a scan of
    centres with the public function, and dG/dtheta_+ against finite differences of that
    brute-force G (the implicit derivative of the balance point; the envelope alone is off)."""
    tp = 0.4149 * math.pi
    (G, centre), dG = retuned(tp)

    def brute(tp, centre):
        phi = float(centre) + np.linspace(-2e-6, 2e-6, 41)
        d = sj.Design(tp, 0.2505 * math.pi, 17.67, 10.0, phi=jnp.asarray(phi))
        return float(
            np.min(np.asarray(sj.worst_case_over_phase(sj.HOT, d, "+|-", DELTA, omega_hz=OMEGA).E_worst))
        )

    assert float(G) <= brute(tp, centre) * (1 + 1e-12)
    coarse = np.linspace(-0.2, 0.2, 81)
    d = sj.Design(tp, 0.2505 * math.pi, 17.67, 10.0, phi=jnp.asarray(coarse))
    assert float(G) <= float(
        np.min(np.asarray(sj.worst_case_over_phase(sj.HOT, d, "+|-", DELTA, omega_hz=OMEGA).E_worst))
    )
    h = 1e-5
    (Gp, cp), _ = retuned(tp + h)
    (Gm, cm), _ = retuned(tp - h)
    fd = (brute(tp + h, cp) - brute(tp - h, cm)) / (2 * h)
    assert float(dG) == pytest.approx(fd, rel=1e-4)
    assert float(Gp - Gm) / (2 * h) == pytest.approx(fd, rel=1e-4)
