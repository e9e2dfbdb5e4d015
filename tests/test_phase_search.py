"""The optimiser's phase-robust loss (issue 11, item 6): the certified maximum, cheaper, with the
exact second derivatives of the maximum, including the implicit term of an interior maximum.

``worst_case_search_value`` must return what ``worst_case_over_phase_from_rates`` certifies
(checked there against dense grids and 50 digits), whether or not the root search ran, and its
gradient and Hessian must be the derivatives of that maximum (central differences).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import steerjax as sj
from steerjax.model._phase_search import _no_interior_maximum, worst_case_search_value
from steerjax.model._rates import cascade_rates

DIRECTIONS = ("plus-given-minus", "minus-given-plus")
# (theta_+, theta_-, C_+, C_-, eps, phi_0); as in test_tolerance.py
EDGE_10 = (1.303532565824506, 0.7853976634009483, 17.666653626733332, 10.0, 0.0, 0.0)
MARGIN_10 = (1.303696892273551, 0.7903977517132477, 17.727385722893278, 10.0, 0.0, 0.0)
SHIFTED = (0.3 * math.pi, 0.45 * math.pi, 3.0, 50.0, 0.3, 1.0)
CASES = [
    (EDGE_10, 1e-3),
    (EDGE_10, 1e-2),
    (MARGIN_10, 1e-2),
    (MARGIN_10, 0.3),
    (MARGIN_10, 2.0),
    (SHIFTED, 1.0),
    (SHIFTED, 0.2),
]


def _rates(t):
    return cascade_rates(sj.HOT, sj.Design(*t))


_search = jax.jit(worst_case_search_value, static_argnums=1)
_certified = jax.jit(sj.model.worst_case_over_phase_from_rates, static_argnums=1)


@pytest.mark.parametrize("t,delta", CASES)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_search_value_is_the_certified_maximum(t, delta, direction):
    r = _rates(t)
    got = float(_search(r, direction, delta, t[5]))
    want = float(_certified(r, direction, delta, t[5]).E_worst)
    assert got == pytest.approx(want, rel=1e-12)


def test_lanes_with_and_without_the_root_search():
    """A vmapped batch where some lanes need the root search and others are certified without
    it gives each lane its own maximum (the search runs for all lanes or none)."""
    ts = [EDGE_10, MARGIN_10, SHIFTED, MARGIN_10]
    deltas = jnp.asarray([1e-3, 1e-2, 1.0, 0.3])
    r = cascade_rates(sj.HOT, sj.Design(*(jnp.asarray(c) for c in zip(*ts, strict=True))))
    r = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (len(ts),)), r)
    phi0 = jnp.asarray([t[5] for t in ts])
    got = jax.jit(jax.vmap(lambda rr, d, p: worst_case_search_value(rr, "+|-", d, p)))(r, deltas, phi0)
    for k, t in enumerate(ts):
        one = float(_certified(_rates(t), "+|-", float(deltas[k]), t[5]).E_worst)
        assert float(got[k]) == pytest.approx(one, rel=1e-12)


def _f(t, direction, delta, third="delta"):
    """E_worst as a function of (theta_+, log C_+, delta or phi_0) at the design t."""

    def f(x):
        d = sj.Design(x[0], t[1], jnp.exp(x[1]), t[3], t[4], 0.0)
        dl, phi0 = (x[2], t[5]) if third == "delta" else (delta, x[2])
        return worst_case_search_value(cascade_rates(sj.HOT, d), direction, dl, phi0)

    return f, jnp.asarray([t[0], math.log(t[2]), delta if third == "delta" else t[5]])


def _central(f, x, h):
    cols = []
    for j in range(x.shape[0]):
        e = np.zeros(x.shape[0])
        e[j] = h[j]
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h[j]))
    return np.stack(cols, -1)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_derivatives_at_an_interior_maximum(direction):
    """SHIFTED (phi_0 = 1 rad, delta = 1): the maximum lies strictly inside the interval, at
    phi = pi/2, so its place relative to phi_0 moves with phi_0.  Gradient and Hessian in
    (theta_+, log C_+, phi_0) against central differences: the Hessian's implicit term
    -E_xpsi E_psix / E_psipsi cancels the phase curvature E_psipsi exactly (E_worst does not
    depend on phi_0 here), which the Hessian at the phase held fixed does not."""
    t, delta = SHIFTED, 1.0
    wc = _certified(_rates(t), direction, delta, t[5])
    assert abs(float(wc.phi_worst) - t[5]) < delta - 0.05  # interior, far from both ends
    f, x0 = _f(t, direction, delta, third="phi0")
    # compiled once each (op-by-op evaluation of the root search's loops took ~60 s here)
    f_jit, grad_jit = jax.jit(f), jax.jit(jax.grad(f))
    E = float(f_jit(x0))
    g = np.asarray(grad_jit(x0))
    H = np.asarray(jax.jit(jax.hessian(f))(x0))
    h = np.asarray([1e-5, 1e-5, 1e-5])
    np.testing.assert_allclose(g, _central(f_jit, x0, h), rtol=1e-6, atol=1e-9 * E)
    assert abs(g[2]) <= 1e-9 * E  # E_worst does not depend on phi_0 here
    H_fd = _central(grad_jit, x0, h)
    np.testing.assert_allclose(H, H_fd, rtol=1e-5, atol=1e-7 * E)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12 * E)
    # second differences of the value itself (no AD at all), diagonal
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-4
        d2 = (float(f_jit(x0 + e)) - 2 * E + float(f_jit(x0 - e))) / 1e-8
        assert H[j, j] == pytest.approx(d2, rel=1e-4, abs=1e-6 * E)

    # the implicit term matters: with the phase (relative to phi_0) held at the maximiser, the
    # Hessian has E_psipsi in its (phi_0, phi_0) entry
    psi_star = float(wc.phi_worst) - t[5]

    def fixed(x):
        d = sj.Design(x[0], t[1], jnp.exp(x[1]), t[3], t[4], 0.0)
        e_pm, e_mp = sj.model.steering_at_phase_from_rates(cascade_rates(sj.HOT, d), x[2] + psi_star)
        return e_pm if direction == "plus-given-minus" else e_mp

    H_fixed = np.asarray(jax.hessian(fixed)(x0))
    assert abs(H_fixed[2, 2]) > 1e-3 * E
    assert abs(H[2, 2]) <= 1e-6 * abs(H_fixed[2, 2])


def test_hessians_of_mixed_lanes():
    """One vmapped batch: SHIFTED (delta = 1, an interior maximum at phi = pi/2) with two lanes
    whose maximum is at an end.  The implicit term of the interior lane is computed in a loop
    that runs for all lanes or none; its Hessian in (theta_+, log C_+, phi_0) must still cancel
    the phase curvature E_phiphi (second difference of the block path at phi = pi/2), and every
    lane's Hessian must match central differences of its gradient.  With phi_0 not
    differentiated (the optimiser's case: no phase derivative is taken) the (theta_+, log C_+)
    block is the same."""
    cases = [(SHIFTED, 1.0), (MARGIN_10, 1e-2), (EDGE_10, 1e-3)]

    def f(x, c):  # x = (theta_+, log C_+, phi_0), c = (theta_-, C_-, eps, delta)
        d = sj.Design(x[0], c[0], jnp.exp(x[1]), c[1], c[2], 0.0)
        return worst_case_search_value(cascade_rates(sj.HOT, d), "+|-", c[3], x[2])

    X = jnp.asarray([[t[0], math.log(t[2]), t[5]] for t, _ in cases])
    Cs = jnp.asarray([[t[1], t[3], t[4], dl] for t, dl in cases])
    H3 = np.asarray(jax.jit(jax.vmap(jax.hessian(f)))(X, Cs))
    H2 = np.asarray(
        jax.jit(jax.vmap(lambda x, c: jax.hessian(lambda y: f(jnp.concatenate([y, x[2:]]), c))(x[:2])))(X, Cs)
    )
    grad_jit, f_jit = jax.jit(jax.grad(f)), jax.jit(f)
    for k in range(len(cases)):
        n = 3 if k == 0 else 2  # at phi_0 = 0 the two ends tie: no phi_0 derivative there
        h = np.asarray([1e-5, 1e-5, 1e-5]) if k == 0 else 1e-6 * np.maximum(np.abs(np.asarray(X[k])), 1e-2)
        H_fd = _central(lambda x, k=k: grad_jit(x, Cs[k]), X[k], h)[:n, :n]
        scale = np.abs(H_fd).max()
        np.testing.assert_allclose(H3[k][:n, :n], H_fd, rtol=1e-4, atol=1e-6 * scale)
        np.testing.assert_allclose(H2[k], H3[k][:2, :2], rtol=1e-10, atol=1e-12 * scale)
    # the implicit term in the batch: E_worst of SHIFTED does not depend on phi_0
    t = SHIFTED
    r = _rates(t[:5] + (0.0,))
    e = [float(sj.model.steering_at_phase_from_rates(r, math.pi / 2 + s)[0]) for s in (-1e-3, 0.0, 1e-3)]
    E_phiphi = (e[0] - 2 * e[1] + e[2]) / 1e-6
    assert abs(E_phiphi) > 1e-3 * float(f_jit(X[0], Cs[0]))
    assert abs(H3[0][2, 2]) <= 1e-6 * abs(E_phiphi)


@pytest.mark.parametrize("t,delta", [(MARGIN_10, 1e-2), (EDGE_10, 1e-3), (SHIFTED, 0.2)])
def test_derivatives_at_an_end(t, delta):
    """Maximum at an end: gradient and Hessian in (theta_+, log C_+, delta) against central
    differences (delta enters through the end phase)."""
    f, x0 = _f(t, "plus-given-minus", delta)
    grad_jit = jax.jit(jax.grad(f))  # compiled, not op by op (the root search's loops)
    g = np.asarray(grad_jit(x0))
    H = np.asarray(jax.jit(jax.hessian(f))(x0))
    h = 1e-6 * np.maximum(np.abs(np.asarray(x0)), 1e-2)
    h[2] = 1e-3 * delta
    np.testing.assert_allclose(g, _central(jax.jit(f), x0, h), rtol=1e-5, atol=1e-9 * np.abs(g).max())
    H_fd = _central(grad_jit, x0, h)
    np.testing.assert_allclose(H, H_fd, rtol=1e-4, atol=1e-6 * np.abs(H).max())


def test_certificate_on_random_polynomials():
    """Where the cheap certificate says 'no interior maximum', P(tan psi) has no sign change
    from + to - on a dense grid of [-half, half] (every such change is a maximum of E)."""
    rng = np.random.default_rng(5)
    n = 1500
    P = rng.normal(size=(n, 7)) * 10.0 ** rng.uniform(-2, 2, size=(n, 7))
    P[: n // 2, 0::2] *= 1e-4  # nearly odd polynomials, as at phi_0 = 0 (above rounding level)
    half = 10.0 ** rng.uniform(-4, math.log10(math.pi / 2), size=n)
    claimed = np.asarray(_no_interior_maximum(jnp.asarray(P), jnp.asarray(np.abs(P)), jnp.asarray(half)))
    assert 0.2 * n < claimed.sum() < n  # the test exercises both answers
    psi = np.linspace(-1.0, 1.0, 20_001)[None, :] * half[:, None]
    t = np.tan(psi)
    vals = np.broadcast_to(P[:, 6, None], t.shape).copy()
    for k in range(5, -1, -1):  # Horner: fewer passes over the n x 20,001 grid than powers of t
        vals *= t
        vals += P[:, k, None]
    s = np.sign(vals)
    down = np.any((s[:, :-1] > 0) & (s[:, 1:] < 0), axis=1)
    assert not np.any(claimed & down)
    assert np.all(half[claimed] <= math.pi / 4)
