"""Parameters of the cascaded two-oscillator system (Sec. II of the paper).

Two kinds of parameter are kept apart:

* :class:`Thermal` describes what the experimenter cannot tune: the intrinsic linewidths
  ``gamma0`` and thermal occupations ``nbar`` of the client (``minus``, first in the
  cascade) and server (``plus``, second) oscillators.
* :class:`Design` describes what the experimenter chooses: interaction angles ``theta``,
  quantum cooperativities ``C``, the transmission loss ``eps`` between the subsystems and the
  inter-subsystem quadrature phase ``phi``.

Both are :class:`equinox.Module` pytrees.  Every field may be a scalar or an array; a batch of
designs is a single ``Design`` whose fields share a leading axis, and all functions of the
library broadcast over it.

Units.  Rates are given as ``gamma / 2pi`` in Hz, as the paper quotes them.  Every physical
result depends only on ratios of rates, so the factor ``2pi`` never matters; it is kept out of
the arithmetic entirely.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array
from jaxtyping import Float

__all__ = [
    "Thermal",
    "Design",
    "THERMAL_PRESETS",
    "thermal_preset",
]


def _as_array(x) -> Array:
    return jnp.asarray(x)


def _is_complex(x) -> bool:
    """True if ``x`` (array, tracer, scalar or nested sequence) has a complex dtype.  Only the
    dtype is inspected, so this works on traced values inside ``jit``/``vmap`` too."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(x).dtype
        except (TypeError, ValueError):
            return False
    return bool(np.issubdtype(dtype, np.complexfloating))


def check_real(**values) -> None:
    """Raise ``TypeError`` naming every parameter whose value has a complex dtype.

    Every parameter of the model is real; a complex value would otherwise flow through the
    arithmetic (giving a complex E) or lose its imaginary part with only a ``ComplexWarning``.
    ``None`` values are skipped.  Works on concrete and traced values alike (dtype only).
    """
    bad = [name for name, v in values.items() if v is not None and _is_complex(v)]
    if bad:
        from .._validation import DOMAINS  # imported here: _validation builds on this module

        shown = "; ".join(
            f"{name} = {_short_repr(values[name])}"
            + (f" (allowed: real numbers in {DOMAINS[name].text})" if name in DOMAINS else "")
            for name in bad
        )
        raise TypeError(
            f"{shown}: complex value{'s are' if len(bad) > 1 else ' is'} not allowed; every steerjax "
            "parameter is a real number (pass the real part explicitly if that is what you mean)"
        )


def _short_repr(x) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


class _RealFields:
    """Mixin for parameter modules: after construction, reject complex fields (by name)."""

    def __check_init__(self):
        check_real(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})


class Thermal(_RealFields, eqx.Module):
    """Thermal parameters of the two oscillators (not tunable by the designer).

    Attributes:
        gamma0_plus_hz: intrinsic linewidth of the server, :math:`\\gamma_{+,0}/2\\pi` [Hz], > 0.
        nbar_plus: thermal occupation of the server's bath, :math:`\\bar n_+` [quanta], >= 0.
        gamma0_minus_hz: intrinsic linewidth of the client, :math:`\\gamma_{-,0}/2\\pi` [Hz], > 0.
        nbar_minus: thermal occupation of the client's bath, :math:`\\bar n_-` [quanta], >= 0.

    The thermal decoherence rate is :math:`\\tilde\\gamma_{j,0} = \\gamma_{j,0}(\\bar n_j + 1/2)`
    (Sec. II), available as :attr:`gamma_tilde0_plus_hz` and :attr:`gamma_tilde0_minus_hz`.

    Examples:
        >>> import steerjax as sj
        >>> th = sj.Thermal(gamma0_plus_hz=0.1, nbar_plus=1e5, gamma0_minus_hz=0.1, nbar_minus=1e5)
        >>> round(float(th.gamma_tilde0_plus_hz), 2)
        10000.05
    """

    gamma0_plus_hz: Float[Array, "*batch"] = eqx.field(converter=_as_array)
    nbar_plus: Float[Array, "*batch"] = eqx.field(converter=_as_array)
    gamma0_minus_hz: Float[Array, "*batch"] = eqx.field(converter=_as_array)
    nbar_minus: Float[Array, "*batch"] = eqx.field(converter=_as_array)

    @property
    def gamma_tilde0_plus_hz(self) -> Array:
        """Thermal decoherence rate of the server, gamma_{+,0} (nbar_+ + 1/2) [Hz]."""
        return self.gamma0_plus_hz * (self.nbar_plus + 0.5)

    @property
    def gamma_tilde0_minus_hz(self) -> Array:
        """Thermal decoherence rate of the client, gamma_{-,0} (nbar_- + 1/2) [Hz]."""
        return self.gamma0_minus_hz * (self.nbar_minus + 0.5)


