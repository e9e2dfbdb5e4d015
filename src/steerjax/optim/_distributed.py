"""Joining a multi-process JAX job from environment variables (for entry points such as the CLI).

Every batched call of steerjax (``optimize``, ``optimal_sweep``, ...) splits its batch over all
devices in ``jax.devices()``; in a ``jax.distributed`` job those are the devices of every
process, each process solves the blocks of its own devices and every process gets the whole
result (``docs/tutorials/scale-out.md``).  A script calls ``jax.distributed.initialize``
itself; a command started once per process (``steerjax optimize --from jobs.csv ...`` under
``srun``) is told by its environment:

* ``STEERJAX_DISTRIBUTED=auto``: ``jax.distributed.initialize()`` with no arguments, which
  reads the cluster's own variables (SLURM, Open MPI, Kubernetes, Cloud TPU; see JAX's
  documentation);
* ``STEERJAX_COORDINATOR=host:port`` with ``STEERJAX_NUM_PROCESSES`` and
  ``STEERJAX_PROCESS_ID``: an explicit job (process 0 listens on ``port``).

This changes JAX's global state (and selects the gloo collectives that CPU processes need) and
the process's standard output (native messages go to standard error), so only entry points
call it, before any computation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["join_job_from_environment", "DISTRIBUTED_VARIABLES"]

DISTRIBUTED_VARIABLES = (
    "STEERJAX_DISTRIBUTED",
    "STEERJAX_COORDINATOR",
    "STEERJAX_NUM_PROCESSES",
    "STEERJAX_PROCESS_ID",
)
"""The environment variables read by :func:`join_job_from_environment`."""


def _whole(env: Mapping[str, str], name: str, low: int, high: int | None) -> int:
    text = env.get(name, "").strip()
    allowed = f"integers >= {low}" if high is None else f"integers in [{low}, {high}]"
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise ValueError(f"{name} = {text!r} is not allowed; allowed: {allowed}")
    return value


def job_arguments(env: Mapping[str, str]) -> dict | None:
    """The keyword arguments of ``jax.distributed.initialize`` asked for by ``env`` (``{}``:
    detect the cluster), or None where ``env`` asks for no job.

    Raises:
        ValueError: a variable with a value outside its range, or an incomplete explicit job;
            the message names the variable, its value and what is allowed.
    """
    mode = env.get("STEERJAX_DISTRIBUTED", "").strip()
    address = env.get("STEERJAX_COORDINATOR", "").strip()
    if mode not in ("", "auto"):
        raise ValueError(f"STEERJAX_DISTRIBUTED = {mode!r} is not allowed; allowed: 'auto' or unset")
    if mode == "auto":
        if address:
            raise ValueError(
                f"STEERJAX_COORDINATOR = {address!r} is not allowed with STEERJAX_DISTRIBUTED = 'auto'; "
                "allowed: one of the two"
            )
        return {}
    if not address:
        extra = [n for n in ("STEERJAX_NUM_PROCESSES", "STEERJAX_PROCESS_ID") if env.get(n, "").strip()]
        if extra:
            raise ValueError(
                f"{extra[0]} is set but STEERJAX_COORDINATOR is not; allowed: set both or neither"
            )
        return None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"STEERJAX_COORDINATOR = {address!r} is not allowed; allowed: host:port, port in [1, 65535]"
        )
    n = _whole(env, "STEERJAX_NUM_PROCESSES", 1, None)
    i = _whole(env, "STEERJAX_PROCESS_ID", 0, n - 1)
    return {"coordinator_address": address, "num_processes": n, "process_id": i}


def join_job_from_environment(env: Mapping[str, str] | None = None, *, refuse: str | None = None) -> bool:
    """Join the multi-process job that the environment describes (module docstring); returns
    whether one was joined.  Does nothing where no variable is set.

    ``refuse``: the name of a command that must run in one process (``"steerjax figures"``):
    where the environment asks for a job, it raises instead of joining, so that every process
    of the job stops at once and none waits for the others.

    Raises:
        ValueError: see :func:`job_arguments`; and a job asked for while ``refuse`` is given.
    """
    env = os.environ if env is None else env
    kwargs = job_arguments(env)
    if kwargs is None:
        return False
    if refuse is not None:
        set_here = [name for name in DISTRIBUTED_VARIABLES if env.get(name)]
        raise ValueError(
            f"{refuse} runs in one process, not in a multi-process job ({', '.join(set_here)} "
            "set); unset the STEERJAX_* job variables and run it once"
        )
    import jax

    # CPU processes exchange the results over gloo (JAX's CPU collectives); accelerators use
    # their own, and the setting only concerns the CPU backend.  Asking which backend is the
    # default would start the backends, which must come after initialize().
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    _native_stdout_to_stderr()
    jax.distributed.initialize(**kwargs)
    return True


def _native_stdout_to_stderr() -> None:
    """Point file descriptor 1 at standard error, and ``sys.stdout`` at a copy of the original
    standard output.  Native code of a job writes to descriptor 1 (gloo prints a line per
    process when the processes connect), which would mix with a command's CSV or JSON on
    standard output; Python's own output still goes there."""
    import sys

    try:
        sys.stdout.flush()
        original = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError):  # no real descriptors (an embedding host): leave them
        return
    sys.stdout = os.fdopen(original, "w", buffering=1, encoding=sys.stdout.encoding or "utf-8")
