"""Shared helpers of the optimiser tests: random problems and plain optax loops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from losslab import Dataset, make_objective


def random_objective(seed: int, n: int = 20, model: str = "gabor", reduction: str = "sum"):
    """A Gabor (or linear) least-squares problem on random data."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-12.0, 12.0, size=n)
    y = rng.normal(scale=0.5, size=n)
    return make_objective(model, Dataset(x, y, f"random{seed}"), reduction=reduction)


def random_quadratic(seed: int, p: int = 5):
    """grad of 0.5 |A phi - b|^2 (a well-conditioned random least-squares problem) and a start."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(2 * p, p)) / np.sqrt(2 * p)
    b = rng.normal(size=2 * p)
    A_j, b_j = jnp.asarray(A), jnp.asarray(b)

    @jax.jit
    def grad(phi):
        return A_j.T @ (A_j @ phi - b_j)

    return grad, rng.normal(size=p)


def optax_trajectory(tx, grad_fn, p0, steps: int, *, pass_params: bool = True) -> np.ndarray:
    """phi_0..phi_steps of a plain optax loop (gradient at the current point)."""

    @jax.jit
    def step(params, state):
        g = grad_fn(params)
        updates, state = tx.update(g, state, params if pass_params else None)
        return optax.apply_updates(params, updates), state

    params = jnp.asarray(p0, jnp.float64)
    state = tx.init(params)
    out = [np.asarray(params)]
    for _ in range(steps):
        params, state = step(params, state)
        out.append(np.asarray(params))
    return np.array(out)


def open_loop_updates(tx, grads, p0) -> np.ndarray:
    """The updates a transformation makes when fed a fixed gradient sequence (no feedback, no chaos)."""

    def body(carry, g):
        params, state = carry
        updates, state = tx.update(g, state, params)
        return (optax.apply_updates(params, updates), state), updates

    params = jnp.asarray(p0, jnp.float64)
    _, updates = jax.lax.scan(body, (params, tx.init(params)), jnp.asarray(grads))
    return np.asarray(updates)
