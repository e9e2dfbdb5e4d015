"""The optima of a job table as text: one table per group of jobs that share a coupling,
direction and scheme (what ``steerjax optimize`` prints below its heading lines)."""

from __future__ import annotations

import math

import numpy as np

from ..io._console import format_columns
from ..io._tables import THERMAL_FIELDS, Table
from ..io._text import format_number
from ..model import STEERING_BOUND
from ._job_columns import SENSITIVITY_PARAMETERS
from ._jobs import group_key

__all__ = ["optima_report", "convergence_notes", "job_problems"]

_DIRECTION_WORDS = {
    "plus-given-minus": ("E_+|-", "client => server"),
    "minus-given-plus": ("E_-|+", "server => client"),
}
_COUPLING_WORDS = {
    "asymmetric": "theta_+, theta_-, C_+ free",
    "symmetric": "theta_+ = theta_- tied, C_+ free",
}


def _g(x: float, digits: int, bounds=(0.0,)) -> str:
    """A table cell (:func:`steerjax.io.format_number`: no ``-0``, and never shown
    equal to a limit of its range, by default 0, that it differs from)."""
    return format_number(x, digits, bounds)


_E_LIMITS = (0.0, STEERING_BOUND)


def optima_report(table: Table, rows: np.ndarray, results: dict, *, thermal_source: str, search: str) -> str:
    """The text report of the optima ``results`` of the table rows ``rows`` (as
    :func:`steerjax.optim._jobs.solve` returns them; one thermal set): the thermal values (from
    ``thermal_source``, in words), the line ``search``, then for each :func:`group_key` group a
    title and a table, the footnotes, and the elasticities when ``results`` has them."""
    v = table.values
    t = {f: float(v[f][0]) for f in THERMAL_FIELDS}
    lines = [
        f"thermal ({thermal_source}): gamma_+,0/2pi = {_g(t['gamma0_plus_hz'], 10)} Hz, "
        f"nbar_+ = {_g(t['nbar_plus'], 10)}; gamma_-,0/2pi = {_g(t['gamma0_minus_hz'], 10)} Hz, "
        f"nbar_- = {_g(t['nbar_minus'], 10)}",
        search,
    ]
    order: dict[tuple, list[int]] = {}
    for j, i in enumerate(rows.tolist()):
        order.setdefault(group_key(table, i), []).append(j)
    for (coupling, direction, conditional, _, _, _), js in order.items():
        symbol, words = _DIRECTION_WORDS[direction]
        what = f"the conditional {symbol}" if conditional else symbol
        lines += ["", f"{coupling} coupling ({_COUPLING_WORDS[coupling]}), minimising {what} ({words})"]
        # (heading, cell of result j and table row i)
        columns = [
            ("C_-", lambda j, i: _g(float(v["C_minus"][i]), 8)),
            ("eps", lambda j, i: _g(float(v["eps"][i]), 4, (0.0, 1.0))),
        ]
        if conditional:
            columns.append(("eta", lambda j, i: _g(float(v["efficiency"][i]), 4, (0.0, 1.0))))
        columns += [
            ("E_+|-", lambda j, i: _g(results["E_plus_given_minus"][j], 10, _E_LIMITS)),
            ("E_-|+", lambda j, i: _g(results["E_minus_given_plus"][j], 10, _E_LIMITS)),
        ]
        if "E_worst" in results:
            columns.append(("worst E", lambda j, i: _g(results["E_worst"][j], 10, _E_LIMITS)))
        columns += [
            ("theta_+/pi", lambda j, i: f"{results['theta_plus'][j] / math.pi:.8f}"),
            ("theta_-/pi", lambda j, i: f"{results['theta_minus'][j] / math.pi:.8f}"),
            ("C_+/C_-", lambda j, i: _g(results["C_plus_over_C_minus"][j], 6)),
        ]
        if "phi" in results:
            columns.append(("phi [rad]", lambda j, i: _g(results["phi"][j], 6, (0.0,))))
        if conditional:
            uncond = "E_u_plus_given_minus" if direction == "plus-given-minus" else "E_u_minus_given_plus"
            columns += [
                ("LO/pi", lambda j, i: f"{results['lo_phase'][j] / math.pi:.8f}"),
                ("uncond. E", lambda j, i, u=uncond: _g(results[u][j], 10, _E_LIMITS)),
            ]
        columns += [
            ("converged", lambda j, i: "yes" if results["converged"][j] else "NO"),
            ("at edge", lambda j, i: "yes" if results["at_stability_edge"][j] else "no"),
        ]
        heads = [h + (" *" if h == symbol else "") for h, _ in columns]
        lines.append(format_columns(heads, ([cell(j, rows[j]) for _, cell in columns] for j in js)))
    lines += [
        "",
        "* minimised.  Steering when E < 1/2.  theta in units of pi.  at edge: the optimum is approached",
        "at an oscillator's stability edge (the design shown is stable).  Full precision: --json or --out.",
    ]
    if "E_worst" in results:
        lines += [
            "worst E: the largest E of the minimised direction over the tolerance set at the design shown;",
            "with a tolerance it is what was minimised (the E columns are the nominal values, no errors).",
        ]
    if "elasticity_C_minus" in results:
        lines += ["", *_elasticity_table(v, rows, results)]
    if any(key[2] for key in order):
        lines += [
            "conditional: E given the homodyne record of the output light (efficiency eta, local-",
            "oscillator phase LO); uncond. E: the minimised direction's plain E at the same design.",
        ]
    return "\n".join(lines)


