"""Input validation at the edges: complex values, extreme rates, one parsing rule, text output.

Each test here failed before the fix it guards (issue items 7, 8, 11 and 14):

* complex parameters were accepted (a complex E, or the imaginary part dropped with only a
  ``ComplexWarning``);
* rates far from 1 Hz gave NaN or wrong numbers, because products of rates over/underflowed;
* the command line and the tables read ``5_0`` and full-width digits as 50, ``nan`` meant
  "no constraint" in a cell but was an error as a flag, and ``n_starts=1.5`` became 1;
* the text report showed ``f = -0`` and ``eps = 1`` for eps = 0.999999999999.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import steerjax as sj
from reference import textbook_mp
from steerjax import io as numbers
from steerjax import io as tables
from steerjax._cli import _optimize_jobs as optimize_jobs
from steerjax._cli import build_parser, main
from steerjax.optim import _job_columns as job_columns

THERMAL = {"gamma0_plus_hz": 0.1, "nbar_plus": 1e5, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5}
DESIGN = {"theta_plus": 0.4 * math.pi, "theta_minus": 0.35 * math.pi, "C_plus": 50.0, "C_minus": 50.0}
REFERENCE = json.loads((Path(__file__).parent / "data" / "reference_optima.json").read_text())["rows"]


def run_cli(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# Item 7: complex inputs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*DESIGN, "eps", "phi"])
def test_complex_design_field_is_a_type_error_naming_it(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(TypeError, match=rf"^{name} = .*complex"):
            sj.Design(**{**DESIGN, name: 0.1 + 0.5j})


@pytest.mark.parametrize("name", list(THERMAL))
def test_complex_thermal_field_is_a_type_error_naming_it(name):
    with pytest.raises(TypeError, match=rf"^{name} = .*complex"):
        sj.Thermal(**{**THERMAL, name: np.asarray([1.0, 2.0 + 1e-9j])})


def test_issue_example_complex_theta_plus_is_refused():
    with pytest.raises(TypeError, match="theta_plus"):
        sj.steering(sj.HOT, sj.Design(1.1 + 0.5j, 1.0995574287564276, 50.0, 50.0))


def test_complex_field_set_with_tree_at_is_refused_by_the_functions():
    """eqx.tree_at skips the constructor; the functions' own guard catches it (also in jit)."""
    d = eqx.tree_at(lambda x: x.C_plus, sj.Design(**DESIGN), jnp.asarray(50.0 + 1j))
    with pytest.raises(TypeError, match="C_plus"):
        sj.steering(sj.HOT, d)
    with pytest.raises(TypeError, match="C_plus"):
        jax.jit(lambda t, x: sj.covariance(t, x, on_invalid="nan"))(sj.HOT, d)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("C_minus", 10.0 + 1j),
        ("eps", 0.1j),
        ("theta_minus_bounds", (0.1 + 0j, 0.7)),
        ("C_plus_bounds", (1.0, 20.0 + 1j)),
        ("min_damping_ratio", 1e-3 + 0j),
    ],
)
def test_complex_problem_argument_is_a_type_error_naming_it(name, value):
    kwargs = {"C_minus": 10.0, name: value}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match=rf"{name} = .*complex"):
            sj.Problem(sj.HOT, **kwargs)


def test_real_inputs_still_work_under_jit_and_vmap_and_complex_ones_fail_at_trace_time():
    th = sj.Thermal(**THERMAL)
    thetas = jnp.asarray([0.38, 0.4, 0.42]) * math.pi

    def e_pm(theta):
        return sj.steering(th, sj.Design(theta, DESIGN["theta_minus"], 50.0, 50.0)).E_plus_given_minus

    eager = np.asarray([float(e_pm(t)) for t in thetas])
    np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(e_pm))(thetas)), eager, rtol=1e-14, atol=0)
    with pytest.raises(TypeError, match="theta_plus"):
        jax.jit(e_pm)(jnp.asarray(1.1 + 0j))


# ---------------------------------------------------------------------------------------------
# Item 8: extreme rates
# ---------------------------------------------------------------------------------------------


def _scaled_thermal(factor):
    return sj.Thermal(
        gamma0_plus_hz=THERMAL["gamma0_plus_hz"] * factor,
        nbar_plus=THERMAL["nbar_plus"],
        gamma0_minus_hz=THERMAL["gamma0_minus_hz"] * factor,
        nbar_minus=THERMAL["nbar_minus"],
    )


