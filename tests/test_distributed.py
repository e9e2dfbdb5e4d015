"""A batched ``optimize`` split over two processes (``jax.distributed``, CPU collectives over
127.0.0.1): each process solves the blocks of its own device and every process gets the whole
result, bitwise identical to a one-process run (issue 13)."""

from __future__ import annotations

import os
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
