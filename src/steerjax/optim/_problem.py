"""The design problem (Sec. V): what is minimised, over which box, with which checks."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import parse_direction
from ..model._baths import bath_pair
from ..model._checks import is_concrete
from ..model._params import Thermal
from ._constraint import OtherEConstraint, constraint_leaf
from ._intervals import _infeasible_message, _stable_design_exists_for
from ._problem_args import _DEFAULT_LO_PHASE_BOUNDS, _check_conditional
from ._problem_arrays import Measurement, _problem_arrays

COUPLINGS = ("asymmetric", "symmetric")
"""``asymmetric``: theta_+, theta_-, C_+ free (f != 0 allowed); ``symmetric``: theta_+ = theta_-
tied (f = 0), C_+ free."""

EDGE_DAMPING_RATIO = 1e-6
"""A result sits at a stability edge when an oscillator's damping ratio gamma/(gamma_0 + Gamma)
is below this value."""


class Problem(eqx.Module):
    """An optimal-steering problem (or a batch of them: leading axes on the array fields).

    Args:
        thermal: thermal parameters.
        C_minus: the client's cooperativity C_- (fixed), > 0.
        eps: transmission loss in [0, 1) (ignored if ``eps_bounds`` is given: eps then becomes
            a free parameter within those bounds).
        direction: ``"plus-given-minus"`` (minimise E_{+|-}, the default client => server
            scenario) or ``"minus-given-plus"``.  Ignored when ``objective`` is given.
        coupling: ``"asymmetric"`` (theta_+, theta_- free) or ``"symmetric"`` (theta_+ =
            theta_- tied, f = 0).
        objective: optional callable ``(SteeringResult, Design) -> scalar`` to minimise instead
            of E; it must be a pure JAX function (it is traced and differentiated).  A pytree
            callable -- ``jax.tree_util.Partial(f, params)`` or an equinox Module with array
            fields -- is compiled once per function and tree structure: new array values (e.g.
            other ``params``) reuse the compiled search.  A plain function or lambda is compiled
            once per function object.
        theta_plus_bounds, theta_minus_bounds: optional angle intervals [rad] within [0, pi/2]
            (e.g. a client of limited tunability); the stable part is used.  Equal ends fix the
            angle.  For symmetric coupling the common angle lies in both intervals.
        C_plus_bounds: optional absolute bounds on C_+ (default ``C_plus_ratio_bounds * C_-``).
        C_plus_ratio_bounds: bounds on C_+/C_- used when ``C_plus_bounds`` is not given;
            default (1e-3, 1e3).
        eps_bounds: optional (low, high) within [0, 1) making eps free.
        min_damping_ratio: keep each oscillator's damping ratio gamma/(gamma_0 + Gamma) at or
            above this value (default 0: the search may approach the stability edge to within
            ~1e-12, which is where the asymmetric optimum lies).
        conditional: minimise the *conditional* E (Sec. VI, Appendix B): the output light is
            measured by homodyne detection and filtered optimally
            (:func:`steerjax.model.conditional_steering_from_rates` at phi = 0).  The
            local-oscillator phase is then a free parameter (one more search coordinate, the
            last).  Not combinable with ``objective``.  Stored as :attr:`measurement`.
        efficiency: detection efficiency eta in [0, 1] of the conditional scheme (default 1;
            only with ``conditional=True``).  ``0`` reproduces the unconditional problem.
        lo_phase_bounds: (low, high) interval [rad] of the local-oscillator phase (only with
            ``conditional=True``; default ``(0, pi)``, a full period: the homodyne currents
            only change sign under ``lo_phase -> lo_phase + pi``).  Equal ends fix the phase.
        phase_tolerance: optional tolerance delta [rad] on the inter-subsystem phase phi, in
            [0, pi/2] (E is pi-periodic in phi), a scalar or one per problem (broadcast like
            ``C_minus``).  When given, the objective minimised is the *worst case* of E of
            the chosen direction over phi in [-delta, delta]
            (the exact maximum over the interval; the search minimises it through
            :func:`steerjax.model._phase_search.worst_case_search_value`, with exact second
            derivatives), and the result reports it
            as :attr:`OptimumResult.E_worst` (``value`` stays the nominal E at phi = 0).  Not
            combinable with ``conditional=True`` or ``objective``.  ``None`` (default) or
            ``0`` (every entry zero): the nominal problem, with today's compiled program and
            numbers (a tolerance of all zeros is stored as ``None``).
        theta_tolerance: optional half-width [rad] of the error on *each* angle theta_+ and
            theta_- (independent errors), in [0, pi/4].
        C_tolerance: optional relative half-width of the error on each cooperativity: the true
            C_j lies in [C_j (1 - c), C_j (1 + c)], c in [0, 1).
        eps_range: optional (low, high) within [0, 1): the interval in which the true loss lies
            (it must contain ``eps``, the nominal value at which E is reported).  Not with
            ``eps_bounds``.
        max_settling_time: optional longest settling time T [s] of each oscillator: the net
            damping (in the rates' own units, gamma_j/2pi in Hz as reported) must satisfy
            ``1/gamma_j <= T``, i.e. gamma_j >= 1/T Hz, at the nominal design (beside
            ``min_damping_ratio``; both apply).  ``inf``: no requirement.  The lower bound of
            C_+ is raised where needed to the smallest C_+ whose server can be that fast.
            Combinable with every other option.
        max_other_E: optional upper bound on the *other* direction's E at the same design (for
            ``direction="plus-given-minus"`` that is E_{-|+}), > 0, a scalar or one per problem:
            minimise E subject to E_other <= max_other_E (the Pareto front of the two
            directions, :func:`steerjax.pareto_front`).  Handled exactly by an augmented
            Lagrangian around the same search (:mod:`steerjax.optim._constrained`); the
            returned design satisfies the bound re-evaluated.  Not combinable with
            ``objective``, ``conditional=True`` or tolerances.  Stored as :attr:`other_E`.
        min_other_E: optional *lower* bound on the other direction's E (one-way steering: for
            ``min_other_E >= 1/2`` the other direction provably does not steer), as above.
            At most one of ``max_other_E`` and ``min_other_E``.
        omega_hz: optional oscillator frequency Omega/2pi [Hz], > 0 (scalar or per problem).
            Given, E is computed in the lab-frame model beyond the rotating-wave approximation
            (:func:`steerjax.lab_frame_steering`: the rotation-invariant E, sqrt(det) of the
            conditional covariance).  ``None`` (default): the paper's model, exactly as before.
        phi_bounds: optional (low, high) interval [rad] within [-pi/2, pi/2] of the carrier
            phase phi between the sites, which then becomes a free design parameter (one more
            search coordinate, after eps); equal ends fix phi.  ``None``: phi = 0.  With
            ``omega_hz`` the best phi moves away from 0 (issue 16).  Neither option combines
            with ``conditional``, ``objective`` or ``max_other_E``/``min_other_E``; both
            combine with the tolerances.  With ``phase_tolerance`` a free phi is re-tuned
            against the error (the worst case minimised over the centre of the phase
            interval, :func:`steerjax.optim._model_choice.retuned_phase_worst`); that is not
            combined with tolerances on theta, C or eps (fix phi with equal ends).
        bath: the thermal baths of the lab-frame model (with ``omega_hz`` only):
            ``"optical"`` (default, the paper's form), ``"viscous"`` (Brownian, for mechanical
            oscillators), or a ``(client, server)`` pair; see :data:`steerjax.model.BATHS`.

    Tolerances.  With any of ``phase_tolerance``, ``theta_tolerance``, ``C_tolerance`` and
    ``eps_range`` the objective minimised is the *worst case* of E (or of the custom
    ``objective``; not with a phase tolerance) over the tolerance set, computed by
    :func:`steerjax.optim._robust.box_worst_case`: the box of errors in (theta_+, theta_-, C_+,
    C_-, eps) is searched at its corners and then locally, and at each point of the box the
    phase error is maximised exactly.  The nominal design is kept where *every* point of the
    box is dynamically stable (the angle intervals start at the stability edge of C_j (1 + c)
    plus the angle tolerance).  The result reports the worst case as
    :attr:`OptimumResult.E_worst` and the nominal E as ``value``.  With ``omega_hz`` every E of
    the tolerance set is the lab frame's, and the phase error is maximised exactly there too
    (:mod:`steerjax.model._lab_phase`).

    The constructor converts each argument (checking its own format and range, so that a
    message quotes the argument as given) and broadcasts them to one batch shape; the checks
    of the assembled problem are in ``__check_init__`` (equinox runs it after ``__init__``):
    the static settings, and for concrete input that some allowed design is stable, evaluated
    in numpy (nothing is compiled in the constructor).  A problem built inside ``jit`` or
    ``vmap`` is assembled in ``jax.numpy`` and not checked for stability.

    Examples:
        >>> import steerjax as sj
        >>> p = sj.Problem(sj.HOT, C_minus=10.0)
        >>> p.coupling, p.direction
        ('asymmetric', 'plus-given-minus')
        >>> q = sj.Problem(sj.HOT, C_minus=10.0, conditional=True, efficiency=0.9)
        >>> q.n_variables  # theta_+, theta_-, log C_+ and the local-oscillator phase
        4
    """

    thermal: Thermal
    C_minus: Array
    eps: Array
    theta_plus_bounds: Array
    theta_minus_bounds: Array
    C_plus_bounds: Array
    eps_bounds: Array
    min_damping_ratio: Array
    measurement: Measurement | None
    """The conditional scheme's measurement; ``None`` for an unconditional problem."""
    phase_tolerance: Array | None
    """Tolerance delta [rad] on the phase phi (batch shape); ``None``: no tolerance (nominal
    objective; the robust branch is then not in the traced program)."""
    theta_tolerance: Array | None
    """Half-width [rad] of the error on each angle (batch shape); ``None``: none."""
    C_tolerance: Array | None
    """Relative half-width of the error on each cooperativity (batch shape); ``None``: none."""
    eps_range: Array | None
    """(low, high) of the true loss (batch shape + (2,)); ``None``: eps is exact."""
    omega_hz: Array | None
    """Oscillator frequency Omega/2pi [Hz] (batch shape); ``None``: the paper's model."""
    phi_bounds: Array | None
    """(low, high) of the carrier phase phi [rad] (batch shape + (2,)); ``None``: phi = 0."""
    min_damping_hz: Array | None
    """Smallest allowed net damping gamma_j/2pi [Hz] (1/``max_settling_time``; batch shape);
    ``None``: no settling-time requirement."""
    other_E: OtherEConstraint | None
    """The bound on the other direction's E (``max_other_E`` / ``min_other_E``); ``None``:
    unconstrained."""
    objective: Callable | None
    direction: str = eqx.field(static=True)
    coupling: str = eqx.field(static=True)
    free_eps: bool = eqx.field(static=True)
    bath: tuple[str, str] = eqx.field(static=True)
    """(client, server) thermal baths of the lab-frame model (:data:`steerjax.model.BATHS`)."""

    def __init__(
        self,
        thermal: Thermal,
        C_minus,
        *,
        eps=0.0,
        direction: str = "plus-given-minus",
        coupling: str = "asymmetric",
        objective: Callable | None = None,
        theta_plus_bounds=None,
        theta_minus_bounds=None,
        C_plus_bounds=None,
        C_plus_ratio_bounds=(1e-3, 1e3),
        eps_bounds=None,
        min_damping_ratio=0.0,
        conditional: bool = False,
        efficiency=None,
        lo_phase_bounds=None,
        phase_tolerance=None,
        theta_tolerance=None,
        C_tolerance=None,
        eps_range=None,
        max_settling_time=None,
        max_other_E=None,
        min_other_E=None,
        omega_hz=None,
        phi_bounds=None,
        bath="optical",
    ):
        self.direction = parse_direction(direction)
        self.bath = bath_pair(bath)
        self.coupling = coupling
        self.objective = objective
        self.free_eps = eps_bounds is not None
        fields = _problem_arrays(
            thermal,
            C_minus,
            eps=eps,
            symmetric=coupling == "symmetric",
            theta_plus_bounds=theta_plus_bounds,
            theta_minus_bounds=theta_minus_bounds,
            C_plus_bounds=C_plus_bounds,
            C_plus_ratio_bounds=C_plus_ratio_bounds,
            eps_bounds=eps_bounds,
            min_damping_ratio=min_damping_ratio,
            conditional=_check_conditional(conditional, efficiency, lo_phase_bounds),
            efficiency=efficiency,
            lo_phase_bounds=lo_phase_bounds,
            phase_tolerance=phase_tolerance,
            theta_tolerance=theta_tolerance,
            C_tolerance=C_tolerance,
            eps_range=eps_range,
            max_settling_time=max_settling_time,
            free_eps=self.free_eps,
            other_bound=min_other_E if max_other_E is None else max_other_E,
            omega_hz=omega_hz,
            phi_bounds=phi_bounds,
        )
        fields.pop("other_bound")
        other = constraint_leaf(max_other_E, min_other_E, tuple(jnp.shape(fields["C_minus"])))
        self.other_E = None if other is None else jax.tree_util.tree_map(jax.device_put, other)
        for name, value in fields.items():
            setattr(self, name, value)

    def __check_init__(self):
        if self.coupling not in COUPLINGS:
            raise ValueError(f"coupling = {self.coupling!r} is not allowed; use one of {COUPLINGS}")
        if self.objective is not None and not callable(self.objective):
            raise ValueError(
                f"objective = {self.objective!r} must be callable (SteeringResult, Design) -> scalar"
            )
        if self.objective is not None and self.conditional:
            raise ValueError(
                "objective is not supported with conditional=True (the conditional objective is the "
                "conditional E of the chosen direction)"
            )
        if self.phase_tolerance is not None and (self.objective is not None or self.conditional):
            raise ValueError(
                "phase_tolerance is not supported with "
                + ("conditional=True" if self.conditional else "a custom objective")
                + " (the phase-robust objective is the worst case of E of the chosen direction)"
            )
        if self.phi_varies and self.has_box_tolerance and is_concrete(self.phi_bounds):
            b = np.asarray(self.phi_bounds)
            if np.any(b[..., 1] > b[..., 0]):
                raise ValueError(
                    "a free carrier phase (phi_bounds with low < high) with phase_tolerance is not "
                    "supported together with theta_tolerance, C_tolerance or eps_range; fix phi "
                    "(phi_bounds=(phi, phi)) or drop the phase tolerance"
                )
        if self.bath != ("optical", "optical") and self.omega_hz is None:
            raise ValueError(
                f"bath = {self.bath!r} needs omega_hz: the paper's (rotating-wave) model has the "
                "optical bath only"
            )
        if (self.omega_hz is not None or self.phi_bounds is not None) and (
            self.conditional or self.objective is not None or self.other_E is not None
        ):
            raise ValueError(
                "omega_hz and phi_bounds are not supported with conditional=True, a custom objective "
                "or max_other_E/min_other_E (not implemented for the lab-frame model)"
            )
        if self.has_box_tolerance and self.conditional:
            raise ValueError(
                "theta_tolerance, C_tolerance and eps_range are not supported with conditional=True"
            )
        if self.other_E is not None and (
            self.objective is not None or self.conditional or self.has_tolerance
        ):
            raise ValueError(
                "max_other_E and min_other_E are not supported with "
                + ("a custom objective" if self.objective is not None else "")
                + ("conditional=True" if self.conditional else "")
                + ("tolerances" if self.has_tolerance else "")
                + " (the bound is on the other direction's nominal, unconditional E)"
            )
        if is_concrete(self.thermal, self.C_minus, self.eps, self.C_plus_bounds):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                np_problem = jax.tree_util.tree_map(np.asarray, self)
                feasible = _stable_design_exists_for(np_problem, 0)
                if self.has_box_tolerance or self.min_damping_hz is not None:
                    # the server's constraints are judged at both ends of C_+: the tolerance
                    # box moves the edge up with C_+, the settling time moves it down
                    feasible = feasible & _stable_design_exists_for(np_problem, 1)
            if not np.all(feasible):
                raise ValueError(_infeasible_message(self.C_minus, self))

    @property
    def has_box_tolerance(self) -> bool:
        """Whether the problem has tolerances on theta, C or eps (static: from which fields are set)."""
        return not (self.theta_tolerance is None and self.C_tolerance is None and self.eps_range is None)

    @property
    def has_tolerance(self) -> bool:
        """Whether the objective is a worst case (any tolerance set, the phase's included)."""
        return self.has_box_tolerance or self.phase_tolerance is not None

    @property
    def conditional(self) -> bool:
        """Whether the objective is the conditional E (a :attr:`measurement` is set)."""
        return self.measurement is not None

    @property
    def efficiency(self) -> Array:
        """Detection efficiency eta [dimensionless] of the conditional scheme (1 where the
        problem is unconditional)."""
        if self.measurement is None:
            return jax.device_put(np.ones(self.batch_shape))
        return self.measurement.efficiency

    @property
    def lo_phase_bounds(self) -> Array:
        """(low, high) of the local-oscillator phase [rad] (``(0, pi)`` where the problem is
        unconditional)."""
        if self.measurement is None:
            return jax.device_put(np.tile(np.asarray(_DEFAULT_LO_PHASE_BOUNDS), (*self.batch_shape, 1)))
        return self.measurement.lo_phase_bounds

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(jnp.shape(self.C_minus))

    @property
    def n_variables(self) -> int:
        """Dimension of the unconstrained search space."""
        extra = (1 if self.free_eps else 0) + (1 if self.free_phi else 0) + (1 if self.conditional else 0)
        return self._n_design + extra

    @property
    def free_phi(self) -> bool:
        """Whether the carrier phase phi is a search coordinate (``phi_bounds`` given)."""
        return self.phi_bounds is not None

    @property
    def phi_varies(self) -> bool:
        """Whether phi is re-tuned against a phase tolerance (``phi_bounds`` and
        ``phase_tolerance`` both given): the loss then minimises the worst case over the
        centre of the phase interval (:func:`steerjax.optim._model_choice.retuned_phase_worst`).
        Static (from which fields are set); rows with equal ends of ``phi_bounds`` get phi there."""
        return self.phi_bounds is not None and self.phase_tolerance is not None

    @property
    def lab_frame(self) -> bool:
        """Whether E is computed beyond the rotating-wave approximation (``omega_hz`` given)."""
        return self.omega_hz is not None

    @property
    def _n_design(self) -> int:
        """Number of design coordinates before the optional eps and lo_phase coordinates."""
        return 3 if self.coupling == "asymmetric" else 2
