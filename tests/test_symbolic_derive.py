"""SymPy derivations: the lambdified summands equal the core's autodiff and hand-derived derivatives."""

import numpy as np
import pytest
import sympy as sp
from sympy.core.function import AppliedUndef

from losslab.errors import LosslabError
from losslab.objective import make_objective
from losslab.symbolic.derive import DERIVABLE, derive
from losslab.symbolic.latex import indexed_base, parse_expression, symbol
from losslab.symbolic.printing import as_exp

DATA = {"linear": "book:linear", "gabor": "book:gabor", "logistic": "logistic:3", "shallow": "book:shallow"}


@pytest.fixture(scope="module", params=DERIVABLE)
def case(request):
    name = request.param
    return name, derive(name), make_objective(name, DATA[name])


def _params(obj, seed):
    rng = np.random.default_rng(seed)
    scale = 2.0 if obj.model.name == "gabor" else 1.0
    return rng.normal(size=obj.n_params) * scale


def test_example_grads_equal_autodiff_and_analytic(case):
    name, d, obj = case
    x, y = np.asarray(obj.x), np.asarray(obj.y)
    for seed in range(3):
        p = _params(obj, seed)
        sym = d.example_grads(p, x, y)
        np.testing.assert_allclose(sym, np.asarray(obj.example_grads(p)), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(sym.sum(axis=0), np.asarray(obj.analytic_grad(p)), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(d.grad(p, x, y), np.asarray(obj.grad(p)), rtol=1e-10, atol=1e-10)


def test_hessian_equals_autodiff(case):
    name, d, obj = case
    x, y = np.asarray(obj.x), np.asarray(obj.y)
    p = _params(obj, 7)
    np.testing.assert_allclose(d.hessian_numeric(p, x, y), np.asarray(obj.hessian(p)), rtol=1e-9, atol=1e-9)
    if obj.has_analytic_hessian:
        np.testing.assert_allclose(d.hessian_numeric(p, x, y), np.asarray(obj.analytic_hessian(p)), rtol=1e-9, atol=1e-9)


def test_printed_latex_reads_back_to_the_same_gradient(case):
    """book_latex -> our parser -> numbers: the printed formulas are the derived ones."""
    name, d, obj = case
    x, y = indexed_base("x"), indexed_base("y")
    rng = np.random.default_rng(0)
    for tex, g in zip(list(d.latex().values())[1:], d.gradient):
        back = parse_expression(tex)
        values = {q: sp.Float(v) for q, v in zip(d.params, rng.normal(size=len(d.params)))}
        values[symbol("I")] = 3
        data = {x[k]: sp.Float(rng.uniform(-2, 2)) for k in (1, 2, 3)} | {y[k]: sp.Float(rng.uniform(-1, 1)) for k in (1, 2, 3)}
        builtins = {"a": lambda z: sp.Max(0, z), "sig": lambda z: 1 / (1 + sp.exp(-z))}
        back = back.replace(lambda e: isinstance(e, AppliedUndef), lambda e: builtins[type(e).__name__](*e.args))
        a = float(back.xreplace(values).doit().xreplace(data))
        b = float(as_exp(g).xreplace(values).doit().xreplace(data))
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


def test_linear_hessian_latex_is_the_books():
    tex = derive("linear").latex()["H"]
    assert r"2 I" in tex and r"2 \sum_{i=1}^{I} x_{i}^{2}" in tex


def test_shallow_derivative_uses_the_indicator():
    d = derive("shallow")
    g = d.example_grad[d.params.index(symbol("theta_10"))]
    assert g.has(sp.Heaviside) and not g.has(sp.DiracDelta)


def test_unknown_model_is_refused():
    with pytest.raises(LosslabError, match="'model' parameter of derive must be one of"):
        derive("transformer")
