"""Small dense linear algebra written for the 2x2 and 4x4 systems of the model.

Each solver is plain JAX (no LAPACK custom call), so that it batches under ``vmap`` and
lowers on every backend; see the module docstrings for why each is hand-written and how
it was checked against LAPACK/SciPy.
"""

from ._linsolve import solve_small
from ._lyapunov import solve_lyapunov
from ._riccati import kalman_gain, solve_riccati_filter
from ._smalleig import symmetric_eig_small

__all__ = ["solve_lyapunov", "solve_riccati_filter", "kalman_gain", "solve_small", "symmetric_eig_small"]
