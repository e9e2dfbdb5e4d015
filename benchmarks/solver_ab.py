"""One solver of benchmarks/run.py section (d), in a process of its own, for A/B comparisons.

sj.optimize on the 32 Fig. 4 problems (hot set, eps = 0, asymmetric, E_+|-, C_- log-spaced in
[1, 1000], 8 default starts), best of 3 calls after compilation; prints one JSON line (wall and
process-CPU seconds, steps of the winning starts, the 1-min load average) and saves the optima.

    PYTHONPATH=src python benchmarks/solver_ab.py newton /tmp/newton.npy
    PYTHONPATH=src python benchmarks/solver_ab.py lbfgs /tmp/lbfgs.npy   # or: zoom
"""

import json
import os
import sys
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import steerjax as sj  # noqa: E402

SOLVERS = {"newton": sj.ProjectedNewton, "lbfgs": sj.LBFGS, "zoom": lambda: sj.LBFGS(linesearch="zoom")}


def main(name: str, out: str) -> None:
    solver = SOLVERS[name]()
    problem = sj.Problem(sj.thermal_preset("hot"), sj.log_grid(1.0, 1000.0, 32))
    jax.block_until_ready(sj.optimize(problem, solver=solver).value)
    runs, cpus = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        res = sj.optimize(problem, solver=solver)
        jax.block_until_ready(res.value)
        runs.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    np.save(out, np.asarray(res.value))
    print(
        json.dumps(
            {
                "solver": name,
                "seconds": min(runs),
                "cpu_seconds": min(cpus),
                "win_steps_mean": float(np.mean(res.steps)),
                "win_steps_max": int(np.max(res.steps)),
                "converged": float(np.mean(res.converged)),
                "load1": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
