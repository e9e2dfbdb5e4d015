"""Test entry point: float64 is enabled here (the library never sets it on import).

Compiled programs are shared through one JAX persistent compilation cache per test run: the
pytest-xdist workers, and the fresh processes some tests start (the console script, figure
scripts, the two-process distributed run), compile many of the same programs, and the suite is
compile-bound.  The folder is a temporary one, named after the run, and removed at its end; a
``JAX_COMPILATION_CACHE_DIR`` already set by the user is used as it is and left alone.
"""

import os
import shutil
import sys
import tempfile

_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
_OWN_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
if _OWN_CACHE:  # before jax is imported, so that this process and its children all see it
    os.environ["JAX_COMPILATION_CACHE_DIR"] = os.path.join(
        tempfile.gettempdir(), f"steerjax-tests-jax-cache-{_RUN}"
    )

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])

# Make tests/reference.py importable as `reference` from every test module.
sys.path.insert(0, os.path.dirname(__file__))

# The `steerjax` command keeps JAX's persistent compilation cache in the user's home; tests that
# run the command in-process must not write there (tests/test_cli_cache.py covers the setting).
os.environ.setdefault("STEERJAX_CACHE_DIR", "off")


def pytest_unconfigure(config):
    # the controller (or the only process) removes the run's cache; xdist workers leave it
    if _OWN_CACHE and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
