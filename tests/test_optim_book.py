"""The book's rules (eqs. 6.3-6.18): each against the equation written out here, and against optax."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from losslab.optim import book, make_optimizer
from losslab.run import run
from losslab.sampler import Sampler

from _optim_helpers import open_loop_updates, optax_trajectory, random_objective, random_quadratic

STEPS = 120


def _direct(rule, grad, p0, steps):
    """Run ``rule(phi, state, g) -> (phi, state)`` with g = grad(phi)."""
    phi, state, out = np.array(p0, dtype=np.float64), None, []
    out.append(phi.copy())
    for t in range(steps):
        phi, state = rule(t, phi, state, np.asarray(grad(jnp.asarray(phi))))
        out.append(phi.copy())
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_gd_is_eq_6_3(seed):
    grad, p0 = random_quadratic(seed)
    alpha = 0.3

    def rule(t, phi, state, g):
        return phi - alpha * g, None

    ours = optax_trajectory(book.gd(alpha), grad, p0, STEPS)
    np.testing.assert_allclose(ours, _direct(rule, grad, p0, STEPS), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1])
def test_momentum_is_eq_6_11(seed):
    grad, p0 = random_quadratic(seed)
    alpha, beta = 0.4, 0.7

    def rule(t, phi, m, g):
        m = np.zeros_like(phi) if m is None else m
        m = beta * m + (1 - beta) * g
        return phi - alpha * m, m

    ours = optax_trajectory(book.momentum(alpha, beta=beta), grad, p0, STEPS)
    np.testing.assert_allclose(ours, _direct(rule, grad, p0, STEPS), rtol=1e-13, atol=1e-15)


def test_normalized_is_eqs_6_13_6_14():
    grad, p0 = random_quadratic(2)
    alpha, eps = 0.01, 1e-8

    def rule(t, phi, state, g):
        m, v = g, g**2
        return phi - alpha * m / (np.sqrt(v) + eps), None

    ours = optax_trajectory(book.normalized(alpha, eps=eps), grad, p0, STEPS)
    np.testing.assert_allclose(ours, _direct(rule, grad, p0, STEPS), rtol=1e-13, atol=1e-15)
    # every coordinate moves by (almost exactly) alpha on every step
    np.testing.assert_allclose(np.abs(np.diff(ours[:5], axis=0)), alpha, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 3])
def test_adam_is_eqs_6_15_6_17(seed):
    grad, p0 = random_quadratic(seed)
    alpha, beta, gamma, eps = 0.05, 0.9, 0.99, 1e-8

    def rule(t, phi, state, g):
        m, v = state if state is not None else (np.zeros_like(phi), np.zeros_like(phi))
        m = beta * m + (1 - beta) * g  # 6.15
        v = gamma * v + (1 - gamma) * g**2
        m_tilde = m / (1 - beta ** (t + 1))  # 6.16
        v_tilde = v / (1 - gamma ** (t + 1))
        return phi - alpha * m_tilde / (np.sqrt(v_tilde) + eps), (m, v)  # 6.17

    ours = optax_trajectory(book.adam(alpha, beta=beta, gamma=gamma, eps=eps), grad, p0, STEPS)
    np.testing.assert_allclose(ours, _direct(rule, grad, p0, STEPS), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed,beta,gamma,eps", [(0, 0.9, 0.99, 1e-8), (1, 0.8, 0.999, 1e-3)])
def test_book_adam_equals_optax_adam(seed, beta, gamma, eps):
    """The exact mapping: optax.adam(alpha, b1=beta, b2=gamma, eps=eps, eps_root=0).

    Agreement is to round-off, not bitwise: XLA may fuse a multiply-add differently in
    the two compiled graphs (1 ulp). With eps = 0 Adam is sign-like near the minimum and
    amplifies such ulps to ~1e-9 within 100 steps, so closed-loop cases keep eps > 0 and
    the open-loop test below covers the rest.
    """
    grad, p0 = random_quadratic(seed)
    ours = optax_trajectory(book.adam(0.02, beta=beta, gamma=gamma, eps=eps), grad, p0, STEPS)
    ref = optax_trajectory(optax.adam(0.02, b1=beta, b2=gamma, eps=eps, eps_root=0.0), grad, p0, STEPS)
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=1e-15)
    # eps inside the square root (eps_root) is a different optimiser
    other = optax_trajectory(optax.adam(0.02, b1=beta, b2=gamma, eps=0.0, eps_root=1e-2), grad, p0, STEPS)
    assert np.max(np.abs(ours - other)) > 1e-6


@pytest.mark.parametrize("beta,gamma,eps", [(0.5, 0.9, 0.0), (0.9, 0.999, 1e-8), (0.0, 0.0, 1e-3)])
def test_book_adam_equals_optax_adam_on_a_fixed_gradient_sequence(beta, gamma, eps):
    grads = np.random.default_rng(4).normal(size=(150, 6)) * np.logspace(-3, 2, 6)
    ours = open_loop_updates(book.adam(0.03, beta=beta, gamma=gamma, eps=eps), grads, np.zeros(6))
    ref = open_loop_updates(optax.adam(0.03, b1=beta, b2=gamma, eps=eps, eps_root=0.0), grads, np.zeros(6))
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=1e-17)


@pytest.mark.parametrize("seed,beta", [(0, 0.9), (1, 0.6), (2, 0.0)])
def test_book_momentum_equals_optax_sgd_with_rescaled_rate(seed, beta):
    """m_t = (1 - beta) t_t exactly, so 6.11 with alpha == heavy ball with alpha (1 - beta)."""
    grad, p0 = random_quadratic(seed)
    alpha = 0.5
    ours = optax_trajectory(book.momentum(alpha, beta=beta), grad, p0, STEPS)
    ref = optax_trajectory(optax.sgd(alpha * (1 - beta), momentum=beta), grad, p0, STEPS)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)
    if beta > 0:  # at the same rate they are different optimisers
        same_rate = optax_trajectory(optax.sgd(alpha, momentum=beta), grad, p0, STEPS)
        assert np.max(np.abs(ours - same_rate)) > 1e-3


def _nesterov_direct(obj, p0, alpha, beta, steps, batches):
    """Eq. 6.12 written out: m <- beta m + (1-beta) sum_B dl_i[phi - alpha beta m]; phi <- phi - alpha m."""
    phi, m = np.array(p0, dtype=np.float64), np.zeros(len(p0))
    out = [phi.copy()]
    for t in range(steps):
        g = np.asarray(obj.batch_grad(phi - alpha * beta * m, batches[t]))
        m = beta * m + (1 - beta) * g
        phi = phi - alpha * m
        out.append(phi.copy())
    return np.array(out)


@pytest.mark.parametrize("batch_size,reduction", [(None, "sum"), (6, "sum"), (6, "mean")])
def test_nesterov_run_equals_eq_6_12(batch_size, reduction):
    obj = random_objective(5, n=20, reduction=reduction)
    p0, alpha, beta, steps = np.array([0.3, 9.0]), 0.02 if reduction == "sum" else 0.2, 0.8, 120
    sampler = Sampler(obj.n_examples, batch_size, seed=3)
    idx, mask = sampler.batches(steps)
    batches = [row[keep] for row, keep in zip(idx, mask)]  # 20 = 6+6+6+2: short last batches
    ref = _nesterov_direct(obj, p0, alpha, beta, steps, batches)
    result = run(obj, "nesterov", p0, steps=steps, batch_size=batch_size, seed=3, learning_rate=alpha, beta=beta)
    assert result.steps == steps and not result.diverged
    np.testing.assert_allclose(result.params, ref, rtol=1e-11, atol=1e-13)
    # the look-ahead matters: momentum (gradient at phi_t) and the pre-errata point differ
    plain = run(obj, "momentum", p0, steps=steps, batch_size=batch_size, seed=3, learning_rate=alpha, beta=beta)
    assert np.max(np.abs(plain.params - ref)) > 1e-6


def test_nesterov_state_carries_the_look_ahead_offset():
    tx = book.nesterov(0.1, beta=0.5)
    params = jnp.array([1.0, 2.0])
    state = tx.init(params)
    np.testing.assert_array_equal(book.gradient_point(params, state), params)  # m_0 = 0
    _, state = tx.update(jnp.array([2.0, -4.0]), state)
    # m_1 = 0.5 g = (1, -2); point = phi - alpha beta m_1
    np.testing.assert_allclose(book.gradient_point(params, state), params - 0.1 * 0.5 * np.array([1.0, -2.0]), rtol=1e-15)
    chained = optax.chain(tx, optax.identity())
    np.testing.assert_allclose(book.gradient_point(params, chained.init(params)), params)


def test_sgd_sum_and_mean_differ_by_the_batch_size():
    """6.10 sums over B; a mean objective with alpha * |B| takes the same steps (B divides I)."""
    total = random_objective(7, n=20, reduction="sum")
    mean = random_objective(7, n=20, reduction="mean")
    p0 = [0.1, 8.0]
    a = run(total, "sgd", p0, steps=100, batch_size=5, seed=2, learning_rate=0.01)
    b = run(mean, "sgd", p0, steps=100, batch_size=5, seed=2, learning_rate=0.05)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(a.loss, 20 * b.loss, rtol=1e-11)
    # and the first SGD step is exactly alpha times the summed batch gradient
    idx, _ = Sampler(20, 5, seed=2).batches(1)
    g = np.asarray(total.example_grads(jnp.asarray(p0)))[idx[0]].sum(axis=0)
    np.testing.assert_allclose(a.params[1], np.asarray(p0) - 0.01 * g, rtol=1e-13)


def test_make_optimizer_builds_the_book_rules():
    tx = make_optimizer("momentum", learning_rate=0.6, beta=0.6)
    assert repr(tx) == "momentum(learning_rate=0.6, beta=0.6)  # eq. 6.11"
    assert isinstance(tx, optax.GradientTransformation)
    assert "6.12" in repr(make_optimizer("nesterov", learning_rate=0.1))
    assert "6.15" in repr(make_optimizer("adam", learning_rate=0.1))


@pytest.mark.parametrize("beta", [0.6, 0.9])
def test_book_nesterov_look_ahead_points_are_optax_nesterov_iterates(beta):
    """Change of variables: psi_t = phi_t - alpha beta m_t obeys optax.sgd(alpha (1 - beta), beta, nesterov=True).

    With m_t = (phi_{t-1} - phi_t) / alpha, psi_t = phi_t + beta (phi_t - phi_{t-1}) and psi_0 = phi_0.
    """
    obj = random_objective(9, n=15)
    alpha, p0 = 0.01, np.array([0.5, 7.0])
    book_run = run(obj, "nesterov", p0, steps=120, learning_rate=alpha, beta=beta)
    phi = book_run.params
    psi = np.vstack([phi[:1], phi[1:] + beta * (phi[1:] - phi[:-1])])
    grad = jax.grad(lambda p: obj.loss_on(p, obj.x, obj.y))
    ref = optax_trajectory(optax.sgd(alpha * (1 - beta), momentum=beta, nesterov=True), grad, p0, 120)
    np.testing.assert_allclose(psi, ref, rtol=1e-10, atol=1e-12)


def test_minibatch_adam_is_eq_6_18():
    """v takes the square of the batch-summed gradient (errata), not the sum of per-example squares."""
    obj = random_objective(13, n=20)
    p0, alpha, beta, gamma, eps, steps = np.array([0.2, 8.0]), 0.05, 0.9, 0.99, 1e-8, 100
    idx, mask = Sampler(20, 6, seed=5).batches(steps)
    phi, m, v = p0.copy(), np.zeros(2), np.zeros(2)
    ref, wrong_v = [phi.copy()], None
    for t in range(steps):
        per_example = np.asarray(obj.example_grads(phi))[idx[t][mask[t]]]
        g = per_example.sum(axis=0)  # sum_{i in B_t} dl_i/dphi
        if t == 0:
            wrong_v = (1 - gamma) * (per_example**2).sum(axis=0)
        m = beta * m + (1 - beta) * g
        v = gamma * v + (1 - gamma) * g**2
        phi = phi - alpha * (m / (1 - beta ** (t + 1))) / (np.sqrt(v / (1 - gamma ** (t + 1))) + eps)
        ref.append(phi.copy())
    result = run(obj, "adam", p0, steps=steps, batch_size=6, seed=5, learning_rate=alpha, beta=beta, gamma=gamma, eps=eps)
    np.testing.assert_allclose(result.params, np.array(ref), rtol=1e-10, atol=1e-12)
    g0 = np.asarray(obj.example_grads(p0))[idx[0][mask[0]]].sum(axis=0)
    assert not np.allclose(wrong_v, (1 - gamma) * g0**2)  # the pre-errata reading is a different rule
