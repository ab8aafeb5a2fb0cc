"""The MLP's hand-written backpropagation against plain autodiff of an independently written MLP."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import losslab as ll
from losslab.curvature import make_hvp


def _plain_mlp_loss(params, x, y, widths):
    """sum_i (f[x_i] - y_i)^2 for a ReLU MLP, written without losslab's code."""
    h = x.reshape(x.shape[0], -1)
    offset = 0
    for k, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        weight = params[offset : offset + d_in * d_out].reshape(d_in, d_out)
        offset += d_in * d_out
        bias = params[offset : offset + d_out]
        offset += d_out
        h = h @ weight + bias
        if k < len(widths) - 2:
            h = jnp.maximum(h, 0.0)
    return jnp.sum((h[:, 0] - y) ** 2)


@pytest.mark.parametrize(
    ("widths", "seed"), [((1, 1), 0), ((1, 5, 1), 1), ((1, 4, 6, 1), 2), ((3, 5, 1), 3), ((2, 3, 4, 2, 1), 4)]
)
def test_mlp_objective_derivatives_equal_plain_autodiff(widths, seed):
    rng = np.random.default_rng(seed)
    model = ll.mlp(widths)
    n = 9
    x = rng.normal(size=(n,) if widths[0] == 1 else (n, widths[0]))
    y = rng.normal(size=n)
    params = jnp.asarray(rng.normal(size=model.n_params))
    obj = ll.Objective(model, ll.Dataset(x, y, name="random"), reduction="sum")
    assert "least_squares" in model.capabilities.fused
    X, Y = jnp.asarray(x), jnp.asarray(y)

    def plain(p, xx, yy):
        return _plain_mlp_loss(p, xx, yy, widths)

    assert float(obj.value(params)) == pytest.approx(float(plain(params, X, Y)), rel=1e-13)
    ours = jax.grad(obj.loss_on, argnums=(0, 1, 2))(params, X, Y)
    theirs = jax.grad(plain, argnums=(0, 1, 2))(params, X, Y)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-11, atol=1e-11 * (1 + np.abs(b).max()))
    hess = np.asarray(jax.hessian(plain)(params, X, Y))
    scale = 1 + np.abs(hess).max()
    np.testing.assert_allclose(np.asarray(obj.hessian(params)), hess, rtol=1e-10, atol=1e-10 * scale)
    v = rng.normal(size=model.n_params)
    for linearize in (True, False):
        hv = np.asarray(make_hvp(obj, params, linearize=linearize)(jnp.asarray(v)))
        np.testing.assert_allclose(hv, hess @ v, rtol=1e-10, atol=1e-10 * scale)


def test_mlp_gradient_matches_central_differences():
    model = ll.mlp((1, 6, 5, 1))
    data = ll.load_dataset("book:shallow")
    obj = ll.Objective(model, data)
    params = model.init(3) + 0.1
    grad = np.asarray(obj.grad(params))
    h = 1e-6
    for k in (0, 7, 20, model.n_params - 1):
        e = np.zeros(model.n_params)
        e[k] = h
        central = (float(obj.value(params + e)) - float(obj.value(params - e))) / (2 * h)
        assert grad[k] == pytest.approx(central, rel=1e-6, abs=1e-7)


def test_only_least_squares_in_float64_uses_the_hand_written_backprop():
    model = ll.mlp((1, 4, 1))
    assert set(model.capabilities.fused) == {"least_squares"}
    assert not ll.custom(lambda p, x: p[0] * x, 1, name="mlp[1,4,1]").capabilities.fused
