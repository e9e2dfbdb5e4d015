"""Independent optimisations run side by side in threads, so that their compilations overlap.

Why.  A figure solves several independent batches -- one per (coupling, direction) -- and each
needs its own compiled program.  XLA compiles a program on about one core, while a running
optimisation already uses every core; so on the 2-core development CPU two batches in two
threads finished in 41.5-42.4 s where one after the other took 58.0-58.3 s (Fig. 8's two
conditional batches on 40 values of C_-, fresh processes, empty caches, 2026-12-04; the same
E to the last bit).  Each task computes exactly what it computes alone: only the order in which
they run changes.

Interrupts.  Python delivers Ctrl-C to the main thread, which stops waiting at once: tasks not
started are cancelled and the exception propagates, but a task already running in a worker
thread cannot be stopped from outside, so the process ends once it returns (at most one task
per worker).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["run_concurrently", "default_workers", "locked"]

T = TypeVar("T")


def default_workers(n_tasks: int) -> int:
    """Threads for ``n_tasks`` independent optimisations: one per task, at most one per CPU
    core (``os.cpu_count()``), and at least 1.

    Examples:
        >>> import os, steerjax as sj
        >>> sj.analysis.default_workers(4) == min(4, os.cpu_count() or 1)
        True
        >>> sj.analysis.default_workers(0)
        1
    """
    return max(1, min(int(n_tasks), os.cpu_count() or 1))


def run_concurrently(tasks: Sequence[Callable[[], T]], workers: int | None = None) -> list[T]:
    """Call every task (no arguments) and return their results in the order of ``tasks``.

    ``workers`` threads at a time (default :func:`default_workers`); ``workers = 1`` calls them
    one after the other in the calling thread.  An exception of a task is raised here as soon
    as the tasks before it (in task order) have returned; tasks not yet started are cancelled.

    Examples:
        >>> import steerjax as sj
        >>> sj.analysis.run_concurrently([lambda: "first", lambda: "second"], workers=2)
        ['first', 'second']
    """
    tasks = list(tasks)
    n = default_workers(len(tasks)) if workers is None else int(workers)
    if n < 1:
        raise ValueError(f"workers = {workers!r} is not allowed; allowed: integers >= 1 (or None)")
    if n == 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="steerjax")
    try:
        futures = [pool.submit(task) for task in tasks]
        return [f.result() for f in futures]
    finally:
        # On an exception or an interrupt: drop what has not started; do not wait here for
        # what is running (the interpreter joins those threads when it exits).
        pool.shutdown(wait=False, cancel_futures=True)


def locked(callback: Callable[..., None] | None) -> Callable[..., None] | None:
    """``callback`` made safe to call from several threads (calls are serialised); None stays
    None."""
    if callback is None:
        return None
    lock = threading.Lock()

    def call(*args):
        with lock:
            callback(*args)

    return call
