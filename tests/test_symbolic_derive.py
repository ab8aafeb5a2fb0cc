"""SymPy derivations: the lambdified summands equal the core's autodiff and hand-derived derivatives."""

import numpy as np
import pytest
import sympy as sp
from sympy.core.function import AppliedUndef

from losslab.errors import LosslabError
from losslab.objective import make_objective
from losslab.symbolic.derive import DERIVABLE, derive, xreplace_shared
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


def test_hessian_is_every_second_derivative_of_the_summand(case):
    """The Hessian (differentiated on first use) is sp.diff of each gradient entry, the ReLU's delta dropped,
    and equals the second derivatives of l_i itself."""
    name, d, obj = case
    H = d.example_hessian
    assert H.shape == (len(d.params), len(d.params))
    for j, g in enumerate(d.example_grad):
        for k, q in enumerate(d.params):
            direct = sp.diff(g, q).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
            assert H[j, k] == direct
    if name != "shallow":  # Max has no second derivative in SymPy's sense at the kinks; the others are smooth
        for j, k in ((0, 0), (0, 1), (1, 1)):
            assert sp.simplify(sp.expand(as_exp(H[j, k]) - as_exp(sp.diff(d.example_loss, d.params[j], d.params[k])))) == 0
    assert d.example_hessian is H  # derived once


def test_shared_xreplace_is_xreplace(case):
    """xreplace_shared gives exactly what SymPy's xreplace gives, entry by entry (same tree, same printing)."""
    name, d, obj = case
    i, x, y = symbol("i"), indexed_base("x"), indexed_base("y")
    rule = {x[i]: sp.Symbol("x", real=True), y[i]: sp.Symbol("y", real=True)}
    exprs = [as_exp(e) for e in (*d.example_grad, *d.example_hessian)]
    shared = xreplace_shared(exprs, rule)
    plain = [e.xreplace(rule) for e in exprs]
    assert shared == plain
    assert [sp.srepr(e) for e in shared] == [sp.srepr(e) for e in plain]
    assert not any(e.has(x[i], y[i]) for e in shared)
    # a rule that matches nothing gives back the very same objects; the whole expression can be a key too
    untouched = xreplace_shared(exprs, {sp.Symbol("unused"): sp.S.One})
    assert all(a is b for a, b in zip(untouched, exprs))
    assert xreplace_shared([x[i] + 1, x[i]], {x[i]: sp.S(2)}) == [3, 2]


def test_gradient_latex_is_the_gradient_part_of_latex(case):
    name, d, obj = case
    full = d.latex()
    assert list(full) == ["L", *(f"dL/d{p.name}" for p in d.params), "H"]
    assert d.gradient_latex() == {k: v for k, v in full.items() if k.startswith("dL/d")}


def test_linear_hessian_latex_is_the_books():
    tex = derive("linear").latex()["H"]
    assert r"2 I" in tex and r"2 \sum_{i=1}^{I} x_{i}^{2}" in tex
    assert tex.startswith(r"\begin{bmatrix}") and tex.endswith(r"\end{bmatrix}")
    # and it reads back, through the safe parser, to the derived matrix
    back = parse_expression(tex)
    assert back.shape == (2, 2)
    assert all(sp.simplify(a - b) == 0 for a, b in zip(back, derive("linear").hessian))


def test_shallow_derivative_uses_the_indicator():
    d = derive("shallow")
    g = d.example_grad[d.params.index(symbol("theta_10"))]
    assert g.has(sp.Heaviside) and not g.has(sp.DiracDelta)


def test_unknown_model_is_refused():
    with pytest.raises(LosslabError, match="'model' parameter of derive must be one of"):
        derive("transformer")


def test_relu_value_at_zero_is_a_choice_at_the_kinks_only():
    import jax
    import jax.numpy as jnp

    obj = make_objective("shallow", "book:shallow")
    x, y = np.asarray(obj.x), np.asarray(obj.y)
    d = derive("shallow")
    # hidden units exactly at 0 for a data point: theta_k0 = -theta_k1 x_i, exact in floating point
    kink = np.array([-0.3, 2.0, -1.0, 7.0, -x[3], 1.0, -2.0 * x[5], 2.0, -0.5 * x[7], 0.5])

    def loss(p, relu):
        hid = relu(p[jnp.array([4, 6, 8])][None, :] + p[jnp.array([5, 7, 9])][None, :] * x[:, None])
        return jnp.sum((p[0] + hid @ p[1:4] - y) ** 2)

    relu_one = lambda z: jnp.where(z >= 0, z, 0.0)  # noqa: E731  (derivative 1 at 0)
    np.testing.assert_allclose(d.grad(kink, x, y), jax.grad(loss)(kink, jax.nn.relu), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(d.grad(kink, x, y, relu_at_zero=1.0), jax.grad(loss)(kink, relu_one), rtol=1e-11, atol=1e-11)
    assert np.max(np.abs(d.grad(kink, x, y, relu_at_zero=1.0) - d.grad(kink, x, y))) > 1e-6
    away = np.random.default_rng(0).normal(size=10)  # no unit at exactly 0: the choice does not matter
    np.testing.assert_array_equal(d.grad(away, x, y, relu_at_zero=1.0), d.grad(away, x, y))
    with pytest.raises(LosslabError, match="'relu_at_zero' parameter"):
        d.grad(kink, x, y, relu_at_zero=2.0)
