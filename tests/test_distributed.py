"""A batched ``optimize`` split over two processes (``jax.distributed``, CPU collectives over
127.0.0.1): each process solves the blocks of its own device and every process gets the whole
result, bitwise identical to a one-process run (issue 13)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import steerjax as sj

WORKER = Path(__file__).with_name("_distributed_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_give_the_one_process_result_bitwise(tmp_path):
    port = str(_free_port())
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(sj.__file__).parents[1]), os.environ.get("PYTHONPATH")])
        ),
    }
    outs = [tmp_path / f"process{i}.npz" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), port, str(i), str(outs[i])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    logs = []
    for p in procs:
        try:
            logs.append(p.communicate(timeout=300)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("the two-process run did not finish in 300 s")
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)

    C_minus = np.asarray(sj.log_grid(1.0, 1000.0, 300))
    ref = sj.optimize(sj.Problem(sj.HOT, C_minus), n_starts=4, block_size=64)
    expected = {"w": np.asarray(ref.w), **{k: np.asarray(v) for k, v in ref.columns().items()}}
    for out in outs:
        got = np.load(out)
        assert sorted(got.files) == sorted(expected)
        for name, column in expected.items():
            assert got[name].shape == column.shape
            assert np.array_equal(got[name], column, equal_nan=True), name


def _cli_env(**extra) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(sj.__file__).parents[1]), os.environ.get("PYTHONPATH")])
        ),
        "STEERJAX_CACHE_DIR": "off",
    }
    for name in (
        "STEERJAX_DISTRIBUTED",
        "STEERJAX_COORDINATOR",
        "STEERJAX_NUM_PROCESSES",
        "STEERJAX_PROCESS_ID",
    ):
        env.pop(name, None)
    env.update(extra)
    return env


def _cli(args, env, cwd):
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from steerjax._cli import main; sys.exit(main(sys.argv[1:]))",
            *args,
        ],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_job_file_over_two_processes_is_written_once_as_by_one_process(tmp_path):
    """``steerjax optimize --from jobs.csv --out results.csv`` started once per process with the
    job in STEERJAX_* variables: process 0 writes the file, byte-identical to a one-process
    run's; the other process prints and writes nothing."""
    jobs = tmp_path / "jobs.csv"
    rows = [
        f"{t},{e},{d},{c:.6g}"
        for t in ("hot", "vacuum-server")
        for e in (0, 0.1)
        for d in sj.DIRECTIONS
        for c in np.geomspace(1, 1000, 12)
    ]
    jobs.write_text("thermal,eps,direction,C_minus\n" + "\n".join(rows) + "\n")
    args = ["optimize", "--from", str(jobs), "--starts", "4", "--out"]
    one = _cli([*args, str(tmp_path / "one.csv")], _cli_env(), tmp_path)
    one_out, one_err = one.communicate(timeout=300)
    assert one.returncode == 0, one_err

    port = str(_free_port())
    procs = [
        _cli(
            [*args, str(tmp_path / "two.csv"), "--json"],
            _cli_env(
                STEERJAX_COORDINATOR=f"127.0.0.1:{port}",
                STEERJAX_NUM_PROCESSES="2",
                STEERJAX_PROCESS_ID=str(i),
            ),
            tmp_path,
        )
        for i in range(2)
    ]
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=300))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("the two-process CLI run did not finish in 300 s")
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert outs[0][0].strip().startswith("[") and outs[1][0] == ""  # --json: process 0 only


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"STEERJAX_DISTRIBUTED": "yes"},
            "STEERJAX_DISTRIBUTED = 'yes' is not allowed; allowed: 'auto' or unset",
        ),
        (
            {"STEERJAX_COORDINATOR": "localhost"},
            "STEERJAX_COORDINATOR = 'localhost' is not allowed; allowed: host:port",
        ),
        (
            {
                "STEERJAX_COORDINATOR": "127.0.0.1:1234",
                "STEERJAX_NUM_PROCESSES": "2",
                "STEERJAX_PROCESS_ID": "2",
            },
            "STEERJAX_PROCESS_ID = '2' is not allowed; allowed: integers in [0, 1]",
        ),
        (
            {"STEERJAX_COORDINATOR": "127.0.0.1:1234"},
            "STEERJAX_NUM_PROCESSES = '' is not allowed; allowed: integers >= 1",
        ),
        ({"STEERJAX_PROCESS_ID": "0"}, "STEERJAX_PROCESS_ID is set but STEERJAX_COORDINATOR is not"),
    ],
)
def test_bad_job_variables_are_named(variables, message):
    from steerjax.optim._distributed import job_arguments

    with pytest.raises(ValueError, match=re.escape(message)):
        job_arguments(variables)
    assert job_arguments({}) is None
    assert job_arguments({"STEERJAX_DISTRIBUTED": "auto"}) == {}


def test_cli_refuses_bad_job_variables_with_status_2(tmp_path):
    p = _cli(["optimize", "--c-minus", "10"], _cli_env(STEERJAX_COORDINATOR="nohost"), tmp_path)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2 and out == ""
    assert "steerjax: STEERJAX_COORDINATOR = 'nohost' is not allowed" in err


def test_a_command_that_must_run_alone_refuses_a_job_before_joining():
    from steerjax.optim._distributed import join_job_from_environment

    env = {"STEERJAX_COORDINATOR": "127.0.0.1:1", "STEERJAX_NUM_PROCESSES": "2", "STEERJAX_PROCESS_ID": "1"}
    with pytest.raises(ValueError, match="steerjax figures runs in one process.*STEERJAX_COORDINATOR"):
        join_job_from_environment(env, refuse="steerjax figures")  # would hang if it joined: no process 0
    assert join_job_from_environment({}, refuse="steerjax figures") is False


def test_cli_figures_in_a_job_stops_every_process_with_status_2(tmp_path):
    """Each process of a job refuses ``figures`` at once (none waits for a partner), and no
    output folder is made."""
    job = dict(STEERJAX_COORDINATOR=f"127.0.0.1:{_free_port()}", STEERJAX_NUM_PROCESSES="2")
    procs = [
        _cli(
            ["figures", "--only", "2", "--quick", "--out", "figs"],
            _cli_env(**job, STEERJAX_PROCESS_ID=str(i)),
            tmp_path,
        )
        for i in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 2 and out == ""
        assert "steerjax: steerjax figures runs in one process, not in a multi-process job" in err
    assert not (tmp_path / "figs").exists()
