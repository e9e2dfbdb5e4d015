"""Sine, cosine and arctan2 in float64, vectorised (the hot path of the closed forms and of
the optimiser's map from search coordinates to angles).

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

Accuracy: within 2 units in the last place of the correctly rounded value for
``|x| <= MAX_ARGUMENT`` (tested against 50-digit mpmath on random and adversarial angles,
``tests/test_trig.py``).  Beyond ``MAX_ARGUMENT`` (~8.2e5 rad) the reduction would not be
exact and the functions return NaN rather than a wrong number; every angle of the model
(theta_+-, their sum and difference, 2 theta) lies in [-pi, pi].  ``sin(+-inf)`` and
``sin(nan)`` are NaN, as in ``jnp.sin``; ``sin(-0.0)`` is ``-0.0``.

Derivatives: a custom JVP (``d sin = cos dx``, ``d cos = -sin dx``), so gradients and
Hessians have the same accuracy as the values.

:func:`arctan2` (the optimiser's angle from ``(sin theta, cos theta)``, Sec. II) is the same
story: ``jnp.arctan2`` is a scalar call in float64 (18 ms per 1e6 against 3.7 ms here, same
measurement).  fdlibm's ``atan`` kernel on ``|y|/|x|``, the quadrant from the signs, IEEE's
special cases (zeros, infinities, NaN) as ``numpy.arctan2`` gives them; within 1.2 ulp of the
50-digit value.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

__all__ = ["sin", "cos", "sincos", "arctan2", "MAX_ARGUMENT"]

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


def sin(x) -> Array:
    """sin x [x in rad] (see :func:`sincos`)."""
    return sincos(x)[0]


def cos(x) -> Array:
    """cos x [x in rad] (see :func:`sincos`)."""
    return sincos(x)[1]


# fdlibm's atan: atan(t) for t in four intervals is atan(c_i) + atan((t - c_i)/(1 + c_i t))
# with c_i in (1/2, 1, 3/2, inf); atan(c_i) as a two-part constant.
_ATAN_HI = (
    4.63647609000806093515e-01,
    7.85398163397448278999e-01,
    9.82793723247329054082e-01,
    1.57079632679489655800e00,
)
_ATAN_LO = (
    2.26987774529616870924e-17,
    3.06161699786838301793e-17,
    1.39033110312309984516e-17,
    6.12323399573676603587e-17,
)
# atan x = x - x^3 (T0 + x^2 T1 + ...) on |x| <= 7/16 (odd and even terms in x^4 separately).
_T = (
    3.33333333333329318027e-01,
    -1.99999999998764832476e-01,
    1.42857142725034663711e-01,
    -1.11111104054623557880e-01,
    9.09088713343650656196e-02,
    -7.69187620504482999495e-02,
    6.66107313738753120669e-02,
    -5.83357013379057348645e-02,
    4.97687799461593236017e-02,
    -3.65315727442169155270e-02,
    1.62858201153657823623e-02,
)
_PI_LO = 1.2246467991473531772e-16  # pi - fl(pi)


def _atan_nonnegative(t: Array) -> Array:
    """atan t for t >= 0 (inf gives pi/2, nan stays nan), float64, within 1 ulp."""
    i = jnp.where(t < 0.6875, 0, jnp.where(t < 1.1875, 1, jnp.where(t < 2.4375, 2, 3)))
    small = t < 0.4375
    # Guarded denominators: every branch is evaluated, so none may divide by zero.
    x = jnp.where(
        small,
        t,
        jnp.where(
            i == 0,
            (2.0 * t - 1.0) / (2.0 + t),
            jnp.where(
                i == 1, (t - 1.0) / (t + 1.0), jnp.where(i == 2, (t - 1.5) / (1.0 + 1.5 * t), -1.0 / t)
            ),
        ),
    )
    z = x * x
    w = z * z
    s1 = z * (_T[0] + w * (_T[2] + w * (_T[4] + w * (_T[6] + w * (_T[8] + w * _T[10])))))
    s2 = w * (_T[1] + w * (_T[3] + w * (_T[5] + w * (_T[7] + w * _T[9]))))
    hi = jnp.asarray(_ATAN_HI, t.dtype)[i]
    lo = jnp.asarray(_ATAN_LO, t.dtype)[i]
    return jnp.where(small, x - x * (s1 + s2), hi - ((x * (s1 + s2) - lo) - x))


def _arctan2_f64(y: Array, x: Array) -> Array:
    y, x = jnp.broadcast_arrays(y, x)
    a = _atan_nonnegative(jnp.abs(y) / jnp.abs(x))  # |y/x| = inf gives pi/2, 0/0 is fixed below
    a = jnp.where(x < 0.0, jnp.pi - (a - _PI_LO), a)  # x = -0.0 is the y axis: pi/2 as it is
    # The cases where |y|/|x| is 0/0 or inf/inf, as IEEE atan2 defines them.
    both_zero = (y == 0.0) & (x == 0.0)
    both_inf = jnp.isinf(y) & jnp.isinf(x)
    a = jnp.where(both_zero, jnp.where(jnp.signbit(x), jnp.pi, 0.0), a)
    a = jnp.where(both_inf, jnp.where(jnp.signbit(x), 0.75 * jnp.pi, 0.25 * jnp.pi), a)
    return jnp.where(jnp.signbit(y), -a, a)


@jax.custom_jvp
def arctan2(y, x) -> Array:
    """The angle of the point ``(x, y)`` [rad, in [-pi, pi]], as ``jnp.arctan2``; vectorised
    float64 (fdlibm's atan kernel, within 1 ulp), ``jnp.arctan2`` for other dtypes."""
    y, x = jnp.asarray(y), jnp.asarray(x)
    if jnp.result_type(y, x) == jnp.float64:
        return _arctan2_f64(y.astype(jnp.float64), x.astype(jnp.float64))
    return jnp.arctan2(y, x)


@arctan2.defjvp
def _arctan2_jvp(primals, tangents):
    (y, x), (dy, dx) = primals, tangents
    r2 = x * x + y * y
    return arctan2(y, x), (x * dy - y * dx) / r2
