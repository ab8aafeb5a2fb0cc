"""A wrong claim comes with its corrected step: the claim with the named mistake undone. Checked here two
ways: written back into a sheet the checker calls it correct, and for the linear model the corrected
expression equals the closed-form gradient 2 sum_i (phi_0 + phi_1 x_i - y_i) [1, x_i] in NumPy."""

import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from losslab.symbolic import check_sheet
from losslab.symbolic.latex import parse_expression

SHEET = Path(__file__).parent / "sheets" / "planted_corrections.md"
MISTAKES = {5: "sign error", 7: "missing chain-rule factor", 9: "missing sum over i", 11: "factor 2 vs 1/2 convention",
            15: "missing residual factor", 19: "ReLU derivative written as the ReLU", 21: "missing chain-rule factor"}


@pytest.fixture(scope="module")
def results():
    return {r.line: r for r in check_sheet(SHEET.read_text())}


@pytest.mark.parametrize("line", sorted(MISTAKES))
def test_each_named_mistake_has_a_correction_the_checker_accepts(results, line):
    r = results[line]
    assert r.verdict == "incorrect" and r.mistake == MISTAKES[line]
    assert r.correction, r.reason
    lhs = re.split(r"(?<!\\)=", r.latex, maxsplit=1)[0]
    fixed = check_sheet(f"## Problem {r.problem}\n\n$${lhs} = {r.correction}$$\n")
    assert [x.verdict for x in fixed] == ["correct"], fixed[0].reason


@pytest.mark.parametrize("line, which", [(5, 0), (7, 1), (9, 1), (11, 1)])
def test_linear_model_corrections_equal_the_closed_form(results, line, which):
    expr = parse_expression(results[line].correction)
    rng = np.random.default_rng(3)
    x, y, phi = rng.normal(size=5), rng.normal(size=5), rng.normal(size=2)
    truth = 2 * np.sum((phi[0] + phi[1] * x - y) * (1.0 if which == 0 else x))
    count = next(s for s in expr.free_symbols if getattr(s, "name", "") == "I")
    concrete = expr.subs(count, 5).doit()
    data = {"x": x, "y": y}
    values = {e: data[str(e.base.label)][int(e.indices[0]) - 1] for e in concrete.atoms(sp.Indexed)}
    values |= {s: phi[int(s.name[-1])] for s in concrete.free_symbols if getattr(s, "name", "").startswith("phi_")}
    assert float(concrete.xreplace(values)) == pytest.approx(truth, rel=1e-12)


def test_no_correction_for_a_right_claim_or_an_unnamed_mistake():
    rs = check_sheet("## Problem 6.1\n\n$$\\frac{\\partial L}{\\partial \\phi_0} = 2\\sum_{i=1}^{I}(\\phi_0 + \\phi_1 x_i - y_i)$$\n\n"
                     "$$\\frac{\\partial L}{\\partial \\phi_1} = \\sum_{i=1}^{I}\\cos(x_i)$$\n")
    assert [r.verdict for r in rs] == ["correct", "incorrect"]
    assert rs[0].correction == "" and rs[1].correction == "" and rs[1].truth_latex
