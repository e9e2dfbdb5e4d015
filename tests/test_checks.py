"""Bad input: clear ValueErrors outside jit; run-time errors or NaN entries inside jit."""

from __future__ import annotations

import math
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import steerjax as sj

GOOD_THERMAL = {"gamma0_plus_hz": 0.1, "nbar_plus": 1e5, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5}
GOOD_DESIGN = {
    "theta_plus": 0.3 * math.pi,
    "theta_minus": 0.28 * math.pi,
    "C_plus": 50.0,
    "C_minus": 40.0,
    "eps": 0.1,
}
FUNCTIONS = {"steering": sj.steering, "covariance": sj.covariance}

# (parameter, bad value, allowed range as stated in the message)
BAD_DESIGN = [
    ("theta_plus", -0.1, "[0, pi/2]"),
    ("theta_plus", 1.6, "[0, pi/2]"),
    ("theta_minus", 2.0, "[0, pi/2]"),
    ("C_plus", 0.0, "(0, inf)"),
    ("C_minus", -3.0, "(0, inf)"),
    ("eps", 1.0, "[0, 1)"),
    ("eps", -0.01, "[0, 1)"),
]
BAD_THERMAL = [
    ("nbar_plus", -1.0, "[0, inf)"),
    ("nbar_minus", -1e-3, "[0, inf)"),
    ("gamma0_plus_hz", 0.0, "(0, inf) Hz"),
    ("gamma0_minus_hz", -2.0, "(0, inf) Hz"),
]


def _call(fn_name, thermal=None, design=None, **kw):
    th = sj.Thermal(**{**GOOD_THERMAL, **(thermal or {})})
    d = sj.Design(**{**GOOD_DESIGN, **(design or {})})
    return FUNCTIONS[fn_name](th, d, **kw)


@pytest.mark.parametrize("fn_name", FUNCTIONS)
@pytest.mark.parametrize(("name", "value", "allowed"), BAD_DESIGN + BAD_THERMAL)
def test_out_of_domain_raises_naming_parameter_value_and_range(fn_name, name, value, allowed):
    kind = "design" if name in GOOD_DESIGN else "thermal"
    with pytest.raises(ValueError) as info:
        _call(fn_name, **{kind: {name: value}})
    msg = str(info.value)
    assert f"{name} = {value!r}" in msg and allowed in msg, msg


@pytest.mark.parametrize("fn_name", FUNCTIONS)
@pytest.mark.parametrize("name", [*GOOD_DESIGN, *GOOD_THERMAL, "phi"])
def test_nan_input_raises(fn_name, name):
    kind = "thermal" if name in GOOD_THERMAL else "design"
    with pytest.raises(ValueError, match=rf"{name} = nan"):
        _call(fn_name, **{kind: {name: float("nan")}})


@pytest.mark.parametrize("fn_name", FUNCTIONS)
@pytest.mark.parametrize("side", ["minus", "plus"])
def test_unstable_design_raises_with_the_stable_range(fn_name, side):
    """theta just below the edge: the message names the angle, its value and the stable range,
    whose lower end must be arccos(1/(C (nbar + 1/2)))/2 (computed here independently)."""
    C = GOOD_DESIGN[f"C_{side}"]
    nbar = GOOD_THERMAL[f"nbar_{side}"]
    edge = 0.5 * math.acos(1.0 / (C * (nbar + 0.5)))
    theta = edge - 1e-3
    with pytest.raises(ValueError) as info:
        _call(fn_name, design={f"theta_{side}": theta})
    msg = str(info.value)
    assert "unstable" in msg and f"gamma_{side}" in msg
    assert f"theta_{side} = {theta!r}" in msg
    lo = float(re.search(rf"theta_{side} in \(([0-9.e+-]+), pi/2\]", msg).group(1))
    assert abs(lo - edge) < 1e-11
    _call(fn_name, design={f"theta_{side}": edge + 1e-6})  # just above the edge: fine


@pytest.mark.parametrize("fn_name", FUNCTIONS)
def test_batched_errors_name_the_index(fn_name):
    with pytest.raises(ValueError, match=r"C_plus\[2\] = -1\.0"):
        _call(fn_name, design={"C_plus": jnp.array([1.0, 2.0, -1.0, 4.0])})
    with pytest.raises(ValueError, match=r"eps\[1,0\] = 1\.5"):
        _call(fn_name, design={"eps": jnp.array([[0.1, 0.2], [1.5, 0.0]])})
    thetas = jnp.array([0.3, 0.1, 0.35, 0.05]) * math.pi  # entries 1 and 3 unstable
    with pytest.raises(ValueError, match=r"design\[1\] is dynamically unstable.*2 unstable entries"):
        _call(fn_name, design={"theta_minus": thetas})


