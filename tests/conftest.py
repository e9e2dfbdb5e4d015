"""Test entry point: float64 is enabled here (the library never sets it on import)."""

import os
import sys

import jax

jax.config.update("jax_enable_x64", True)

# Make tests/reference.py importable as `reference` from every test module.
sys.path.insert(0, os.path.dirname(__file__))

# The `steerjax` command keeps JAX's persistent compilation cache in the user's home; tests that
# run the command in-process must not write there (tests/test_cli_cache.py covers the setting).
os.environ.setdefault("STEERJAX_CACHE_DIR", "off")
