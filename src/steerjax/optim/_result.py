"""The result of an optimisation: the optimal design, its steering and diagnostics."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array

from ..model._params import Design

# ---------------------------------------------------------------------------------------------
# Results and the driver.
# ---------------------------------------------------------------------------------------------


class OptimumResult(eqx.Module):
    """Result of :func:`optimize` (batch shape of the problem on every field).

    In conditional mode (``problem.conditional``) ``value``, ``E_plus_given_minus`` and
    ``E_minus_given_plus`` are the *conditional* steering parameters (output light measured at
    ``lo_phase`` with the problem's efficiency); the unconditional ones at the same design are
    ``E_u_plus_given_minus`` and ``E_u_minus_given_plus``.

    With tolerances (``Problem(..., phase_tolerance=delta, theta_tolerance=...)``) the
    minimised objective is :attr:`E_worst`, the worst case over the tolerance set; ``value``
    and the E fields are then the *nominal* ones (no errors, phi = 0) at the robust design.

    Attributes:
        value: the minimised objective at the returned design (E of the chosen direction by
            default; the conditional E in conditional mode), re-evaluated from the design's
            angles.  With a phase tolerance: the nominal E (phi = 0) of the chosen direction.
        E_worst: the worst case of the objective over the tolerance set at the returned
            design (re-evaluated from its angles): over the phase alone the exact maximum
            (:func:`steerjax.model.worst_case_over_phase_from_rates`); over a box of errors on
            theta, C and eps the largest value that corners and a local search find
            (:mod:`steerjax.optim._robust`).  The minimised objective of a tolerant problem;
            equal to ``value`` for a problem without tolerance.
        E_other: the other direction's E at the returned design (E_{-|+} when E_{+|-} is
            minimised, and the reverse; conditional in conditional mode), re-evaluated from the
            design's angles: the quantity bounded by ``max_other_E`` / ``min_other_E``.
        tolerant: whether the problem had any tolerance (static; :meth:`columns` then adds
            the column ``E_worst`` after ``E``, and not otherwise).
        E_plus_given_minus, E_minus_given_plus: both steering parameters at the design
            (conditional ones in conditional mode, at ``lo_phase``).
        E_u_plus_given_minus, E_u_minus_given_plus: both *unconditional* steering parameters
            at the design (equal to the two above when the problem is not conditional).
        lo_phase: the optimal local-oscillator phase [rad] of a conditional problem, within
            ``lo_phase_bounds`` (defined modulo pi); NaN when the problem is not conditional
            (nothing is measured).
        design: the optimal :class:`Design` (strictly stable).
        damping_ratio_plus, damping_ratio_minus: gamma_j/(gamma_j0 + Gamma_j) at the design.
        gamma_plus_hz, gamma_minus_hz: net damping rates gamma_j/2pi [Hz] at the design,
            computed without cancellation (exact also at the stability edge).
        at_stability_edge: True if an oscillator's damping ratio is below
            :data:`EDGE_DAMPING_RATIO` -- the optimum is then an infimum approached at the
            edge, and the design is the closest representable stable point.
        grad_norm: gradient norm at the end of the search (projected gradient in box
            coordinates for :class:`ProjectedNewton`; in logit coordinates for optax solvers).
        steps: iterations of the best start.
        converged: the winning search stopped on its solver's own convergence test (for
            :class:`ProjectedNewton`: projected gradient below ``tol``, or a full Newton step
            predicting a decrease below rounding of f), or its end point passes the first-order
            test on the box: ``|projected gradient| <= gtol * |f|`` in box coordinates, where
            the projected gradient ignores components pushing against an active bound and the
            coordinate of a degenerate box, and ``gtol`` defaults to ``eps**(1/3)`` of the
            dtype (:func:`first_order_tol`; 6e-6 in float64, 5e-3 in float32).
        phase_free: whether the carrier phase phi was a search coordinate (``phi_bounds``;
            static; :meth:`columns` then adds ``phi`` [rad], the re-tuned phase, after
            ``C_plus_over_C_minus``).  With ``omega_hz`` the E fields are the lab-frame ones
            (rotation invariant) at ``design.phi``.
        w: the optimum in box coordinates (for warm starts: pass ``starts=w[None]``).
        start_values: final objective of every start (shape batch + (n_starts,)).  For a
            problem with a bound on the other direction's E: E of the chosen direction of every
            candidate (the two single-direction optima, then each start of the constrained
            search), ``inf`` where the bound does not hold.
        constrained: whether the problem had ``max_other_E`` or ``min_other_E`` (static;
            :meth:`columns` then adds the column ``E_other`` after ``E``).
    """

    value: Array
    E_plus_given_minus: Array
    E_minus_given_plus: Array
    E_u_plus_given_minus: Array
    E_u_minus_given_plus: Array
    lo_phase: Array
    design: Design
    damping_ratio_plus: Array
    damping_ratio_minus: Array
    gamma_plus_hz: Array
    gamma_minus_hz: Array
    at_stability_edge: Array
    grad_norm: Array
    steps: Array
    converged: Array
    w: Array
    start_values: Array
    E_worst: Array
    E_other: Array
    tolerant: bool = eqx.field(static=True, default=False)
    constrained: bool = eqx.field(static=True, default=False)
    phase_free: bool = eqx.field(static=True, default=False)

    @property
    def phase_tolerant(self) -> bool:
        """Former name of :attr:`tolerant` (kept for code written against it)."""
        return self.tolerant

    @property
    def C_plus_over_C_minus(self) -> Array:
        return self.design.C_plus / self.design.C_minus

    def columns(self) -> dict[str, np.ndarray]:
        """The optima as flat columns (name -> 1-D numpy array over the batch, in C order).

        ``E`` is :attr:`value`; ``theta_plus``, ``theta_minus`` [rad] and ``C_plus`` come from
        :attr:`design`; the other names are the attributes of the same name, ``lo_phase`` [rad],
        rates in Hz.  Floats keep their dtype; ``converged`` and ``at_stability_edge`` are bool,
        ``steps`` int64.  ``E_worst`` follows ``E`` only for a tolerant problem (a problem
        without tolerance gets exactly the columns it had before).  The one flattening of results:
        :meth:`OptimalSweep.table` and the CLI
        pick their columns from it.

        Examples:
            >>> import jax; jax.config.update("jax_enable_x64", True)
            >>> import steerjax as sj
            >>> r = sj.optimize(sj.Problem(sj.thermal_preset("hot"), C_minus=[2.0, 10.0]), n_starts=2)
            >>> cols = r.columns()
            >>> cols["E"].shape, cols["converged"].dtype.name, list(cols)[:3]
            ((2,), 'bool', ['E', 'E_plus_given_minus', 'E_minus_given_plus'])
        """
        d = self.design

        def flat(x, dtype=None) -> np.ndarray:
            return np.asarray(x, dtype=dtype).reshape(-1)

        worst = {"E_worst": flat(self.E_worst)} if self.tolerant else {}
        other = {"E_other": flat(self.E_other)} if self.constrained else {}
        return {
            "E": flat(self.value),
            **worst,
            **other,
            "E_plus_given_minus": flat(self.E_plus_given_minus),
            "E_minus_given_plus": flat(self.E_minus_given_plus),
            "theta_plus": flat(d.theta_plus),
            "theta_minus": flat(d.theta_minus),
            "C_plus": flat(d.C_plus),
            "C_plus_over_C_minus": flat(self.C_plus_over_C_minus),
            **({"phi": flat(d.phi)} if self.phase_free else {}),
            "gamma_plus_hz": flat(self.gamma_plus_hz),
            "gamma_minus_hz": flat(self.gamma_minus_hz),
            "converged": flat(self.converged, bool),
            "at_stability_edge": flat(self.at_stability_edge, bool),
            "damping_ratio_plus": flat(self.damping_ratio_plus),
            "damping_ratio_minus": flat(self.damping_ratio_minus),
            "grad_norm": flat(self.grad_norm),
            "steps": flat(self.steps, np.int64),
            "lo_phase": flat(self.lo_phase),
            "E_u_plus_given_minus": flat(self.E_u_plus_given_minus),
            "E_u_minus_given_plus": flat(self.E_u_minus_given_plus),
        }

    def summary(self) -> str:
        """Readable summary (scalar results only)."""
        if jnp.ndim(self.value) != 0:
            return f"OptimumResult(batch shape {jnp.shape(self.value)})"
        d = self.design
        conditional = bool(jnp.isfinite(self.lo_phase))
        extra = (
            [
                f"conditional: lo_phase = {float(self.lo_phase):.12g} rad = "
                f"{float(self.lo_phase) / math.pi:.8f} pi; unconditional at this design: "
                f"E_+|- = {float(self.E_u_plus_given_minus):.12g}, "
                f"E_-|+ = {float(self.E_u_minus_given_plus):.12g}"
            ]
            if conditional
            else []
        )
        if self.phase_tolerant:
            extra.append(f"worst case over the phase tolerance: E_worst = {float(self.E_worst):.12g}")
        return "\n".join(
            [
                f"objective = {float(self.value):.12g}   (E_+|- = {float(self.E_plus_given_minus):.12g}, "
                f"E_-|+ = {float(self.E_minus_given_plus):.12g})",
                *extra,
                f"theta_+ = {float(d.theta_plus):.12g} rad = {float(d.theta_plus) / math.pi:.8f} pi",
                f"theta_- = {float(d.theta_minus):.12g} rad = {float(d.theta_minus) / math.pi:.8f} pi",
                f"C_+ = {float(d.C_plus):.10g}  (C_+/C_- = {float(self.C_plus_over_C_minus):.8g}),  "
                f"C_- = {float(d.C_minus):.10g},  eps = {float(d.eps):.6g}",
                f"damping ratios: plus {float(self.damping_ratio_plus):.3e}, minus "
                f"{float(self.damping_ratio_minus):.3e}; at stability edge: {bool(self.at_stability_edge)}",
                f"converged: {bool(self.converged)} "
                f"(|grad| = {float(self.grad_norm):.2e}, {int(self.steps)} steps)",
            ]
        )
