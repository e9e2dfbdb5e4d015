"""Sine and cosine of float64 angles, vectorised (the hot path of the closed forms).

Why hand-written.  XLA's CPU backend evaluates float64 ``sin``/``cos`` element by element
through a scalar library routine, while everything else in the closed form of E (Eqs. 6, 7)
is vectorised arithmetic: the nine sines and cosines of one E evaluation took ~85 % of its
time (measured 2026-12-04, 1e6 angles, 2-core CPU: ``jnp.sin`` + ``jnp.cos`` 26 ms, this
module's :func:`sincos` 1.3 ms).  The same operations written as plain arithmetic are
vectorised by XLA.  Float32 (and any other dtype) goes to ``jnp.sin``/``jnp.cos`` unchanged.

Method (float64).  The classic two-step scheme of the fdlibm/musl kernels, written here in
JAX:

1. Reduction: ``k = round(2x/pi)`` and ``r = x - k pi/2`` with pi/2 split into three parts
   of 33 significant bits each (Cody-Waite), so that ``k * part`` is exact for
   ``|k| < 2^20`` and ``r`` keeps its relative precision even next to a multiple of pi/2
   (near pi/2 itself ``r`` is computed with an absolute error of a few 1e-32).
2. Kernels on ``|r| <= pi/4``: the degree-13 odd and degree-14 even minimax polynomials of
   fdlibm's ``__kernel_sin``/``__kernel_cos`` (error below 2^-58 relative on that interval),
   with the cosine's leading terms summed in the compensated order of ``__kernel_cos``.
3. The quadrant ``k mod 4`` picks ``(sin, cos)`` from ``(+-sin r, +-cos r)``.

Accuracy: within 1 unit in the last place of the exact value for ``|x| <= MAX_ARGUMENT``
(0.72 ulp at most against 50-digit mpmath on 4,000 random and adversarial angles,
``tests/test_trig.py``; ``jnp.sin``: 0.56).  Beyond ``MAX_ARGUMENT`` (~8.2e5 rad) the reduction would not be
exact and the functions return NaN rather than a wrong number; every angle of the model
(theta_+-, their sum and difference, 2 theta) lies in [-pi, pi].  ``sin(+-inf)`` and
``sin(nan)`` are NaN, as in ``jnp.sin``; ``sin(-0.0)`` is ``-0.0``.

Derivatives: a custom JVP (``d sin = cos dx``, ``d cos = -sin dx``), so gradients and
Hessians have the same accuracy as the values.

Where not to use it.  Each call is some forty arithmetic operations where ``jnp.sin`` is one,
so a program that is compiled for a few thousand evaluations pays more in compilation than it
saves: the optimiser's block programs compiled in 20-22 s instead of 10-11 s with these
functions (Fig. 4, measured 2026-12-04) and ran no faster, and the figures' evaluation programs
compiled 0.1-0.5 s longer each.  ``sin``/``cos`` therefore take ``fast``; the model passes
:attr:`steerjax.model.OscillatorRates.fast_trig`, False unless asked for
(``sj.cascade_rates(thermal, design, fast_trig=True)``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

__all__ = ["sin", "cos", "sincos", "MAX_ARGUMENT"]

# pi/2 = _PIO2_1 + _PIO2_2 + _PIO2_3 + (a rest below 1e-31); each part has 33 significant bits,
# so k * part is exact for |k| < 2^20.
_PIO2_1 = 1.57079632673412561417e00
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_3 = 2.02226624871116645580e-21
_PIO2_3T = 8.47842766036889956997e-32
_TWO_OVER_PI = 6.36619772367581382433e-01

MAX_ARGUMENT = 2.0**19 * 1.5707963267948966
"""Largest |x| [rad] for which :func:`sin` and :func:`cos` are evaluated (NaN beyond)."""

# fdlibm's minimax coefficients: sin r = r + r^3 (S1 + r^2 S2 + ...), |r| <= pi/4.
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
# cos r = 1 - r^2/2 + r^4 (C1 + r^2 C2 + ...), |r| <= pi/4.
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11


def _reduce(x: Array) -> tuple[Array, Array, Array]:
    """``(r, r_lo, q)``: ``x = r + r_lo + k pi/2`` with ``|r| <= pi/4`` (to rounding),
    ``r_lo`` the part of the reduced angle below the last bit of ``r``, and ``q = k mod 4``."""
    k = jnp.round(x * _TWO_OVER_PI)
    t = x - k * _PIO2_1  # exact: k * _PIO2_1 is, and t is far below |x| or x is small
    w = k * _PIO2_2  # exact
    r0 = t - w
    # What the rounding of t - w lost, then the two smallest parts of pi/2; renormalised into
    # r + r_lo.  (No optimisation barriers are needed: XLA's simplifier leaves this order
    # alone -- checked under jit by tests/test_trig.py, which would see the lost digits.)
    tail = ((t - r0) - w) - (k * _PIO2_3 + k * _PIO2_3T)
    r = r0 + tail
    r_lo = (r0 - r) + tail
    q = jnp.bitwise_and(jnp.where(jnp.abs(k) < 2.0**21, k, 0.0).astype(jnp.int32), 3)
    return r, r_lo, q


def _sin_kernel(r: Array, r_lo: Array, z: Array) -> Array:
    """sin(r + r_lo) for |r| <= pi/4, |r_lo| below half an ulp of r (fdlibm's order)."""
    p = _S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))
    v = z * r
    return r - ((z * (0.5 * r_lo - v * p) - r_lo) - v * _S1)