FIELDS = ("E_plus_given_minus", "E_minus_given_plus", "var_plus", "var_minus", "cov", "f")


@pytest.mark.parametrize("power", [-997, -520, 450, 996])
def test_power_of_two_rate_scaling_changes_nothing(power):
    """Rates scaled by an exact power of two: every dimensionless result is bit-for-bit the
    same, and the rates are scaled exactly (before: NaN at 2^-520 and beyond)."""
    design = sj.Design(**DESIGN, eps=0.1)
    base = sj.steering(_scaled_thermal(1.0), design)
    far = sj.steering(_scaled_thermal(2.0**power), design)
    for name in FIELDS:
        assert float(getattr(far, name)) == float(getattr(base, name)), name
    assert float(far.gamma_plus_hz) == float(base.gamma_plus_hz) * 2.0**power
    np.testing.assert_allclose(
        np.asarray(sj.covariance(_scaled_thermal(2.0**power), design)),
        np.asarray(sj.covariance(_scaled_thermal(1.0), design)),
        rtol=0,
        atol=1e-15 * float(base.var_plus),
    )


@pytest.mark.parametrize("factor", [1e-300, 1e-160, 1e-100, 1e100, 1e149, 1e300])
def test_extreme_rates_match_the_50_digit_reference(factor):
    """E, the variances and the covariance at rates scaled by 1e-300 ... 1e300 against the
    textbook formulas evaluated at 50 digits at those very rates (tests/reference.py)."""
    design = sj.Design(**DESIGN, eps=0.1)
    th = _scaled_thermal(factor)
    res = sj.steering(th, design)
    ref = textbook_mp(
        *(DESIGN[k] for k in ("theta_plus", "theta_minus", "C_plus", "C_minus")),
        0.1,
        float(th.gamma0_plus_hz),
        THERMAL["nbar_plus"],
        float(th.gamma0_minus_hz),
        THERMAL["nbar_minus"],
    )
    for name, key in (
        ("E_plus_given_minus", "E_plus_given_minus"),
        ("E_minus_given_plus", "E_minus_given_plus"),
        ("var_plus", "var_plus"),
        ("var_minus", "var_minus"),
        ("cov", "cov"),
    ):
        assert float(getattr(res, name)) == pytest.approx(float(ref[key]), rel=1e-13), name
    E_pm, E_mp = sj.steering_at_phase(th, design)  # the general-phi engine, at phi = 0
    assert float(E_pm) == pytest.approx(float(ref["E_plus_given_minus"]), rel=1e-13)
    assert float(E_mp) == pytest.approx(float(ref["E_minus_given_plus"]), rel=1e-13)
    S = np.asarray(sj.covariance(th, design))
    assert S[0, 0] == pytest.approx(float(ref["var_minus"]), rel=1e-12)
    assert S[2, 2] == pytest.approx(float(ref["var_plus"]), rel=1e-12)
    assert float(res.gamma_minus_hz) == pytest.approx(float(ref["gamma_minus"]), rel=1e-12)


def test_extreme_rates_are_still_checked():
    """Rescaling does not hide bad input: an unstable design at tiny rates is still refused."""
    with pytest.raises(ValueError, match="unstable"):
        sj.steering(_scaled_thermal(1e-300), sj.Design(0.1, DESIGN["theta_minus"], 50.0, 50.0))


def _reference_row(**match):
    (row,) = [r for r in REFERENCE if all(r[k] == v for k, v in match.items())]
    return row


def test_optimize_at_tiny_and_huge_rates_finds_the_reference_optimum():
    """Hot set, C_- = 10: the optimum is 0.28504... whatever the unit of the rates (before:
    0.4296 with a NaN gradient norm at gamma0 = 1e-300 Hz).  Reference: the JAX-free table
    tests/data/reference_optima.json."""
    row = _reference_row(
        thermal="hot", eps=0.0, coupling="asymmetric", direction="plus-given-minus", C_minus=10.0
    )
    for gamma0 in (1e-300, 1e300):
        th = sj.Thermal(gamma0, 1e5, gamma0, 1e5)
        res = sj.optimize(sj.Problem(th, C_minus=10.0))
        assert float(res.value) == pytest.approx(row["E"], rel=1e-10), gamma0
        assert math.isfinite(float(res.grad_norm))
        assert bool(res.converged)
        rate = float(res.gamma_plus_hz) / gamma0  # a rate, in units of gamma0
        assert 0 < rate < 1e12


