"""Independent reference for the lab-frame model (finite oscillator frequency Omega).

The carrier-frame Langevin equations are assembled in complex form (a_-, a_-^dag, a_+, a_+^dag)
directly from the jump operators ``L_j = i (sqrt(G_jB) a_j + sqrt(G_jP) a_j^dag)``, with the
client's output ``b + L_-`` substituted into the server's input, and converted to quadratures.
Nothing here uses steerjax.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy.linalg import solve_continuous_lyapunov


def langevin(
    Gm, th_m, g_m, g0_m, gt0_m, Gp, th_p, g_p, g0_p, gt0_p, eps, phi, omega, lib=np, viscous=(False, False)
):
    """Drift A and diffusion D of (X_-, P_-, X_+, P_+) from the carrier-frame Langevin equations.

    ``lib`` is numpy (floats) or mpmath (50 digits).  Noise vector xi = (b, b^dag, b', b'^dag,
    a_-in, a_-in^dag, a_+in, a_+in^dag) with symmetrised correlations 1/2 (vacuum) and
    nbar + 1/2 = gt0/g0 (thermal) between an operator and its adjoint.

    ``viscous[j]`` (client, server): oscillator j's bath damps its momentum only,
    dP/dt = ... - g0 P + sqrt(2 g0) xi with a Hermitian thermal noise xi = (a_in + a_in^dag)/sqrt 2.
    With a = (X + i P)/sqrt 2 this is da/dt = ... - (g0/2)(a - a^dag) + i sqrt(g0/2)(a_in + a_in^dag)
    in place of the optical bath's - (g0/2) a + sqrt(g0) a_in (g_j, the net damping, keeps g0).
    """
    if lib is np:
        sqrt, exp, I, cplx = math.sqrt, lambda x: complex(math.cos(x), math.sin(x)), 1j, complex
    else:
        sqrt, exp, I, cplx = mp.sqrt, lambda x: mp.expj(x), mp.mpc(0, 1), mp.mpc
    smB, smP = sqrt(Gm) * lib.sin(th_m), sqrt(Gm) * lib.cos(th_m)
    spB, spP = sqrt(Gp) * lib.sin(th_p), sqrt(Gp) * lib.cos(th_p)
    t = sqrt(1 - eps)
    e = exp(phi)
    ec = exp(-phi)
    M = [[cplx(0)] * 4 for _ in range(4)]
    N = [[cplx(0)] * 8 for _ in range(4)]
    # client: da_-/dt = (i Omega - g_-/2) a_- + i smB b + i smP b^dag + sqrt(g0_-) a_-in
    M[0][0] = I * omega - g_m / 2
    N[0][0], N[0][1], N[0][4] = I * smB, I * smP, sqrt(g0_m)
    # server: i spB b_+ + i spP b_+^dag with b_+ = e^{i phi} t (b + L_-) + sqrt(eps) b'
    # L_- = i (smB a_- + smP a_-^dag), L_-^dag = -i (smB a_-^dag + smP a_-)
    M[2][2] = -I * omega - g_p / 2
    M[2][0] = I * spB * e * t * I * smB + I * spP * ec * t * (-I) * smP
    M[2][1] = I * spB * e * t * I * smP + I * spP * ec * t * (-I) * smB
    N[2][0], N[2][1] = I * spB * e * t, I * spP * ec * t
    N[2][2], N[2][3] = I * spB * sqrt(eps), I * spP * sqrt(eps)
    N[2][6] = sqrt(g0_p)
    for row, g0, on in ((0, g0_m, viscous[0]), (2, g0_p, viscous[1])):
        if on:
            M[row][row + 1] += g0 / 2
            N[row][4 + row] = N[row][5 + row] = I * sqrt(g0 / 2)
    for row in (0, 2):  # the adjoint rows
        # d a^dag/dt = conj(c_a) a^dag + conj(c_adag) a + ...
        M[row + 1] = [lib.conj(x) for x in (M[row][1], M[row][0], M[row][3], M[row][2])]
        swapped = []
        for k in range(0, 8, 2):
            swapped += [lib.conj(N[row][k + 1]), lib.conj(N[row][k])]
        N[row + 1] = swapped
    half = mp.mpf(1) / 2 if lib is mp else 0.5
    corr = [half] * 2 + [half] * 2 + [gt0_m / g0_m] * 2 + [gt0_p / g0_p] * 2  # nbar + 1/2
    s2 = sqrt(2)
    T = [[1 / s2, 1 / s2, 0, 0], [-I / s2, I / s2, 0, 0], [0, 0, 1 / s2, 1 / s2], [0, 0, -I / s2, I / s2]]
    if lib is np:
        T, M, N = np.array(T, complex), np.array(M, complex), np.array(N, complex)
        Sig = np.zeros((8, 8))
        for k in range(0, 8, 2):
            Sig[k, k + 1] = Sig[k + 1, k] = corr[k]
        A = T @ M @ np.linalg.inv(T)
        TN = T @ N
        D = TN @ Sig @ TN.T
        assert np.abs(A.imag).max() < 1e-12 * np.abs(A).max()
        return A.real, D.real
    T, M, N = mp.matrix(T), mp.matrix(M), mp.matrix(N)
    Sig = mp.zeros(8, 8)
    for k in range(0, 8, 2):
        Sig[k, k + 1] = Sig[k + 1, k] = corr[k]
    A = T * M * T**-1
    TN = T * N
    D = TN * Sig * TN.T
    return A.apply(mp.re), D.apply(mp.re)


def schur_E(S, steered):
    b = [2, 3] if steered == "plus" else [0, 1]
    a = [0, 1] if steered == "plus" else [2, 3]
    M = S[np.ix_(b, b)] - S[np.ix_(b, a)] @ np.linalg.solve(S[np.ix_(a, a)], S[np.ix_(a, b)])
    return math.sqrt(np.linalg.det(M))


def fixed_E_on_grid(S, direction, n=20001):
    psi = np.linspace(0.0, math.pi / 2, n, endpoint=False)
    c, s = np.cos(psi), np.sin(psi)
    # x_-(psi) = R(-psi) x_-, x_+(psi) = R(psi) x_+, per instant
    T = np.zeros((n, 4, 4))
    T[:, 0, 0] = T[:, 1, 1] = c
    T[:, 0, 1], T[:, 1, 0] = s, -s
    T[:, 2, 2] = T[:, 3, 3] = c
    T[:, 2, 3], T[:, 3, 2] = -s, s
    Sp = T @ S @ np.swapaxes(T, 1, 2)
    b, a = (2, 0) if direction == "plus-given-minus" else (0, 2)
    vx = Sp[:, b, b] - Sp[:, b, a] ** 2 / Sp[:, a, a]
    vp = Sp[:, b + 1, b + 1] - Sp[:, b + 1, a + 1] ** 2 / Sp[:, a + 1, a + 1]
    e = np.sqrt(vx * vp)
    return e.min(), psi[e.argmin()]


def covariance(rates_minus, rates_plus, eps, phi, omega, viscous=(False, False)):
    """Stationary covariance from the rates ``(Gamma, theta, gamma, gamma0, gamma_tilde0)`` of each
    oscillator (floats, any consistent unit) by scipy's Lyapunov solver."""
    A, D = langevin(*rates_minus, *rates_plus, eps, phi, omega, viscous=viscous)
    return solve_continuous_lyapunov(A, -D)