def test_nonzero_phi_is_rejected_by_the_closed_forms_only():
    with pytest.raises(ValueError, match=r"phi = 0\.3 is outside the allowed range \{0\}"):
        _call("steering", design={"phi": 0.3})
    with pytest.raises(ValueError, match=r"phi\[2\] = -0\.5"):
        _call("steering", design={"phi": jnp.array([0.0, 0.0, -0.5])})
    S = _call("covariance", design={"phi": 0.3})  # the engine handles any phi
    assert np.all(np.isfinite(np.asarray(S)))


@pytest.mark.parametrize("fn_name", FUNCTIONS)
def test_unknown_policy_raises(fn_name):
    with pytest.raises(ValueError, match="on_invalid"):
        _call(fn_name, on_invalid="ignore")


# --- inside jit ---------------------------------------------------------------------------------

_BATCH = {
    # entries: 0 good, 1 theta out of range, 2 good, 3 unstable client, 4 C <= 0, 5 good (eps = 0)
    "theta_plus": [0.3, -0.2, 0.35, 0.3, 0.3, 0.4],
    "theta_minus": [0.28, 0.28, 0.3, 0.1, 0.28, 0.45],
    "C_plus": [50.0, 50.0, 80.0, 50.0, -1.0, 20.0],
    "C_minus": [40.0, 40.0, 60.0, 40.0, 40.0, 20.0],
    "eps": [0.1, 0.1, 0.0, 0.1, 0.1, 0.0],
}
_BAD = np.array([False, True, False, True, True, False])


def _batch_design():
    d = {k: jnp.asarray(np.array(v) * (math.pi if k.startswith("theta") else 1.0)) for k, v in _BATCH.items()}
    return sj.Design(**d)


@pytest.mark.parametrize("fn_name", FUNCTIONS)
def test_jit_raise_policy_raises_at_run_time(fn_name):
    fn = jax.jit(lambda th, d: FUNCTIONS[fn_name](th, d, on_invalid="raise"))
    th = sj.Thermal(**GOOD_THERMAL)
    good = sj.Design(**GOOD_DESIGN)
    assert np.all(np.isfinite(np.asarray(jax.tree_util.tree_leaves(fn(th, good))[0])))
    # the message names the first failed check, in the eager path's order (entry 1's theta_plus)
    with pytest.raises(
        Exception, match=r"invalid input inside jit: theta_plus is outside the allowed range \[0, pi/2\]"
    ):
        jax.block_until_ready(fn(th, _batch_design()))


def test_jit_error_names_an_unstable_oscillator():
    """Under equinox.filter_jit the error is an EquinoxRuntimeError with the eager path's words."""
    fn = eqx.filter_jit(lambda d: sj.steering(sj.Thermal(**GOOD_THERMAL), d).E_plus_given_minus)
    with pytest.raises(
        eqx.EquinoxRuntimeError, match=r"dynamically unstable: gamma_minus <= 0; stability needs"
    ):
        jax.block_until_ready(fn(sj.Design(0.3 * math.pi, 0.01, 50.0, 40.0)))


@pytest.mark.parametrize("fn_name", FUNCTIONS)
def test_nan_policy_marks_only_bad_entries(fn_name):
    """Under jit, on_invalid="nan" gives NaN exactly at the bad entries; the good entries equal the
    eager (checked) result for those designs alone.  The same holds outside jit."""
    th = sj.Thermal(**GOOD_THERMAL)
    d = _batch_design()
    jitted = jax.jit(lambda th, d: FUNCTIONS[fn_name](th, d, on_invalid="nan"))
    good_only = sj.Design(*(x[~_BAD] for x in (d.theta_plus, d.theta_minus, d.C_plus, d.C_minus, d.eps)))
    eager = FUNCTIONS[fn_name](th, good_only)
    for out in (jitted(th, d), FUNCTIONS[fn_name](th, d, on_invalid="nan")):
        for leaf, ref in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(eager), strict=True):
            leaf = np.asarray(leaf)
            assert leaf.shape[0] == len(_BAD)
            flat = leaf.reshape(len(_BAD), -1)
            assert np.all(np.isnan(flat[_BAD]))
            assert not np.any(np.isnan(flat[~_BAD]))
            np.testing.assert_allclose(leaf[~_BAD], np.asarray(ref), rtol=1e-13, atol=0)
