"""Generic argument checks at the API boundary (the physics checks: :mod:`steerjax._validation`).

Concrete inputs (outside ``jax.jit``) are checked in plain Python and raise ``ValueError``
naming the parameter, its value and its allowed range.  Traced inputs (inside ``jit``) cannot
be inspected; there the library either raises at run time through :func:`equinox.error_if`
(``on_invalid="raise"``) or returns NaN for the offending entries (``on_invalid="nan"``), so a
wrong input never produces a finite, wrong number.
"""

from __future__ import annotations

import math

import jax
import numpy as np

__all__ = [
    "ON_INVALID",
    "check_count",
    "check_on_invalid",
    "is_concrete",
]

ON_INVALID = ("raise", "nan")


def check_on_invalid(on_invalid: str) -> None:
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid = {on_invalid!r} is not allowed; use one of {ON_INVALID}")


def check_count(name: str, value, low: int) -> int:
    """``value`` as a Python ``int``, if it is a whole number ``>= low``.

    A count (``n_starts``, ``block_size``, ...) must be integral: ``1.5`` is an error rather
    than being truncated to 1.  Integral floats (``8.0``, ``np.float64(8)``) are accepted;
    booleans, complex numbers and non-numbers are not.

    Raises:
        TypeError: not a real number.
        ValueError: not a whole number, or below ``low`` (the message names the parameter, its
            value and the allowed range).
    """
    allowed = f"allowed: whole numbers in [{low}, inf)"
    arr = np.asarray(value)
    if isinstance(value, bool | np.bool_) or arr.ndim != 0 or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} = {value!r} is not an integer; {allowed}")
    if arr.dtype.kind == "f":
        x = float(arr)
        if not (math.isfinite(x) and x.is_integer()):
            raise ValueError(f"{name} = {value!r} is not a whole number; {allowed}")
        count = int(x)
    else:
        count = int(arr)
    if count < low:
        raise ValueError(f"{name} = {value!r} is outside the allowed range [{low}, inf)")
    return count


def is_concrete(*trees) -> bool:
    """True if no leaf of the given pytrees is a JAX tracer."""
    leaves = jax.tree_util.tree_leaves(trees)
    return not any(isinstance(x, jax.core.Tracer) for x in leaves)
