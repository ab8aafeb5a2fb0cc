"""Every hand-derived gradient and Hessian equals autodiff and central finite differences."""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import losslab as ll

SEEDS = st.integers(min_value=0, max_value=2**31 - 1)
N_POINTS = 7  # one shape per model, so JAX compiles once per test


def central_difference_grad(fun, params, step=1e-6):
    params = np.asarray(params, dtype=np.float64)
    out = np.zeros_like(params)
    for k in range(params.size):
        e = np.zeros_like(params)
        e[k] = step
        out[k] = (float(fun(params + e)) - float(fun(params - e))) / (2 * step)
    return out


def central_difference_hessian(grad, params, step=1e-5):
    params = np.asarray(params, dtype=np.float64)
    cols = []
    for k in range(params.size):
        e = np.zeros_like(params)
        e[k] = step
        cols.append((np.asarray(grad(params + e)) - np.asarray(grad(params - e))) / (2 * step))
    return np.stack(cols, axis=1)


def random_problem(model_name, seed):
    rng = np.random.default_rng(seed)
    model = ll.get_model(model_name)
    if model_name == "logistic":
        x = rng.normal(0, 2, N_POINTS)
        y = (rng.random(N_POINTS) < 0.5).astype(float)
        params = rng.normal(0, 1.5, 2)
    elif model_name == "gabor":
        x = rng.uniform(-15, 15, N_POINTS)
        y = rng.normal(0, 0.5, N_POINTS)
        params = np.array([rng.uniform(-8, 8), rng.uniform(-20, 20)])
    elif model_name == "shallow":
        x = rng.uniform(0, 1, N_POINTS)
        y = rng.normal(0, 0.5, N_POINTS)
        params = rng.normal(0, 1.5, 10)
    else:
        x = rng.normal(0, 2, N_POINTS)
        y = rng.normal(0, 2, N_POINTS)
        params = rng.normal(0, 3, 2)
    return ll.Objective(model, ll.Dataset(x, y, f"random:{seed}")), params


def _away_from_kinks(obj, params, margin=1e-3):
    theta = np.asarray(params[4:]).reshape(3, 2)
    hidden = theta[:, 0][None, :] + theta[:, 1][None, :] * np.asarray(obj.data.x)[:, None]
    return np.min(np.abs(hidden)) > margin


@pytest.mark.parametrize("model_name", ["linear", "gabor", "logistic", "shallow"])
@settings(max_examples=25, deadline=None)
@given(seed=SEEDS)
def test_hand_derived_gradient_equals_autodiff_and_finite_differences(model_name, seed):
    obj, params = random_problem(model_name, seed)
    analytic = np.asarray(obj.analytic_grad(params))
    autodiff = np.asarray(obj.grad(params))
    np.testing.assert_allclose(analytic, autodiff, rtol=1e-11, atol=1e-11 * (1 + np.abs(autodiff).max()))
    if model_name != "shallow" or _away_from_kinks(obj, params):
        fd = central_difference_grad(obj.value, params)
        np.testing.assert_allclose(analytic, fd, rtol=1e-5, atol=1e-5 * (1 + np.abs(fd).max()))
    # per-example gradients too (eq. 6.6: the gradient is their sum)
    np.testing.assert_allclose(
        np.asarray(obj.analytic_example_grads(params)), np.asarray(obj.example_grads(params)), rtol=1e-10, atol=1e-10
    )


@pytest.mark.parametrize("model_name", ["linear", "logistic"])
@settings(max_examples=25, deadline=None)
@given(seed=SEEDS)
def test_closed_form_hessian_equals_autodiff_and_finite_differences(model_name, seed):
    obj, params = random_problem(model_name, seed)
    analytic = np.asarray(obj.analytic_hessian(params))
    autodiff = np.asarray(obj.hessian(params))
    scale = 1 + np.abs(autodiff).max()
    np.testing.assert_allclose(analytic, autodiff, rtol=1e-11, atol=1e-11 * scale)
    fd = central_difference_hessian(obj.grad, params)
    np.testing.assert_allclose(analytic, fd, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("model_name", ["gabor", "shallow"])
@settings(max_examples=10, deadline=None)
@given(seed=SEEDS)
def test_autodiff_hessian_equals_finite_differences_of_the_analytic_gradient(model_name, seed):
    obj, params = random_problem(model_name, seed)
    if model_name == "shallow" and not _away_from_kinks(obj, params, margin=1e-2):
        return
    hess = np.asarray(obj.hessian(params))
    fd = central_difference_hessian(obj.analytic_grad, params)
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-5 * (1 + np.abs(hess).max()))
    np.testing.assert_allclose(hess, hess.T, rtol=1e-12, atol=1e-12)