def _elasticity_table(v: dict, rows: np.ndarray, results: dict) -> list[str]:
    """``--sensitivities`` in the text report: the elasticities of every optimum (the
    derivatives are in the --json / --out columns)."""
    heads = ["C_-", "eps", *(f"{_SHORT[p]}" for p in SENSITIVITY_PARAMETERS)]
    body = (
        [
            _g(float(v["C_minus"][i]), 8),
            _g(float(v["eps"][i]), 4, (0.0, 1.0)),
            *(_elasticity_cell(results[f"elasticity_{p}"][j]) for p in SENSITIVITY_PARAMETERS),
        ]
        for j, i in enumerate(rows.tolist())
    )
    return [
        "elasticities d ln E*/d ln p of the minimised E* (steerjax.optimum_sensitivity; e.g. -0.4: 1 % more",
        "of p lowers E* by 0.4 %); dE*/dp in the --json / --out columns dEstar_d_<p>:",
        format_columns(heads, body),
    ]


_SHORT = {
    "nbar_plus": "nbar_+",
    "nbar_minus": "nbar_-",
    "gamma0_plus_hz": "gamma0_+",
    "gamma0_minus_hz": "gamma0_-",
    "eps": "eps",
    "C_minus": "C_-",
}


def _elasticity_cell(x) -> str:
    x = float(x)
    return "" if math.isnan(x) else f"{x:+.6f}"


def convergence_notes(results: dict) -> list[str]:
    """Notes on the optima of ``results`` that did not converge (none when all did), and on why
    a tolerance's worst case often cannot pass the gradient test."""
    notes = []
    k = int(np.count_nonzero(~np.asarray(results["converged"], dtype=bool)))
    if k:
        notes.append(
            f"{k} of {len(results['converged'])} optima did not converge (the search stopped "
            "neither on the solver's own test nor with a projected gradient below the first-order "
            "tolerance relative to |E|; see converged and grad_norm); the best start is reported "
            "-- more --starts may help"
        )
    if "E_worst" in results:
        bad = ~np.asarray(results["converged"], dtype=bool)
        tolerant = np.asarray(results["E_worst"]) != np.asarray(results["E"])
        if np.any(bad & tolerant):
            notes.append(
                "with a tolerance the worst case is a maximum over error corners, and at a robust "
                "optimum two corners usually tie (a kink), where the gradient test cannot pass; "
                "E_worst is then typically within ~1e-8 (relative) of the best value (measured "
                "against Nelder-Mead, docs/dev-notes.md)"
            )
    return notes


def job_problems(table: Table) -> list[str]:
    """One line per rejected job of a table made from values rather than a file, naming the
    job by its values: ``C_minus = 10.0, eps = 0.0 (asymmetric, plus-given-minus): reason``."""
    v = table.values
    lines = []
    for i in sorted(table.problems):
        coupling, direction, conditional, _, _, _ = group_key(table, i)
        job = f"C_minus = {float(v['C_minus'][i])!r}, eps = {float(v['eps'][i])!r}"
        if conditional:
            job += f", efficiency = {float(v['efficiency'][i])!r}"
        lines.append(f"{job} ({coupling}, {direction}): {'; '.join(table.problems[i])}")
    return lines