class Design(_RealFields, eqx.Module):
    """Tunable parameters of the scheme.

    Attributes:
        theta_plus: interaction angle of the server, :math:`\\theta_+` [rad], in [0, pi/2].
            ``Gamma_B = Gamma sin^2(theta)`` is the beam-splitter part, ``Gamma_P =
            Gamma cos^2(theta)`` the down-conversion part; pi/4 is a QND interaction.
        theta_minus: interaction angle of the client, :math:`\\theta_-` [rad], in [0, pi/2].
        C_plus: quantum cooperativity of the server, :math:`C_+ = \\Gamma_+/\\tilde\\gamma_{+,0}`,
            > 0 (dimensionless).
        C_minus: quantum cooperativity of the client, :math:`C_-`, > 0.
        eps: power transmission loss between the subsystems, :math:`\\epsilon`, in [0, 1).
        phi: quadrature rotation between the subsystems, :math:`\\phi` [rad] (Sec. II).  The
            closed forms of the paper hold at ``phi = 0``; other values are handled by the
            general Gaussian engine (:func:`steerjax.covariance`).

    Examples:
        >>> import math, steerjax as sj
        >>> d = sj.Design(theta_plus=0.4 * math.pi, theta_minus=0.35 * math.pi,
        ...               C_plus=50.0, C_minus=50.0)
        >>> float(d.eps)
        0.0
    """

    theta_plus: Float[Array, "*batch"] = eqx.field(converter=_as_array)
    theta_minus: Float[Array, "*batch"] = eqx.field(converter=_as_array)
    C_plus: Float[Array, "*batch"] = eqx.field(converter=_as_array)
    C_minus: Float[Array, "*batch"] = eqx.field(converter=_as_array)
    eps: Float[Array, "*batch"] = eqx.field(converter=_as_array, default=0.0)
    phi: Float[Array, "*batch"] = eqx.field(converter=_as_array, default=0.0)


# The presets' numbers as Python floats.  thermal_preset() builds a fresh Thermal from them, in
# the precision in force when it is called; ``HOT`` and ``VACUUM_SERVER`` are built lazily on
# attribute access (module ``__getattr__``), so enabling x64 after ``import steerjax`` still gives
# float64 presets (a Thermal built at import time would hold 0.1 as 0.10000000149 in float32).
_PRESET_VALUES: dict[str, dict[str, float]] = {
    "hot": {"gamma0_plus_hz": 0.1, "nbar_plus": 1e5, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5},
    "vacuum-server": {"gamma0_plus_hz": 2e4, "nbar_plus": 0.0, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5},
}

THERMAL_PRESETS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {k: MappingProxyType(v) for k, v in _PRESET_VALUES.items()}
)
"""The paper's thermal sets by name (values as Python floats; rates gamma/2pi in Hz):

* ``"hot"`` (thick blue curves of Figs. 4-8): both oscillators with gamma_0/2pi = 0.1 Hz and
  nbar = 1e5, so gamma_tilde_0/2pi ~ 10 kHz;
* ``"vacuum-server"`` (thin orange curves): a hot client (0.1 Hz, nbar = 1e5) and a server
  coupled to a vacuum bath (gamma_0/2pi = 20 kHz, nbar = 0).

``steerjax.HOT`` and ``steerjax.VACUUM_SERVER`` are the same as ``thermal_preset("hot")`` and
``thermal_preset("vacuum-server")``, built on each access."""

_LAZY_PRESETS = {"HOT": "hot", "VACUUM_SERVER": "vacuum-server"}


def __getattr__(name: str):
    if name in _LAZY_PRESETS:
        return thermal_preset(_LAZY_PRESETS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def thermal_preset(name: str) -> Thermal:
    """Return one of the paper's thermal parameter sets by name: ``"hot"`` or
    ``"vacuum-server"`` (``"vacuum_server"`` is accepted too).

    The :class:`Thermal` is built on each call, so it has float64 fields whenever x64 is
    enabled at that moment.  Values: :data:`THERMAL_PRESETS`."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in _PRESET_VALUES:
        raise ValueError(f"thermal = {name!r} is not a known preset; allowed: {sorted(_PRESET_VALUES)}")
    return Thermal(**_PRESET_VALUES[key])