def test_relu_derivative_at_zero_is_zero_in_formula_and_autodiff():
    # theta_10 + theta_11 x = 0 exactly for x = 0.5: the convention I[z > 0] gives 0 there.
    data = ll.Dataset([0.5, 0.25], [1.0, -1.0])
    obj = ll.Objective(ll.shallow(), data)
    params = np.array([0.1, 1.5, -0.7, 2.0, -1.0, 2.0, 0.3, 1.0, -0.2, 0.9])
    grads = np.asarray(obj.analytic_example_grads(params))
    assert grads[0, 4] == 0.0 and grads[0, 5] == 0.0
    np.testing.assert_allclose(grads, np.asarray(obj.example_grads(params)), rtol=1e-13, atol=1e-13)


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS)
def test_hvp_equals_dense_hessian_times_vector(seed):
    rng = np.random.default_rng(seed)
    model = ll.mlp((1, 6, 5, 1))
    data = ll.sample_from_model(ll.gabor(), [0.3, 10.0], rng.uniform(-10, 10, 9), noise_std=0.1, seed=seed % 1000)
    obj = ll.Objective(model, data)
    params = model.init(seed % 1000)
    vector = rng.normal(size=model.n_params)
    np.testing.assert_allclose(
        np.asarray(obj.hvp(params, vector)), np.asarray(obj.hessian(params)) @ vector, rtol=1e-9, atol=1e-9
    )


def test_mlp_gradient_equals_finite_differences():
    rng = np.random.default_rng(3)
    model = ll.mlp((2, 4, 1))
    data = ll.Dataset(rng.normal(size=(6, 2)), rng.normal(size=6), "2-D inputs")
    obj = ll.Objective(model, data, reduction="mean")
    params = model.init(1) + 0.1 * rng.normal(size=model.n_params)
    np.testing.assert_allclose(
        np.asarray(obj.grad(params)), central_difference_grad(obj.value, params), rtol=1e-6, atol=1e-8
    )


def test_example_and_minibatch_gradients_sum_to_the_full_gradient():
    obj = ll.make_objective("gabor", "book:gabor")
    params = np.array([-1.5, 6.5])
    per_example = np.asarray(obj.example_grads(params))
    np.testing.assert_allclose(per_example.sum(axis=0), np.asarray(obj.grad(params)), rtol=1e-12)
    batch = np.array([3, 7, 11, 29])
    np.testing.assert_allclose(np.asarray(obj.batch_grad(params, batch)), per_example[batch].sum(axis=0), rtol=1e-12)
    mean_obj = ll.make_objective("gabor", "book:gabor", reduction="mean")
    np.testing.assert_allclose(
        np.asarray(mean_obj.batch_grad(params, batch)), per_example[batch].mean(axis=0), rtol=1e-12
    )


def test_custom_model_matches_the_builtin_it_reimplements():
    def gabor_one(params, x):
        z = params[0] + 0.06 * params[1] * x
        return jnp.sin(z) * jnp.exp(-(z**2) / 32.0)

    data = ll.load_dataset("book:gabor")
    custom = ll.Objective(ll.custom(gabor_one, 2, name="my gabor"), data)
    builtin = ll.Objective(ll.gabor(), data)
    params = np.array([0.6, -0.2])
    assert float(custom.value(params)) == pytest.approx(float(builtin.value(params)), rel=1e-14)
    np.testing.assert_allclose(np.asarray(custom.grad(params)), np.asarray(builtin.analytic_grad(params)), rtol=1e-12)


def test_float32_on_request_and_float64_by_default():
    obj64 = ll.make_objective("gabor")
    obj32 = ll.make_objective("gabor", dtype="float32")
    assert obj64.value([0.6, -0.2]).dtype == jnp.float64
    assert obj32.value([0.6, -0.2]).dtype == jnp.float32
    assert obj32.grad([0.6, -0.2]).dtype == jnp.float32
    assert float(obj32.value([0.6, -0.2])) == pytest.approx(float(obj64.value([0.6, -0.2])), rel=1e-5)