def _cos_kernel(r: Array, r_lo: Array, z: Array) -> Array:
    """cos(r + r_lo) for |r| <= pi/4 (fdlibm's compensated order)."""
    z2 = z * z
    p = z * (_C1 + z * (_C2 + z * _C3)) + (z2 * z2) * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    # 1 - hz rounded, plus what the rounding lost, plus the higher terms and -r r_lo.
    return w + (((1.0 - w) - hz) + (z * p - r * r_lo))


def _sincos_f64(x: Array) -> tuple[Array, Array]:
    r, r_lo, q = _reduce(x)
    z = r * r
    s, c = _sin_kernel(r, r_lo, z), _cos_kernel(r, r_lo, z)
    sin_x = jnp.where(q == 0, s, jnp.where(q == 1, c, jnp.where(q == 2, -s, -c)))
    cos_x = jnp.where(q == 0, c, jnp.where(q == 1, -s, jnp.where(q == 2, -c, s)))
    # sin(-0.0) = -0.0 (r keeps the sign of zero only when k = 0: x - 0 * part is +-0 as x).
    sin_x = jnp.where(x == 0.0, x, sin_x)
    ok = jnp.abs(x) <= MAX_ARGUMENT
    nan = jnp.asarray(jnp.nan, x.dtype)
    return jnp.where(ok, sin_x, nan), jnp.where(ok, cos_x, nan)


@jax.custom_jvp
def sincos(x) -> tuple[Array, Array]:
    """``(sin x, cos x)`` [x in rad]; vectorised float64 (module docstring), ``jnp`` otherwise."""
    x = jnp.asarray(x)
    if x.dtype == jnp.float64:
        return _sincos_f64(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
        if x.dtype == jnp.float64:
            return _sincos_f64(x)
    return jnp.sin(x), jnp.cos(x)


@sincos.defjvp
def _sincos_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    s, c = sincos(x)
    return (s, c), (c * dx, -s * dx)


def _use_fast(x, fast: bool) -> bool:
    # Concrete input runs op by op (no jit): there the forty operations would be forty
    # dispatches where jnp.sin is one (measured: `steerjax evaluate` 2.2-2.6 s -> 3.0 s).
    return fast and isinstance(x, jax.core.Tracer)


def sin(x, fast: bool = True) -> Array:
    """sin x [x in rad]: :func:`sincos` inside a traced program (``jit``, ``vmap``, ``grad``),
    ``jnp.sin`` for concrete input or where ``fast`` is False."""
    return sincos(x)[0] if _use_fast(x, fast) else jnp.sin(x)


def cos(x, fast: bool = True) -> Array:
    """cos x [x in rad]: as :func:`sin`."""
    return sincos(x)[1] if _use_fast(x, fast) else jnp.cos(x)
