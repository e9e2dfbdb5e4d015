"""``steerjax optimize --sensitivities`` (issue 12, item 3): the columns dEstar_d_<p> and
elasticity_<p>.

One run of a job file (two good rows, one with a damping margin, and one bad row) is checked
against :func:`steerjax.optimum_sensitivity` of the same jobs, and one written derivative
against a central finite difference of E* re-optimised by :func:`steerjax.optimize` (the
perturbed jobs are rows of the same batched call as the reference, so nothing extra compiles).
"""

from __future__ import annotations

import contextlib
import csv
import io

import jax
import numpy as np
import pytest

import steerjax as sj
from steerjax._cli import main
from test_cli_optimize import HOT

JOBS = """\
id,C_minus,eps,min_damping_ratio
edge,10,0,
margin,100,0.05,0.01
bad,-1,0,
"""
H = 1e-4  # relative step of the finite difference in C_minus


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("sens") / "jobs.csv"
    path.write_text(JOBS)
    err, out = io.StringIO(), io.StringIO()  # capsys is function-scoped: capture by hand
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["optimize", "--thermal", "hot", "--from", str(path), "--sensitivities"])
    return code, list(csv.DictReader(io.StringIO(out.getvalue()))), err.getvalue()


@pytest.fixture(scope="module")
def reference():
    """The two good jobs and C_- (1 -+ H) of the margin job, in one batched optimize call."""
    C = np.array([10.0, 100.0, 100.0 * (1 - H), 100.0 * (1 + H)])
    problem = sj.Problem(
        sj.Thermal(**HOT),
        C,
        eps=np.array([0.0, 0.05, 0.05, 0.05]),
        min_damping_ratio=np.array([0, 1e-2, 1e-2, 1e-2]),
    )
    result = sj.optimize(problem)
    # the sensitivities of the two jobs alone: the batch shape of the command's call, whose
    # compiled program is reused
    jobs = jax.tree_util.tree_map(lambda x: x[:2], (problem, result))
    return result, sj.optimum_sensitivity(*jobs)


def test_bad_row_named_and_good_rows_written(run):
    code, records, err = run
    assert code == 1
    assert [r["id"] for r in records] == ["edge", "margin"]
    assert "jobs.csv:4: " in err and "C_minus" in err


def test_columns_equal_the_library(run, reference):
    """Names and order (the six parameters, and the damping margin that a job sets: derivatives,
    then elasticities, last), values equal to :func:`steerjax.optimum_sensitivity`."""
    _, records, _ = run
    names = list(records[0])
    params = (*sj.optim.OPTIMUM_PARAMETERS[:6], "min_damping_ratio")
    expected = [f"dEstar_d_{p}" for p in params] + [f"elasticity_{p}" for p in params]
    assert names[-len(expected) :] == expected
    assert "dEstar_d_phase_tolerance" not in names  # no job has a tolerance
    cols = reference[1].columns()
    for name in expected:
        written = np.array([float(r[name]) for r in records])
        np.testing.assert_allclose(written, cols[name][:2], rtol=1e-9, atol=1e-300, err_msg=name)
    assert float(records[0]["elasticity_eps"]) == 0.0  # eps = 0: no relative change


def test_written_derivative_matches_a_finite_difference(run, reference):
    """dEstar_d_C_minus of the margin job against (E*(C (1 + H)) - E*(C (1 - H))) / (2 H C) of
    re-optimised E* (measured agreement ~1e-8 relative)."""
    _, records, _ = run
    E = np.asarray(reference[0].value)
    fd = (E[3] - E[2]) / (2 * H * 100.0)
    written = float(records[1]["dEstar_d_C_minus"])
    assert abs(written - fd) <= 1e-5 * abs(fd)