def _plain_gabor_loss(params, x, y):
    z = params[0] + 0.06 * params[1] * x
    return jnp.sum((jnp.sin(z) * jnp.exp(-(z**2) / 32.0) - y) ** 2)


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_gabor_fused_formula_derivatives_equal_plain_jax_autodiff(seed):
    # The Gabor objective differentiates through problem 6.3's formula (one pass, vectorised
    # sine); every derivative must equal plain autodiff of the textbook expression.
    import jax

    obj, params = random_problem("gabor", seed)
    p, x, y = jnp.asarray(params), obj.x, obj.y
    assert float(obj.value(p)) == pytest.approx(float(_plain_gabor_loss(p, x, y)), rel=1e-13, abs=1e-300)
    grads = jax.grad(obj.loss_on, argnums=(0, 1, 2))(p, x, y)
    plain = jax.grad(_plain_gabor_loss, argnums=(0, 1, 2))(p, x, y)
    for ours, theirs in zip(grads, plain):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-10, atol=1e-12)
    hess, plain_hess = np.asarray(obj.hessian(p)), np.asarray(jax.hessian(_plain_gabor_loss)(p, x, y))
    np.testing.assert_allclose(hess, plain_hess, rtol=1e-10, atol=1e-10 * (1 + np.abs(plain_hess).max()))
    v = np.array([0.3, -1.1])
    np.testing.assert_allclose(np.asarray(obj.hvp(p, v)), plain_hess @ v, rtol=1e-10, atol=1e-10 * (1 + np.abs(plain_hess).max()))


def test_a_users_model_named_gabor_gets_plain_autodiff_not_the_builtin_formula():
    assert "least_squares" in ll.gabor().capabilities.fused
    impostor = ll.custom(lambda params, x: params[0] * x, 2, name="gabor")
    assert not impostor.capabilities.fused and not impostor.capabilities.columns and not impostor.capabilities.grid
    obj = ll.Objective(impostor, ll.load_dataset("book:gabor"))
    x, y = obj.data.x, obj.data.y
    np.testing.assert_allclose(np.asarray(obj.grad([2.0, 0.0])), [np.sum(2 * (2.0 * x - y) * x), 0.0], rtol=1e-12)


def test_a_users_model_named_linear_gets_autodiff_not_the_linear_formula():
    # f = phi_0 + phi_1 x^2 under the name "linear": the linear model's eq. 6.7 and problem 6.2
    # Hessian would be wrong for it, so it must have neither and differentiate its own function.
    impostor = ll.custom(lambda params, x: params[0] + params[1] * x**2, 2, name="linear")
    obj = ll.Objective(impostor, ll.load_dataset("book:linear"))
    assert not obj.has_analytic_grad and not obj.has_analytic_hessian
    with pytest.raises(ll.LosslabError, match="No hand-derived gradient for model 'linear'"):
        obj.analytic_grad([0.5, 0.2])
    with pytest.raises(ll.LosslabError, match="No closed-form Hessian for model 'linear'"):
        obj.analytic_hessian([0.5, 0.2])
    x, y = obj.data.x, obj.data.y
    residual = 0.5 + 0.2 * x**2 - y
    np.testing.assert_allclose(np.asarray(obj.grad([0.5, 0.2])), [np.sum(2 * residual), np.sum(2 * residual * x**2)], rtol=1e-12)
    hess = np.array([[2 * len(x), 2 * np.sum(x**2)], [2 * np.sum(x**2), 2 * np.sum(x**4)]])
    np.testing.assert_allclose(np.asarray(obj.hessian([0.5, 0.2])), hess, rtol=1e-12)
    # the built-in keeps its formulas, and they differ from the impostor's derivatives
    builtin = ll.Objective(ll.linear(), ll.load_dataset("book:linear"))
    assert builtin.has_analytic_grad and builtin.has_analytic_hessian
    assert not np.allclose(np.asarray(builtin.analytic_grad([0.5, 0.2])), np.asarray(obj.grad([0.5, 0.2])))
    # nor does a user's model borrow a built-in's default data, grid kernel or many-run kernel
    with pytest.raises(ll.LosslabError, match="'data' parameter is required for model 'linear'"):
        ll.make_objective(impostor)