def rates_from_theta(theta, C, gamma0, nbar):
    gt = gamma0 * (nbar + 0.5)
    G = C * gt
    return (G, theta, gamma0 + G * math.sin(theta) ** 2 - G * math.cos(theta) ** 2, gamma0, gt)


def rates_from_rho(rho, C, gamma0, nbar):
    """Rates of an oscillator given by its damping ratio gamma/(gamma0 + Gamma) (exact gamma)."""
    gt = gamma0 * (nbar + 0.5)
    G = C * gt
    gamma = rho * (gamma0 + G)
    GB, GP = max((G - gamma0 + gamma) / 2, 0.0), max((G + gamma0 - gamma) / 2, 0.0)
    return (G, math.atan2(math.sqrt(GB), math.sqrt(GP)), gamma, gamma0, gt)


def covariance_mp(A, D):
    """Stationary covariance at the working precision of mpmath: the Kronecker form of
    ``A S + S A^T = -D`` (4 x 4, so 16 unknowns) solved by LU."""
    op, rhs = mp.zeros(16, 16), mp.zeros(16, 1)
    for i in range(4):
        for j in range(4):
            rhs[4 * i + j] = -D[i, j]
            for k in range(4):
                op[4 * i + j, 4 * k + j] += A[i, k]
                op[4 * i + j, 4 * i + k] += A[j, k]
    x = mp.lu_solve(op, rhs)
    S = mp.matrix(4, 4)
    for i in range(4):
        for j in range(4):
            S[i, j] = x[4 * i + j]
    return S


def schur_E_mp(S, b, a):
    """sqrt(det) of the conditional covariance of the quadratures ``b`` given ``a`` (mpmath)."""
    Sb = mp.matrix([[S[i, j] for j in b] for i in b])
    Sa = mp.matrix([[S[i, j] for j in a] for i in a])
    Sba = mp.matrix([[S[i, j] for j in a] for i in b])
    return mp.sqrt(mp.det(Sb - Sba * Sa**-1 * Sba.T))
