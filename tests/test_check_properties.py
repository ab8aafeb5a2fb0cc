"""Convexity and definiteness said in words, judged on the problem's Hessian: proved by a certificate,
refuted by an eigenvalue that an independent computation (jax.hessian) confirms, or by a singular case."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from losslab.symbolic import check_sheet
from losslab.symbolic.properties import find_properties

SHEET = Path(__file__).parent / "sheets" / "planted_properties.md"


@pytest.fixture(scope="module")
def results():
    out = {}
    for r in check_sheet(SHEET.read_text()):
        out.setdefault(r.line, []).append(r)
    return out


def test_linear_least_squares_is_convex_proved_not_definite_for_equal_inputs(results):
    (convex,) = results[5]
    assert convex.verdict == "correct" and convex.reason.startswith("proved") and "rank-one" in convex.reason
    (definite,) = results[7]  # "positive definite, so .. strictly convex": one statement, judged once
    for r in (definite,):
        assert r.verdict == "incorrect" and "x = (1, 1, 1, 1)" in r.reason and "singular" in r.reason
    # the singular case, independently: H = 2 [[I, sum x], [sum x, sum x^2]] with all x_i = 1
    x = np.ones(4)
    H = 2 * np.array([[len(x), x.sum()], [x.sum(), (x**2).sum()]])
    assert abs(np.linalg.eigvalsh(H)[0]) < 1e-12


def test_convex_but_not_strictly_is_two_statements(results):
    convex, not_strict = results[9]
    assert convex.verdict == "correct" and "succeq" in convex.latex and "neg" not in convex.latex
    assert not_strict.verdict == "incorrect" and "neg" in not_strict.latex and "only for special data" in not_strict.reason


def test_questions_and_formulas_of_their_own_are_not_statements(results):
    assert 11 not in results  # "Is the loss convex? We check whether .."
    assert 33 not in results  # "The function $-\log sig[z]$ is convex": about that function, not the loss
    assert not any(r.problem == "6.6" for rs in results.values() for r in rs)  # a figure's curve


def _gabor_hessian_eigenvalue(reason: str) -> tuple[float, float]:
    """The point and eigenvalue the checker reports, and the smallest eigenvalue jax.hessian finds there."""
    def vec(name):
        return np.array([float(v) for v in re.search(rf"{name} = \(([^)]*)\)", reason).group(1).split(",")])
    def num(name):
        return float(re.search(rf"{name} = (-?[\d.e-]+)", reason).group(1))
    x, y, phi = vec("x"), vec("y"), jnp.array([num("phi_0"), num("phi_1")])
    said = float(re.search(r"eigenvalue (-?[\d.e-]+) < 0", reason).group(1))

    def loss(p):
        z = p[0] + 0.06 * p[1] * x
        return jnp.sum((jnp.sin(z) * jnp.exp(-z**2 / 32.0) - y) ** 2)

    with jax.enable_x64(True):
        H = np.asarray(jax.hessian(loss)(phi.astype(jnp.float64)))
    return said, float(np.linalg.eigvalsh(H)[0])


def test_gabor_is_not_convex_with_an_eigenvalue_jax_confirms(results):
    (not_convex,) = results[23]
    (convex,) = results[25]
    assert not_convex.verdict == "correct" and convex.verdict == "incorrect"
    said, truth = _gabor_hessian_eigenvalue(convex.reason)
    assert said < 0 and truth == pytest.approx(said, rel=1e-4, abs=1e-5)


def test_logistic_regression_convexity_is_proved(results):
    assert 29 not in results  # Pr(y = 1 | x) = sig[..] reads as the model's definition, not unreadable LaTeX
    rs = results[31]
    assert len(rs) == 1 and rs[0].verdict == "correct" and rs[0].reason.startswith("proved")


def test_shallow_network_is_not_convex(results):
    (r,) = results[37]
    assert r.verdict == "incorrect" and "< 0" in r.reason


def test_a_slip_the_next_row_undoes(results):
    (slip,) = results[17]
    (back,) = results[18]
    assert slip.verdict == "incorrect" and "step 2 of 3" in slip.reason and "right anyway" in slip.reason
    assert back.verdict == "correct" and "undoes its mistake" in back.reason


@pytest.mark.parametrize("sentence, expected", [
    ("The loss is convex.", [(False, False)]),
    ("H is positive semi-definite, so L is convex.", [(False, False), (False, False)]),
    ("The surface is convex but not strictly convex.", [(False, False), (True, True)]),
    ("L is non-convex.", [(False, True)]),
    ("la log-loss è convessa", [(False, False)]),
    ("функция потерь выпуклая", [(False, False)]),
    ("Is the loss convex?", []),
    ("If the x_i differ, H is positive definite.", []),
    ("The determinant is non-negative, so the loss is convex.", [(False, False)]),
])
def test_statements_found_in_words(sentence, expected):
    assert [(p.strict, p.negated) for p in find_properties(sentence)] == expected
