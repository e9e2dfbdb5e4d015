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


# ---------------------------------------------------------------------------------------------
# Random designs for the accuracy, gradient and physicality tests (numpy + mpmath only).
# ---------------------------------------------------------------------------------------------


def _log_uniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def random_stable_design(
    rng,
    *,
    near_edge=False,
    rho_range=(1e-12, 1e-1),
    C_range=(1e-2, 1e4),
    nbar_max=1e7,
    gamma0_range=(1e-3, 1e5),
    eps_max=0.99,
    p_zero=0.15,
):
    """One random design inside the stable domain, as a dict of Python floats.

    Thermal parameters: ``gamma0/2pi`` log-uniform in ``gamma0_range`` [Hz] and ``nbar`` either
    exactly 0 (probability ``p_zero``) or log-uniform in ``[1e-3, nbar_max]``, independently for
    the two oscillators.  Cooperativities log-uniform in ``C_range``; ``eps`` exactly 0
    (probability ``p_zero``) or uniform in ``[0, eps_max]``; ``theta_plus`` uniform in its stable
    range.  ``theta_minus`` is uniform in its stable range, or -- with ``near_edge=True`` --
    constructed at 50 digits from a damping ratio ``rho_minus`` log-uniform in ``rho_range`` and
    rounded to float64 (``theta_minus_mp`` keeps the exact angle).  Near-edge designs are drawn
    only where the client has a stability edge (``C_- (nbar_- + 1/2) > 1``).
    """
    while True:
        d = {
            "C_plus": _log_uniform(rng, *C_range),
            "C_minus": _log_uniform(rng, *C_range),
            "gamma0_plus": _log_uniform(rng, *gamma0_range),
            "gamma0_minus": _log_uniform(rng, *gamma0_range),
            "nbar_plus": 0.0 if rng.uniform() < p_zero else _log_uniform(rng, 1e-3, nbar_max),
            "nbar_minus": 0.0 if rng.uniform() < p_zero else _log_uniform(rng, 1e-3, nbar_max),
            "eps": 0.0 if rng.uniform() < p_zero else float(rng.uniform(0.0, eps_max)),
            "rho_minus": None,
            "theta_minus_mp": None,
        }
        lo, hi = stable_theta_range(d["C_plus"], d["gamma0_plus"], d["nbar_plus"])
        d["theta_plus"] = float(rng.uniform(lo, hi))
        if near_edge:
            if d["C_minus"] * (d["nbar_minus"] + 0.5) <= 1.0:
                continue
            rho = _log_uniform(rng, *rho_range)
            th = theta_from_damping_ratio_mp(rho, d["C_minus"], d["gamma0_minus"], d["nbar_minus"])
            d["rho_minus"], d["theta_minus_mp"], d["theta_minus"] = rho, th, float(th)
        else:
            lo, hi = stable_theta_range(d["C_minus"], d["gamma0_minus"], d["nbar_minus"])
            d["theta_minus"] = float(rng.uniform(lo, hi))
        return d


REFERENCE_ARGS = (
    "theta_plus",
    "theta_minus",
    "C_plus",
    "C_minus",
    "eps",
    "gamma0_plus",
    "nbar_plus",
    "gamma0_minus",
    "nbar_minus",
)
"""Keys of a design dict in the positional order of :func:`textbook_mp`."""


def reference_of(d, **kwargs):
    """:func:`textbook_mp` of a design dict (at its float64 values)."""
    return textbook_mp(*(d[k] for k in REFERENCE_ARGS), **kwargs)


def damping_ratio_mp(gamma, gamma0, C, nbar):
    """Damping ratio gamma/(gamma0 + Gamma) (mpf) of one oscillator, given its exact net damping."""
    with mp.workdps(DPS):
        g0 = mp.mpf(gamma0)
        G = mp.mpf(C) * g0 * (mp.mpf(nbar) + mp.mpf(1) / 2)
        return mp.mpf(gamma) / (g0 + G)


HOT_THERMAL = {"gamma0_plus": 0.1, "nbar_plus": 1e5, "gamma0_minus": 0.1, "nbar_minus": 1e5}
"""The paper's "hot" thermal set (gamma0/2pi = 0.1 Hz, nbar = 1e5 for both oscillators)."""


def random_hot_steering_design(rng, *, rho_range=(1e-6, 1e-2), C_range=(10.0, 300.0), eps_max=0.3):
    """A random design of the hot set in the region where steering occurs (cf. Figs. 2-4).

    C_- log-uniform in ``C_range``, C_+/C_- uniform in [0.5, 2], theta_+ uniform in
    [0.26 pi, 0.4 pi], eps uniform in [0, eps_max], and the client at a damping ratio
    log-uniform in ``rho_range`` (angle constructed at 50 digits, rounded to float64).
    """
    C = _log_uniform(rng, *C_range)
    rho = _log_uniform(rng, *rho_range)
    th = theta_from_damping_ratio_mp(rho, C, HOT_THERMAL["gamma0_minus"], HOT_THERMAL["nbar_minus"])
    return {
        **HOT_THERMAL,
        "theta_plus": float(rng.uniform(0.26, 0.4) * math.pi),
        "theta_minus": float(th),
        "C_plus": C * float(rng.uniform(0.5, 2.0)),
        "C_minus": C,
        "eps": float(rng.uniform(0.0, eps_max)),
        "rho_minus": rho,
        "theta_minus_mp": th,
    }


# ---------------------------------------------------------------------------------------------
# The Langevin equations (3) with an inter-subsystem phase phi, solved at 50 digits.
# ---------------------------------------------------------------------------------------------