# ---------------------------------------------------------------------------------------------
# Item 11: one parsing rule
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["5_0", "５０", "٥٠", "nan", "NaN", "-nan", "0x32", "50 0", "1e"])
def test_parse_number_refuses_lenient_forms(text):
    with pytest.raises(ValueError):
        numbers.parse_number(text)
    with pytest.raises(ValueError):
        numbers.parse_angle(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("50", 50.0), ("-3", -3.0), ("+2.5e-3", 2.5e-3), (".5", 0.5), ("2.", 2.0), ("1E5", 1e5), (" 7 ", 7.0)],
)
def test_parse_number_takes_ascii_decimal_literals(text, value):
    assert numbers.parse_number(text) == value
    assert numbers.parse_angle(text) == value


def test_parse_angle_still_takes_the_documented_pi_forms():
    assert numbers.parse_angle("0.35pi") == 0.35 * math.pi
    assert numbers.parse_angle("pi/4") == math.pi / 4
    assert numbers.parse_angle("π/4") == math.pi / 4
    with pytest.raises(ValueError):
        numbers.parse_angle("０.35pi")


@pytest.mark.parametrize(("text", "value"), [("8", 8), ("8.0", 8), ("1e3", 1000), ("-2", -2)])
def test_parse_integer_takes_whole_numbers(text, value):
    assert numbers.parse_integer(text) == value


@pytest.mark.parametrize("text", ["1.5", "1_0", "１０", "nan", "inf", ""])
def test_parse_integer_refuses_the_rest(text):
    with pytest.raises(ValueError):
        numbers.parse_integer(text)


def test_c_plus_flag_with_separator_or_full_width_digits_is_a_usage_error(capsys):
    base = ["evaluate", "--thermal", "hot", "--theta-plus", "0.4pi", "--theta-minus", "0.35pi"]
    for text in ("5_0", "５０"):
        code, out, err = run_cli([*base, "--c-plus", text, "--c-minus", "50"], capsys)
        assert code == 2 and "--c-plus" in err and repr(text) in err and not out


def test_cells_with_separator_or_full_width_digits_are_refused(tmp_path, capsys):
    path = tmp_path / "designs.csv"
    path.write_text("theta_plus,theta_minus,C_plus,C_minus\n0.4pi,0.35pi,5_0,50\n0.4pi,0.35pi,50,５０\n")
    code, out, err = run_cli(["evaluate", "--thermal", "hot", "--from", str(path)], capsys)
    assert code == 1
    assert f"{path}:2: C_plus: '5_0' is not a number" in err
    assert f"{path}:3: C_minus: '５０' is not a number" in err


def test_nan_is_an_error_in_a_flag_and_in_a_cell_alike(tmp_path, capsys):
    code, _, err = run_cli(
        ["optimize", "--thermal", "hot", "--c-minus", "10", "--min-damping-ratio", "nan"], capsys
    )
    assert code == 2 and "--min-damping-ratio" in err and "'nan'" in err
    path = tmp_path / "jobs.csv"
    path.write_text("C_minus,theta_minus_max,min_damping_ratio\n10,nan,\n10,,nan\n")
    code, out, err = run_cli(["optimize", "--thermal", "hot", "--from", str(path)], capsys)
    assert code == 1 and len(out.strip().splitlines()) == 1  # the header only: no row is solved
    assert f"{path}:2: theta_minus_max: 'nan' is not allowed" in err
    assert f"{path}:3: min_damping_ratio: 'nan' is not allowed" in err


def test_output_writes_not_given_as_an_empty_cell_so_it_reads_back(tmp_path):
    """Under the rule an output file is valid input: a constraint that was not given is an
    empty cell, not ``nan``."""
    table = tables.Table(
        source="t",
        header=["C_minus", "theta_minus_max"],
        in_file=frozenset({"C_minus", "theta_minus_max"}),
        lines=np.asarray([2, 3]),
        values={"C_minus": np.asarray([10.0, 10.0]), "theta_minus_max": np.asarray([math.nan, 0.7])},
        extra={},
    )
    out = job_columns.output_table(table, np.asarray([0, 1]), [], {}, conditional=False)
    assert out["theta_minus_max"].tolist() == ["", 0.7]
    path = tmp_path / "back.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["C_minus", "theta_minus_max"])
        writer.writerows(zip(out["C_minus"].tolist(), out["theta_minus_max"].tolist(), strict=True))
    back = tables.read_table(
        path, [tables.Column("C_minus"), tables.Column("theta_minus_max", allow_empty=True)]
    )
    assert back.ok.all() and back.empty["theta_minus_max"].tolist() == [True, False]


