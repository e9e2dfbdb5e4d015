"""Test entry point: float64 is enabled here (the library never sets it on import)."""

import os
import sys

import jax

jax.config.update("jax_enable_x64", True)

# Make tests/reference.py importable as `reference` from every test module.
sys.path.insert(0, os.path.dirname(__file__))
