"""Run the examples in the docstrings of every steerjax module (float64 enabled by conftest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import steerjax

MODULES = sorted(
    {"steerjax"} | {info.name for info in pkgutil.walk_packages(steerjax.__path__, prefix="steerjax.")}
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    failures = []
    for test in finder.find(module, module_name):
        if test.docstring is not None and test.examples:
            runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)


def test_doctest_run_is_not_vacuous():
    """The package does carry examples (the test above would pass trivially otherwise)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    examples = 0
    for name in MODULES:
        for test in finder.find(importlib.import_module(name), name):
            examples += len(test.examples)
    assert examples >= 10
