"""Errors of the optimisation API: raised up front, naming the argument and its shape."""

from __future__ import annotations

import re

import numpy as np
import pytest

import steerjax as sj

HOT = sj.thermal_preset("hot")


@pytest.mark.parametrize(
    "call",
    [
        lambda: sj.optimize(sj.Problem(HOT, np.zeros(0))),
        lambda: sj.optimize(sj.Problem(HOT, 10.0, eps=np.zeros((2, 0)))),
        lambda: sj.optimal_sweep(HOT, []),
        lambda: sj.loss_tolerance(HOT, []),
        lambda: sj.conditional_improvement(HOT, []),
    ],
    ids=["optimize", "optimize-empty-eps", "optimal_sweep", "loss_tolerance", "conditional_improvement"],
)
def test_empty_batch(call):
    with pytest.raises(ValueError, match=r"C_minus: the batch is empty \(.*shape \((0,|2, 0)\)"):
        call()


@pytest.mark.parametrize("shape", [(0, 3), (3, 0, 3)])
def test_no_starts(shape):
    C = 10.0 if len(shape) == 2 else np.full(3, 10.0)
    message = re.escape(f"starts: need at least one start, got shape {shape}")
    with pytest.raises(ValueError, match=message):
        sj.optimize(sj.Problem(HOT, C), starts=np.zeros(shape))


@pytest.mark.parametrize(
    "kwargs, names",
    [
        (
            {"C_minus": np.full(3, 10.0), "eps": np.zeros(2)},
            ["C_minus has batch shape (3,)", "eps has batch shape (2,)"],
        ),
        (
            {"C_minus": np.full(3, 10.0), "theta_plus_bounds": np.tile([0.2, 1.2], (2, 1))},
            ["C_minus has batch shape (3,)", "theta_plus_bounds has batch shape (2,)"],
        ),
        (
            {"C_minus": np.full((4, 1), 10.0), "min_damping_ratio": np.zeros((3, 2))},
            ["C_minus has batch shape (4, 1)", "min_damping_ratio has batch shape (3, 2)"],
        ),
    ],
)
def test_incompatible_batch_shapes_name_the_arguments(kwargs, names):
    with pytest.raises(ValueError, match="do not broadcast together") as info:
        sj.Problem(HOT, **kwargs)
    for name in names:
        assert name in str(info.value)


def test_incompatible_thermal_batch_is_named_in_optimal_sweep():
    thermal = sj.Thermal(np.full(2, 0.1), 1e5, 0.1, 1e5)
    with pytest.raises(ValueError, match=re.escape("thermal.gamma0_plus_hz has batch shape (2,)")):
        sj.optimal_sweep(thermal, [2.0, 10.0, 100.0])


def test_disjoint_symmetric_bounds_say_they_do_not_overlap():
    tp, tm = (0.9, 1.0), (1.1, 1.2)
    with pytest.raises(ValueError, match="do not overlap") as info:
        sj.Problem(HOT, 10.0, coupling="symmetric", theta_plus_bounds=tp, theta_minus_bounds=tm)
    text = str(info.value)
    assert "theta_plus_bounds = [0.9, 1]" in text and "theta_minus_bounds = [1.1, 1.2]" in text
    assert "unstable" not in text
    # the same bounds are fine for asymmetric coupling, and overlapping ones for symmetric
    sj.Problem(HOT, 10.0, theta_plus_bounds=tp, theta_minus_bounds=tm)
    sj.Problem(HOT, 10.0, coupling="symmetric", theta_plus_bounds=(0.9, 1.15), theta_minus_bounds=tm)


def test_disjoint_bounds_in_a_batch_give_the_index():
    tp = np.array([[0.9, 1.0], [0.5, 0.6]])
    with pytest.raises(ValueError, match=re.escape("at batch index (1,); 1 of 2 problems")):
        sj.Problem(HOT, 10.0, coupling="symmetric", theta_plus_bounds=tp, theta_minus_bounds=(0.95, 1.2))


def test_unstable_bounds_still_blame_the_unstable_region():
    """Overlapping symmetric bounds inside the unstable region keep the stability message."""
    with pytest.raises(ValueError, match="unstable region"):
        sj.Problem(
            HOT, 1e4, coupling="symmetric", theta_plus_bounds=(0.0, 0.01), theta_minus_bounds=(0.0, 0.01)
        )
