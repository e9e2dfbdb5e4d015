"""XLA compiler options of the optimiser's block program (:func:`steerjax.optimize`).

The block program (search pool, Newton steps, the best of the starts) is by far the largest
program the library compiles: on a 2-core CPU its compilation, not its run, is most of what a
new process waits for.  XLA's CPU backend compiles each of its several hundred fusions through
the MLIR "fusion emitters" by default; with ``xla_cpu_use_fusion_emitters = False`` it emits
them with its older LLVM IR emitters, which compile faster and ran no slower here.

Measured on the 2-core development CPU (jax/jaxlib 0.10.2, the block program of one problem,
each variant compiled from the same lowered program; 2026-12-03):

==========================================  ========================  ==================
program                                     compile (default -> off)  outputs
==========================================  ========================  ==================
nominal (hot, C_- = 10, 8 starts)           1.97 s -> 1.13 s          bitwise identical
phase-robust (phase_tolerance = 1 mrad)     15.3 s -> 9.6 s           rounding level
conditional (Kalman filter, one problem)    11.0 s -> 10.1 s          rounding level
==========================================  ========================  ==================

The options are passed to this program only (``jax.jit(..., compiler_options=...)``), never
set globally: importing steerjax changes no JAX or XLA setting.  They are a field of XLA's
``DebugOptions`` that the other backends accept and ignore.
"""

from __future__ import annotations

__all__ = ["BLOCK_COMPILER_OPTIONS"]

BLOCK_COMPILER_OPTIONS: dict[str, bool] = {"xla_cpu_use_fusion_emitters": False}
"""XLA options for the optimiser's block program (see the module docstring)."""
