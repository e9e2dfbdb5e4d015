"""steerjax.analysis.run_concurrently: order, exceptions, and results equal to one after the other."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import steerjax as sj
from steerjax.analysis._concurrent import default_workers, locked


def test_results_in_task_order_and_tasks_overlap():
    seen = []
    both_running = threading.Barrier(2, timeout=10)

    def task(i):
        def run():
            both_running.wait()  # raises BrokenBarrierError unless two tasks run at once
            time.sleep(0.01 * (2 - i))  # the first task ends last
            seen.append(i)
            return i * 10

        return run

    assert sj.analysis.run_concurrently([task(0), task(1)], workers=2) == [0, 10]
    assert seen == [1, 0]


def test_one_worker_runs_in_the_calling_thread_in_order():
    threads = []

    def task(i):
        return lambda: (threads.append(threading.current_thread()), i)[1]

    assert sj.analysis.run_concurrently([task(i) for i in range(4)], workers=1) == [0, 1, 2, 3]
    assert set(threads) == {threading.current_thread()}
    assert sj.analysis.run_concurrently([]) == []


def test_an_exception_of_a_task_is_raised():
    def bad():
        raise ValueError("task failed")

    with pytest.raises(ValueError, match="task failed"):
        sj.analysis.run_concurrently([lambda: 1, bad, lambda: 3], workers=2)


@pytest.mark.parametrize("workers", [0, -1])
def test_bad_worker_count_is_refused(workers):
    with pytest.raises(ValueError, match=r"workers = -?\d+ .*allowed: integers >= 1"):
        sj.analysis.run_concurrently([lambda: 1], workers=workers)


def test_default_workers_and_locked_callback():
    assert default_workers(0) == 1
    assert 1 <= default_workers(100) <= 100
    assert locked(None) is None
    calls = []
    f = locked(lambda *a: calls.append(a))
    f(1, 2)
    assert calls == [(1, 2)]


def test_optimal_grid_is_the_same_in_threads_and_one_after_the_other():
    """Two (coupling, direction) batches in two threads give the same optima, bit for bit, as
    the same batches solved one after the other, and the progress reaches the total."""
    kwargs = dict(couplings=["asymmetric"], directions=list(sj.DIRECTIONS), n_starts=2)
    calls = []
    threaded = sj.optimal_steering_grid(
        ["hot"], [0.0], [3.0, 30.0], workers=2, progress=lambda d, n: calls.append((d, n)), **kwargs
    )
    serial = sj.optimal_steering_grid(["hot"], [0.0], [3.0, 30.0], workers=1, **kwargs)
    for key in ("E", "theta_plus", "theta_minus", "C_plus"):
        np.testing.assert_array_equal(threaded[key], serial[key])
    assert list(threaded["direction"]) == list(serial["direction"])
    assert calls[-1] == (4, 4) and all(n == 4 for _, n in calls)
