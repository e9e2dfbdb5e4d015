"""The physics: parameters, rates, closed forms (Eqs. 4-6), the Gaussian engine, the
conditional scheme (Appendix B) and the measures of steering and entanglement.

Every function here is a pure, jittable JAX function of equinox parameter modules.  The
``*_from_rates`` twins take :class:`CascadeRates` (rates in Hz) instead of a design.
"""

from .._validation import allowed_range
from ._best_phase import BestPhaseResult, conditional_steering_best_phase
from ._conditional import (
    ConditionalSteeringResult,
    conditional_covariance,
    conditional_covariance_from_rates,
    conditional_steering,
    conditional_steering_from_rates,
    measurement_model,
)
from ._gaussian import (
    QUADRATURE_ORDER,
    covariance,
    covariance_from_rates,
    drift_diffusion,
    steering_at_phase,
    steering_at_phase_from_rates,
    steering_result_at_phase,
    steering_result_at_phase_from_rates,
)
from ._instability import unstable_entries
from ._lab_frame import (
    BATHS,
    LabFrameSteering,
    lab_frame_covariance,
    lab_frame_covariance_from_rates,
    lab_frame_steering,
    lab_frame_steering_from_rates,
    oscillator_frame_covariance,
    reid_fixed_pairing_best_instant,
)
from ._measurement import MeasurementModel, measurement_model_from_rates
from ._measures import (
    REGIMES,
    classify,
    gaussian_steerability,
    log_negativity,
    min_uncertainty_eigenvalue,
    regime_name,
    reid_E,
    symplectic_eigenvalues,
)
from ._moments import Moments, moments
from ._params import THERMAL_PRESETS, Design, Thermal, thermal_preset
from ._rates import (
    CascadeRates,
    OscillatorRates,
    cascade_rates,
    cos_two_theta,
    is_stable,
    oscillator_rates,
    oscillator_rates_from_damping,
)
from ._rotating_wave import (
    RWA_RATIO_LIMIT,
    RotatingWaveCheck,
    RotatingWaveWarning,
    rotating_wave_check,
    rotating_wave_ratio,
)
from ._steering import (
    STEERING_BOUND,
    SteeringResult,
    steering,
    steering_from_rates,
    steering_result_from_rates,
)
from ._tolerance import PhaseWorstCase, worst_case_over_phase, worst_case_over_phase_from_rates


def __getattr__(name: str):
    # HOT and VACUUM_SERVER are built on access, in the precision in force at that moment.
    if name in ("HOT", "VACUUM_SERVER"):
        from . import _params

        return getattr(_params, name)
    raise AttributeError(f"module 'steerjax.model' has no attribute {name!r}")


__all__ = [
    # parameters (Sec. II)
    "Thermal",
    "Design",
    "HOT",
    "VACUUM_SERVER",
    "THERMAL_PRESETS",
    "thermal_preset",
    "allowed_range",
    # rates (Eq. 3)
    "OscillatorRates",
    "CascadeRates",
    "cascade_rates",
    "oscillator_rates",
    "oscillator_rates_from_damping",
    "cos_two_theta",
    "is_stable",
    # closed forms (Eqs. 4-6)
    "Moments",
    "moments",
    "SteeringResult",
    "steering",
    "steering_from_rates",
    "steering_result_from_rates",
    "STEERING_BOUND",
    # general Gaussian engine (any inter-subsystem phase)
    "drift_diffusion",
    "covariance",
    "covariance_from_rates",
    "steering_at_phase",
    "steering_at_phase_from_rates",
    "steering_result_at_phase",
    "steering_result_at_phase_from_rates",
    "QUADRATURE_ORDER",
    # tolerance of a design to the inter-subsystem phase (issue 11)
    "worst_case_over_phase",
    "worst_case_over_phase_from_rates",
    "PhaseWorstCase",
    # beyond the rotating-wave approximation: finite oscillator frequency (issue 16)
    "BATHS",
    "lab_frame_covariance",
    "lab_frame_covariance_from_rates",
    "lab_frame_steering",
    "lab_frame_steering_from_rates",
    "LabFrameSteering",
    "oscillator_frame_covariance",
    "reid_fixed_pairing_best_instant",
    "rotating_wave_check",
    "rotating_wave_ratio",
    "RWA_RATIO_LIMIT",
    "RotatingWaveWarning",
    "RotatingWaveCheck",
    # measures (Sec. III)
    "reid_E",
    "gaussian_steerability",
    "log_negativity",
    "symplectic_eigenvalues",
    "min_uncertainty_eigenvalue",
    "classify",
    "REGIMES",
    "regime_name",
    # conditional scheme (Sec. VI, Appendix B)
    "MeasurementModel",
    "measurement_model",
    "measurement_model_from_rates",
    "conditional_covariance",
    "conditional_covariance_from_rates",
    "ConditionalSteeringResult",
    "conditional_steering",
    "conditional_steering_from_rates",
    "conditional_steering_best_phase",
    "BestPhaseResult",
    # checks
    "unstable_entries",
]
