"""The PyTorch conventions against torch.optim itself (float64, CPU), and where the book differs.

torch is an optional reference (the 'torch' extra): without it these tests skip.
"""

from __future__ import annotations

import numpy as np
import pytest

from losslab.optim import book, conventions

from _optim_helpers import optax_trajectory, random_quadratic

torch = pytest.importorskip("torch")

STEPS = 120


def torch_trajectory(make_opt, grad, p0, steps=STEPS) -> np.ndarray:
    """phi_0..phi_steps of a torch optimiser fed the same gradient function (float64)."""
    p = torch.tensor(np.asarray(p0, dtype=np.float64), requires_grad=True)
    opt = make_opt([p])
    out = [p.detach().numpy().copy()]
    for _ in range(steps):
        p.grad = torch.from_numpy(np.asarray(grad(p.detach().numpy())).copy())
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(beta=0.9),
        dict(beta=0.6, dampening=0.6),
        dict(beta=0.5, weight_decay=0.1),
        dict(beta=0.0),
    ],
)
def test_torch_sgd_equals_torch(kwargs):
    grad, p0 = random_quadratic(0)
    lr = 0.2
    ours = optax_trajectory(conventions.torch_sgd(lr, **kwargs), grad, p0, STEPS)
    ref = torch_trajectory(
        lambda ps: torch.optim.SGD(ps, lr=lr, momentum=kwargs["beta"], dampening=kwargs.get("dampening", 0.0),
                                   weight_decay=kwargs.get("weight_decay", 0.0)),
        grad, p0,
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


def test_torch_nesterov_equals_torch():
    grad, p0 = random_quadratic(1)
    ours = optax_trajectory(conventions.torch_nesterov(0.1, beta=0.8), grad, p0, STEPS)
    ref = torch_trajectory(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, nesterov=True), grad, p0)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_torch_adam_equals_torch(weight_decay):
    grad, p0 = random_quadratic(2)
    ours = optax_trajectory(conventions.torch_adam(0.01, weight_decay=weight_decay), grad, p0, STEPS)
    ref = torch_trajectory(lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=weight_decay), grad, p0)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


def test_torch_adamw_equals_torch_with_default_decay():
    grad, p0 = random_quadratic(3)
    ours = optax_trajectory(conventions.torch_adamw(0.01), grad, p0, STEPS)
    ref = torch_trajectory(lambda ps: torch.optim.AdamW(ps, lr=0.01), grad, p0)  # weight_decay=0.01
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


def test_torch_defaults_are_the_ones_we_name():
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    adam = torch.optim.Adam([p]).defaults
    adamw = torch.optim.AdamW([p]).defaults
    from losslab.optim import hyperparameters

    assert (adam["betas"], adam["eps"]) == ((0.9, 0.999), 1e-8)
    assert hyperparameters("torch_adam") == {"beta": 0.9, "gamma": 0.999, "eps": 1e-8, "weight_decay": 0.0}
    assert adamw["weight_decay"] == hyperparameters("torch_adamw")["weight_decay"] == 0.01


@pytest.mark.parametrize("beta", [0.9, 0.6])
def test_book_momentum_equals_torch_sgd_with_rate_times_one_minus_beta(beta):
    grad, p0 = random_quadratic(4)
    alpha = 0.5
    ours = optax_trajectory(book.momentum(alpha, beta=beta), grad, p0, STEPS)
    ref = torch_trajectory(lambda ps: torch.optim.SGD(ps, lr=alpha * (1 - beta), momentum=beta), grad, p0)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("beta", [0.9, 0.6])
def test_where_the_identity_fails_pytorch_first_buffer_is_g(beta):
    """SGD(momentum=beta, dampening=beta) *looks* like 6.11 but starts its buffer at g, not (1-beta) g.

    Both buffers then follow x <- beta x + (1 - beta) g, so they differ by beta^t g_0 for ever: step 1
    is 1/(1-beta) times the book's, and no rate makes the two agree (matching step 1 with
    lr = alpha (1 - beta) breaks every later step).
    """
    grad, p0 = random_quadratic(5)
    alpha = 0.5
    ours = optax_trajectory(book.momentum(alpha, beta=beta), grad, p0, STEPS)
    damped = torch_trajectory(lambda ps: torch.optim.SGD(ps, lr=alpha, momentum=beta, dampening=beta), grad, p0)
    g0 = np.asarray(grad(p0))
    np.testing.assert_allclose(ours[1] - ours[0], -alpha * (1 - beta) * g0, rtol=1e-13)
    np.testing.assert_allclose(damped[1] - damped[0], -alpha * g0, rtol=1e-13)  # 1/(1-beta) larger
    assert np.max(np.abs(ours - damped)) > 1e-3
    matched_first = torch_trajectory(
        lambda ps: torch.optim.SGD(ps, lr=alpha * (1 - beta), momentum=beta, dampening=beta), grad, p0
    )
    np.testing.assert_allclose(matched_first[1], ours[1], rtol=1e-13)
    assert np.max(np.abs(matched_first[2:] - ours[2:])) > 1e-3
    # our named convention reproduces torch exactly, first-step buffer included
    np.testing.assert_allclose(
        optax_trajectory(conventions.torch_sgd(alpha, beta=beta, dampening=beta), grad, p0, STEPS), damped,
        rtol=1e-12, atol=1e-14,
    )
