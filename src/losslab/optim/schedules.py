r"""Learning-rate schedules: functions t -> alpha_t, usable as ``learning_rate`` of any rule.

The step decay is the schedule suggested at the end of notebook 6.3 ("decrease
the learning rate by a factor every N iterations"). Our choice, stated once:
step t (counting from 0) uses

.. math:: \alpha_t = \alpha_0 \, \text{factor}^{\lfloor t / N \rfloor}

so steps 0..N-1 use alpha_0, steps N..2N-1 use alpha_0 * factor, and so on;
this equals ``optax.exponential_decay(alpha_0, N, factor, staircase=True)``.
"""

from __future__ import annotations

import jax.numpy as jnp

from ..errors import check_int, check_number

__all__ = ["Schedule", "constant", "step_decay", "exponential_decay", "cosine_decay"]


class Schedule:
    """A named schedule: callable on the step counter t (an int or a traced int)."""

    def __init__(self, fn, label: str) -> None:
        self._fn = fn
        self.label = label

    def __call__(self, count):
        return self._fn(count)

    def __repr__(self) -> str:
        return self.label


def constant(learning_rate: float) -> Schedule:
    """alpha_t = alpha_0."""
    rate = check_number("learning_rate", learning_rate, owner="constant", gt=0)
    return Schedule(lambda count: jnp.asarray(rate, jnp.float64), f"constant({rate:g})")


def step_decay(learning_rate: float, *, factor: float, every: int) -> Schedule:
    r"""Notebook 6.3's step decay: alpha_t = alpha_0 factor^{floor(t / every)}."""
    rate = check_number("learning_rate", learning_rate, owner="step_decay", gt=0)
    factor = check_number("factor", factor, owner="step_decay", gt=0, le=1)
    every = check_int("every", every, owner="step_decay", ge=1)

    def fn(count):
        return rate * factor ** jnp.floor_divide(jnp.asarray(count), every).astype(jnp.float64)

    return Schedule(fn, f"step_decay({rate:g}, factor={factor:g}, every={every})")


def exponential_decay(learning_rate: float, *, factor: float) -> Schedule:
    r"""alpha_t = alpha_0 factor^t."""
    rate = check_number("learning_rate", learning_rate, owner="exponential_decay", gt=0)
    factor = check_number("factor", factor, owner="exponential_decay", gt=0, le=1)
    return Schedule(
        lambda count: rate * factor ** jnp.asarray(count).astype(jnp.float64),
        f"exponential_decay({rate:g}, factor={factor:g})",
    )


def cosine_decay(learning_rate: float, *, steps: int, final: float = 0.0) -> Schedule:
    r"""alpha_t = final + (alpha_0 - final) (1 + cos(pi min(t, T) / T)) / 2."""
    rate = check_number("learning_rate", learning_rate, owner="cosine_decay", gt=0)
    steps = check_int("steps", steps, owner="cosine_decay", ge=1)
    final = check_number("final", final, owner="cosine_decay", ge=0)

    def fn(count):
        t = jnp.minimum(jnp.asarray(count).astype(jnp.float64), steps)
        return final + (rate - final) * 0.5 * (1.0 + jnp.cos(jnp.pi * t / steps))

    return Schedule(fn, f"cosine_decay({rate:g}, steps={steps}, final={final:g})")
