"""Settings of the search, grouped: what is searched (:class:`SearchOptions`) and where and how
it runs (:class:`ExecutionOptions`).

:func:`steerjax.optimize` takes one of each; the sweeps (:func:`steerjax.optimal_sweep`,
:func:`steerjax.loss_tolerance`, :func:`steerjax.conditional_improvement`) pass them on
unchanged.  Both are validated on construction (``ValueError`` naming the field, its value and
the allowed range; ``TypeError`` for a solver that is not one), and are immutable: change a
field with :meth:`SearchOptions.replace` / :meth:`ExecutionOptions.replace`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import equinox as eqx
import jax

from ..model._checks import check_count
from ._solvers import AbstractMinimiser, ProjectedNewton

__all__ = ["SearchOptions", "ExecutionOptions"]


class SearchOptions(eqx.Module):
    """What the multi-start search does (Sec. V, Appendix A).

    Attributes:
        solver: the local solver, any :class:`~steerjax.optim.AbstractMinimiser`
            (default :class:`~steerjax.optim.ProjectedNewton`).
        n_starts: starting points per problem, a whole number >= 1 (structured guesses, then
            seeded random ones; default 8).
        seed: PRNG seed [integer] of the random starts (default 0).  The same seed gives the
            same result, bit for bit, on any number of devices.

    Examples:
        >>> import steerjax as sj
        >>> sj.SearchOptions(n_starts=4).replace(seed=1).seed
        1
    """

    solver: AbstractMinimiser = eqx.field(default_factory=ProjectedNewton)
    n_starts: int = 8
    seed: int = 0

    def __check_init__(self):
        if not isinstance(self.solver, AbstractMinimiser):
            raise TypeError(
                f"solver = {self.solver!r} is not a solver; pass an instance of a subclass of "
                "steerjax.optim.AbstractMinimiser (e.g. sj.ProjectedNewton(), sj.LBFGS(), sj.Adam())"
            )
        check_count("n_starts", self.n_starts, 1)
        _check_integer("seed", self.seed)

    def replace(self, **changes) -> SearchOptions:
        """A copy with the given fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


class ExecutionOptions(eqx.Module):
    """Where and in what pieces the search runs; results depend on these only at the rounding
    level (``block_size``) or not at all.

    Attributes:
        devices: devices to spread the batch over, a non-empty sequence of ``jax.Device``
            (default ``None``: all of ``jax.devices()``).
        block_size: problems per compiled block, a whole number >= 1 (default ``None``:
            :func:`~steerjax.optim.default_block_size`).
        lanes: searches in flight per block, a whole number >= 1 (default ``None``:
            :func:`~steerjax.optim.default_lanes`).
        progress: optional callback ``progress(done, total)`` [problems] called as blocks
            finish.

    Examples:
        >>> import steerjax as sj
        >>> sj.ExecutionOptions(block_size=256).lanes is None
        True
    """

    devices: tuple[jax.Device, ...] | None = None
    block_size: int | None = None
    lanes: int | None = None
    progress: Callable[[int, int], None] | None = None

    def __init__(
        self,
        devices: Sequence[jax.Device] | None = None,
        block_size: int | None = None,
        lanes: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.devices = None if devices is None else tuple(devices)
        self.block_size = block_size
        self.lanes = lanes
        self.progress = progress

    def __check_init__(self):
        if self.devices is not None:
            if not self.devices:
                raise ValueError("devices is empty; pass None for all of jax.devices()")
            bad = [d for d in self.devices if not isinstance(d, jax.Device)]
            if bad:
                raise ValueError(f"devices = {self.devices!r}: {bad[0]!r} is not a jax.Device")
        for name in ("block_size", "lanes"):
            if getattr(self, name) is not None:
                check_count(name, getattr(self, name), 1)
        if self.progress is not None and not callable(self.progress):
            raise ValueError(f"progress = {self.progress!r} must be None or callable progress(done, total)")

    def replace(self, **changes) -> ExecutionOptions:
        """A copy with the given fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check_integer(name: str, value) -> int:
    """``value`` as a Python int if it is a whole number (booleans are not), else ValueError."""
    try:
        ok = not isinstance(value, bool) and float(value) == int(value)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name} = {value!r} is outside the allowed range: whole numbers")
    if not SEED_RANGE[0] <= int(value) <= SEED_RANGE[1]:
        raise ValueError(
            f"{name} = {value!r} is outside the allowed range [{SEED_RANGE[0]}, {SEED_RANGE[1]}] "
            "(whole numbers that fit in 64 bits, as jax.random.PRNGKey takes them)"
        )
    return int(value)


SEED_RANGE = (-(2**63), 2**63 - 1)
"""Seeds jax.random.PRNGKey accepts (a signed 64-bit integer)."""


def resolve_options(
    search: SearchOptions | None, execution: ExecutionOptions | None, **shortcuts
) -> tuple[SearchOptions, ExecutionOptions]:
    """``search`` and ``execution`` (defaults where ``None``) with every shortcut keyword that is
    not ``None`` (``solver, n_starts, seed`` or ``devices, block_size, lanes, progress``)
    replacing the field of that name."""
    search = SearchOptions() if search is None else search
    execution = ExecutionOptions() if execution is None else execution
    for name, options in (("search", search), ("execution", execution)):
        kind = SearchOptions if name == "search" else ExecutionOptions
        if not isinstance(options, kind):
            raise ValueError(f"{name} = {options!r} must be a steerjax.{kind.__name__} or None")
    fields = {f.name for f in dataclasses.fields(SearchOptions)}
    unknown = set(shortcuts) - fields - {f.name for f in dataclasses.fields(ExecutionOptions)}
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {sorted(unknown)}")
    given = {k: v for k, v in shortcuts.items() if v is not None}
    on_search = {k: v for k, v in given.items() if k in fields}
    on_execution = {k: v for k, v in given.items() if k not in fields}
    return (
        search.replace(**on_search) if on_search else search,
        execution.replace(**on_execution) if on_execution else execution,
    )
