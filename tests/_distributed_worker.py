"""One process of the two-process run of ``tests/test_distributed.py`` (not a test itself).

Usage: ``python _distributed_worker.py PORT PROCESS_ID OUT.npz``.  Joins a two-process
``jax.distributed`` job over 127.0.0.1 with JAX's CPU collectives (gloo), optimises the same
batch as the test's one-process reference, and saves every result column.
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_cpu_collectives_implementation", "gloo")

port, process_id, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)

import numpy as np  # noqa: E402

import steerjax as sj  # noqa: E402

assert jax.process_count() == 2 and len(jax.devices()) == 2 and len(jax.local_devices()) == 1
C_MINUS = np.asarray(sj.log_grid(1.0, 1000.0, 300))
result = sj.optimize(sj.Problem(sj.HOT, C_MINUS), n_starts=4, block_size=64)
np.savez(out, w=np.asarray(result.w), **{k: np.asarray(v) for k, v in result.columns().items()})
jax.distributed.shutdown()