@pytest.mark.parametrize("n_starts", [1.5, 0.5, float("nan"), "8", True])
def test_n_starts_must_be_a_whole_number(n_starts):
    with pytest.raises((TypeError, ValueError), match="n_starts"):
        sj.optimize(sj.Problem(sj.HOT, C_minus=10.0), n_starts=n_starts)


def test_starts_flag_and_grid_count_take_ascii_whole_numbers_only(capsys):
    base = ["optimize", "--thermal", "hot"]
    code, _, err = run_cli([*base, "--c-minus", "10", "--starts", "1_0"], capsys)
    assert code == 2 and "--starts" in err and "'1_0'" in err
    code, _, err = run_cli([*base, "--c-minus", "10", "--starts", "1.5"], capsys)
    assert code == 2 and "--starts" in err
    code, _, err = run_cli([*base, "--c-minus-grid", "1", "10", "1_0"], capsys)
    assert code == 2 and "N = '1_0'" in err


# ---------------------------------------------------------------------------------------------
# Item 14: text output
# ---------------------------------------------------------------------------------------------


def test_text_report_shows_no_negative_zero_and_eps_just_below_one(capsys):
    """theta_+ = theta_- gives R = -0, so f = -0.0; eps = 1 - 1e-12 must not read as 1."""
    eps = 0.999999999999
    d = sj.Design(0.35 * math.pi, 0.35 * math.pi, 50.0, 50.0, eps=eps)
    assert math.copysign(1.0, float(sj.steering(sj.HOT, d).f)) == -1.0  # the case is real
    argv = ["evaluate", "--thermal", "hot", "--theta-plus", "0.35pi", "--theta-minus", "0.35pi"]
    code, out, _ = run_cli([*argv, "--c-plus", "50", "--c-minus", "50", "--eps", repr(eps)], capsys)
    assert code == 0
    assert "-0" not in out.replace("e-0", "")
    assert "f = 2R/gamma_+ = 0\n" in out
    (line,) = [ln for ln in out.splitlines() if ln.strip().startswith("eps")]
    assert float(line.split("=")[1]) == eps


@pytest.mark.parametrize(
    ("x", "digits", "bounds", "expected"),
    [
        (-0.0, 10, (), "0"),
        (0.999999999999, 10, (0.0, 1.0), "0.999999999999"),
        (0.999999999999, 4, (0.0, 1.0), "0.999999999999"),
        (0.99999, 4, (0.0, 1.0), "0.99999"),
        (1.0, 4, (0.0, 1.0), "1"),
        (0.4999999999999999, 12, (0.5,), "0.4999999999999999"),
        (0.123456789012345, 4, (0.0, 1.0), "0.1235"),
        (1e-300, 10, (0.0,), "1e-300"),
    ],
)
def test_format_number(x, digits, bounds, expected):
    assert numbers.format_number(x, digits, bounds) == expected


def test_optimize_table_shows_eps_just_below_one_and_no_negative_zero():
    """The optimize text table (4 digits for eps) does not round eps = 1 - 1e-12 up to 1.
    The table is formatted from stand-in results (the formatting is what is tested)."""
    eps = 0.999999999999
    args = build_parser().parse_args(["optimize", "--thermal", "hot", "--c-minus", "10", "--eps", repr(eps)])
    table = optimize_jobs.jobs_from_flags(args)
    one = np.ones(1)
    results = {
        "E_plus_given_minus": 0.4 * one,
        "E_minus_given_plus": -0.0 * one,
        "theta_plus": one,
        "theta_minus": one,
        "C_plus_over_C_minus": one,
        "converged": np.asarray([True]),
        "at_stability_edge": np.asarray([False]),
    }
    text = optimize_jobs.format_table(args, table, np.asarray([0]), results)
    row = text.splitlines()[5].split()
    assert row[1] == repr(eps) and row[3] == "0", text
