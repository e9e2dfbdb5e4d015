"""steerjax.analysis._maps: steering on grids and the level crossings behind the regime boundaries
(the figures' use of them is tested in tests/test_fig2_fig3.py)."""

from __future__ import annotations

import numpy as np
import pytest

import steerjax as sj


def test_level_crossings_find_every_root_to_rounding():
    roots, rising = sj.analysis.level_crossings(np.sin, np.linspace(0.5, 10.0, 40), 0.0)
    np.testing.assert_allclose(roots, [np.pi, 2 * np.pi, 3 * np.pi], rtol=2e-16 * 4)
    assert rising.tolist() == [False, True, False]
    # two roots inside one grid step are not seen (documented)
    roots, _ = sj.analysis.level_crossings(lambda x: (x - 1.0) * (x - 1.1), np.array([0.0, 2.0]), 0.0)
    assert roots.size == 0
    with pytest.raises(ValueError, match="strictly increasing"):
        sj.analysis.level_crossings(np.sin, np.array([1.0, 0.0]))