def _quadrature_block(alpha, dagger):
    """Real 2x2 block of the term ``alpha o`` (or ``alpha o^dag``) in d a/dt, acting on (x_o, p_o).

    With a = (X + iP)/sqrt(2): alpha o adds (Re alpha x - Im alpha p, Im alpha x + Re alpha p),
    alpha o^dag adds (Re alpha x + Im alpha p, Im alpha x - Re alpha p).
    """
    ar, ai = mp.re(alpha), mp.im(alpha)
    if dagger:
        return [[ar, ai], [ai, -ar]]
    return [[ar, -ai], [ai, ar]]


def langevin_covariance_mp(
    theta_plus,
    theta_minus,
    C_plus,
    C_minus,
    eps,
    phi,
    gamma0_plus,
    nbar_plus,
    gamma0_minus,
    nbar_minus,
    *,
    theta_minus_mp=None,
):
    """Steady-state covariance of (X_-, P_-, X_+, P_+) at 50 digits, for any phi.

    Built from the complex Langevin equations: the client couples to the lower sideband b_l by
    beam splitting and to the upper b_u by down-conversion; the server receives
    ``b^S_c = e^{i phi} sqrt(1-eps) b_c,out + sqrt(eps) b'_c`` with ``b_l,out = b_l + i sqrt(G_-B) a_-``,
    ``b_u,out = b_u + i sqrt(G_-P) a_-^dag``, and couples by ``i sqrt(G_+B) b^S_u +
    i sqrt(G_+P) (b^S_l)^dag``.  The Lyapunov equation is solved by a 16 x 16 mpmath LU solve.
    Returns an mpmath 4 x 4 matrix.
    """
    with mp.workdps(DPS):
        tp = mp.mpf(theta_plus)
        tm = mp.mpf(theta_minus) if theta_minus_mp is None else theta_minus_mp
        e, ph = mp.mpf(eps), mp.mpf(phi)
        g0p, g0m = mp.mpf(gamma0_plus), mp.mpf(gamma0_minus)
        gtp = g0p * (mp.mpf(nbar_plus) + mp.mpf(1) / 2)
        gtm = g0m * (mp.mpf(nbar_minus) + mp.mpf(1) / 2)
        Gp, Gm = mp.mpf(C_plus) * gtp, mp.mpf(C_minus) * gtm
        sB_m, sP_m = mp.sqrt(Gm) * mp.sin(tm), mp.sqrt(Gm) * mp.cos(tm)
        sB_p, sP_p = mp.sqrt(Gp) * mp.sin(tp), mp.sqrt(Gp) * mp.cos(tp)
        gm = g0m + sB_m**2 - sP_m**2
        gp = g0p + sB_p**2 - sP_p**2
        t = mp.sqrt(1 - e)
        j = mp.mpc(0, 1)
        up, down = mp.expj(ph), mp.expj(-ph)
        # drift: own damping, and the client's a_-^dag reaching the server through both channels
        A = mp.zeros(4, 4)
        for k in range(2):
            A[k, k] = -gm / 2
            A[2 + k, 2 + k] = -gp / 2
        coupling = j * sB_p * up * t * (j * sP_m) + j * sP_p * down * t * mp.conj(j * sB_m)
        blk = _quadrature_block(coupling, dagger=True)
        for r in range(2):
            for c in range(2):
                A[2 + r, c] = blk[r][c]
        # noise: (coefficient on the client, dagger?), (coefficient on the server, dagger?), variance
        sources = [
            ((j * sB_m, False), (j * sP_p * down * t, True), mp.mpf(1) / 2),  # b_l
            ((j * sP_m, True), (j * sB_p * up * t, False), mp.mpf(1) / 2),  # b_u
            ((0, False), (j * sP_p * mp.sqrt(e), True), mp.mpf(1) / 2),  # b'_l
            ((0, False), (j * sB_p * mp.sqrt(e), False), mp.mpf(1) / 2),  # b'_u
            ((mp.sqrt(g0m), False), (0, False), mp.mpf(nbar_minus) + mp.mpf(1) / 2),  # client bath
            ((0, False), (mp.sqrt(g0p), False), mp.mpf(nbar_plus) + mp.mpf(1) / 2),  # server bath
        ]
        D = mp.zeros(4, 4)
        for (cm, dm), (cp, dp), var in sources:
            Bs = mp.zeros(4, 2)
            for off, (coef, dag) in ((0, (cm, dm)), (2, (cp, dp))):
                b = _quadrature_block(mp.mpc(coef), dag)
                for r in range(2):
                    for c in range(2):
                        Bs[off + r, c] = b[r][c]
            D += var * Bs * Bs.T
        n = 4
        op = mp.zeros(n * n, n * n)
        for i in range(n):
            for k in range(n):
                for m in range(n):
                    op[i * n + k, m * n + k] += A[i, m]
                    op[i * n + k, i * n + m] += A[k, m]
        x = mp.lu_solve(op, -mp.matrix([D[i, k] for i in range(n) for k in range(n)]))
        S = mp.matrix(n, n)
        for i in range(n):
            for k in range(n):
                S[i, k] = (x[i * n + k] + x[k * n + i]) / 2
        return S


def reid_E_mp(S, direction="plus-given-minus"):
    """Reid's E with optimal gains from an mpmath covariance (plain Schur complements, 50 digits)."""
    with mp.workdps(DPS):
        b, a = (2, 0) if direction == "plus-given-minus" else (0, 2)
        vx = S[b, b] - S[b, a] ** 2 / S[a, a]
        vp = S[b + 1, b + 1] - S[b + 1, a + 1] ** 2 / S[a + 1, a + 1]
        return mp.sqrt(vx * vp)
