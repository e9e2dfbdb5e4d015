"""Independent high-precision references (mpmath, numpy, scipy) for the tests.

Nothing here imports steerjax: these are textbook evaluations of the paper's formulas at
50 significant digits, used to judge the library's float64/float32 numerics.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

DPS = 50


def textbook_mp(
    theta_plus,
    theta_minus,
    C_plus,
    C_minus,
    eps,
    gamma0_plus,
    nbar_plus,
    gamma0_minus,
    nbar_minus,
    *,
    theta_minus_mp=None,
):
    """Eqs. (4), (6), (7), (9) exactly as printed, at 50 digits.

    Inputs are taken as exact binary numbers (the float64 values the library sees).  If
    ``theta_minus_mp`` is given it replaces ``theta_minus`` (used to describe a design by an
    exact damping ratio).  Returns a dict of mpf values.
    """
    with mp.workdps(DPS):
        tp = mp.mpf(theta_plus)
        tm = mp.mpf(theta_minus) if theta_minus_mp is None else theta_minus_mp
        Cp, Cm, e = mp.mpf(C_plus), mp.mpf(C_minus), mp.mpf(eps)
        g0p, g0m = mp.mpf(gamma0_plus), mp.mpf(gamma0_minus)
        gtp = g0p * (mp.mpf(nbar_plus) + mp.mpf(1) / 2)
        gtm = g0m * (mp.mpf(nbar_minus) + mp.mpf(1) / 2)
        Gp, Gm = Cp * gtp, Cm * gtm
        GpB, GpP = Gp * mp.sin(tp) ** 2, Gp * mp.cos(tp) ** 2
        GmB, GmP = Gm * mp.sin(tm) ** 2, Gm * mp.cos(tm) ** 2
        gp = g0p + GpB - GpP
        gm = g0m + GmB - GmP
        R = mp.sqrt(GmB * GpP) - mp.sqrt(GpB * GmP)
        a = mp.sqrt(1 - e)
        var_m = (Gm / 2 + gtm) / gm
        cov = -a * (mp.sqrt(Gp * Gm) * mp.sin(tp + tm) - 2 * R * var_m) / (gp + gm)
        var_p = (Gp / 2 + gtp + 2 * a * R * cov) / gp
        E_pm = var_p - cov**2 / var_m
        E_mp = var_m - cov**2 / var_p
        return {
            "gamma_plus": gp,
            "gamma_minus": gm,
            "var_minus": var_m,
            "var_plus": var_p,
            "cov": cov,
            "bare_plus": (Gp / 2 + gtp) / gp,
            "E_plus_given_minus": E_pm,
            "E_minus_given_plus": E_mp,
            "R": R,
        }


def theta_from_damping_ratio_mp(rho, C, gamma0, nbar):
    """Angle (mpf) whose net damping is rho * (gamma0 + Gamma), computed at 50 digits."""
    with mp.workdps(DPS):
        g0 = mp.mpf(gamma0)
        G = mp.mpf(C) * g0 * (mp.mpf(nbar) + mp.mpf(1) / 2)
        cos2 = (g0 - mp.mpf(rho) * (g0 + G)) / G
        return mp.acos(cos2) / 2


def textbook_numpy(theta_plus, theta_minus, C_plus, C_minus, eps, thermal):
    """Eqs. (4), (6), (7) as printed, in plain numpy float64 (what a user would write)."""
    g0p, nbp, g0m, nbm = thermal
    gtp, gtm = g0p * (nbp + 0.5), g0m * (nbm + 0.5)
    Gp, Gm = C_plus * gtp, C_minus * gtm
    GpB, GpP = Gp * np.sin(theta_plus) ** 2, Gp * np.cos(theta_plus) ** 2
    GmB, GmP = Gm * np.sin(theta_minus) ** 2, Gm * np.cos(theta_minus) ** 2
    gp, gm = g0p + GpB - GpP, g0m + GmB - GmP
    R = np.sqrt(GmB * GpP) - np.sqrt(GpB * GmP)
    a = np.sqrt(1 - eps)
    var_m = (Gm / 2 + gtm) / gm
    cov = -a * (np.sqrt(Gp * Gm) * np.sin(theta_plus + theta_minus) - 2 * R * var_m) / (gp + gm)
    var_p = (Gp / 2 + gtp + 2 * a * R * cov) / gp
    return var_p - cov**2 / var_m, var_m - cov**2 / var_p


def stable_theta_range(C, gamma0, nbar):
    """Closed interval of stable angles [theta_lo, pi/2] (theta_lo excluded if > 0)."""
    y = C * (nbar + 0.5)
    if y <= 1.0:
        return 0.0, math.pi / 2
    return 0.5 * math.acos(1.0 / y), math.pi / 2
