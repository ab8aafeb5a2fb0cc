r"""The update rules of Chapter 6, exactly as the book writes them (errata applied).

Each rule is an optax ``GradientTransformation``: a pure ``init(params)`` and a
pure ``update(grads, state, params=None)`` returning the *update* (the amount
added to the parameters, so ``optax.apply_updates`` gives phi_{t+1}) and the
new state, a ``NamedTuple``. ``learning_rate`` may be a number, a traced JAX
scalar (so :func:`losslab.run.run_many` can vmap over it without recompiling)
or a schedule ``t -> alpha_t`` (:mod:`losslab.optim.schedules`).

What the gradient *is* belongs to the objective, not to the rule: the book's
SGD (6.10) sums the per-example gradients over the batch; an objective with
``reduction="mean"`` divides that sum by the batch size. Both are the same
transformation here.

Nesterov (6.12) needs the gradient at a point other than phi_t. Its state
carries ``lookahead``, the offset from phi_t to the point where the next
gradient must be taken (-alpha beta m_t); :func:`gradient_point` returns that
point, and the run engine (:mod:`losslab.run`) evaluates the gradient there.
A plain optax loop that ignores the hook would silently run a different
optimiser, which is why the hook lives in the state where it cannot be missed
by anything that calls :func:`gradient_point`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "gd",
    "sgd",
    "momentum",
    "nesterov",
    "normalized",
    "adam",
    "gradient_point",
    "CountState",
    "MomentumState",
    "NesterovState",
    "AdamState",
]


def _rate(learning_rate) -> Callable[[jax.Array], jax.Array]:
    """A schedule t -> alpha_t from a number, a traced scalar or a schedule."""
    if callable(learning_rate):
        return learning_rate
    return lambda count: learning_rate


def _tmap(fn, *trees):
    return jax.tree_util.tree_map(fn, *trees)


class _Named(optax.GradientTransformation):
    """An optax GradientTransformation that prints its rule, hyperparameters and equation."""

    def __repr__(self) -> str:
        return self.__dict__.get("label", "GradientTransformation")


def _named(init, update, label: str) -> optax.GradientTransformation:
    transformation = _Named(init, update)
    transformation.label = label
    return transformation


def _show(value) -> str:
    if callable(value):
        return repr(value)
    try:
        return f"{float(value):g}"
    except (TypeError, jax.errors.ConcretizationTypeError):
        return "<traced>"


class CountState(NamedTuple):
    """State of the stateless rules: only the step counter t (for schedules)."""

    count: jax.Array


class MomentumState(NamedTuple):
    """m_t, the book's (1 - beta)-weighted running average of gradients, and t."""

    count: jax.Array
    m: Any


class NesterovState(NamedTuple):
    """m_t, t, and ``lookahead`` = -alpha_t beta m_t: where 6.12 takes the next gradient."""

    count: jax.Array
    m: Any
    lookahead: Any


class AdamState(NamedTuple):
    """Adam's first and second moments m_t, v_t and the step counter t."""

    count: jax.Array
    m: Any
    v: Any


def gradient_point(params, state):
    """Where the next gradient must be evaluated: phi_t, or phi_t + lookahead for Nesterov (6.12).

    Searches ``state`` (and the states of an ``optax.chain``) for a ``lookahead``
    field; without one the gradient is taken at ``params`` itself.
    """
    offset = _find_lookahead(state)
    if offset is None:
        return params
    return _tmap(lambda p, o: p + o, params, offset)


def _find_lookahead(state):
    if hasattr(state, "lookahead") and hasattr(state, "_fields"):
        return state.lookahead
    if isinstance(state, (tuple, list)):
        for item in state:
            found = _find_lookahead(item)
            if found is not None:
                return found
    return None


def gd(learning_rate) -> optax.GradientTransformation:
    r"""Gradient descent with a fixed rate, eq. 6.3.

    .. math:: \phi \leftarrow \phi - \alpha \frac{\partial L}{\partial \phi}
    """
    alpha = _rate(learning_rate)

    def init(params):
        return CountState(count=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None):
        a = alpha(state.count)
        updates = _tmap(lambda g: -a * g, grads)  # phi <- phi - alpha dL/dphi
        return updates, CountState(count=state.count + 1)

    return _named(init, update, f"gd(learning_rate={_show(learning_rate)})  # eq. 6.3")


def sgd(learning_rate) -> optax.GradientTransformation:
    r"""Stochastic gradient descent, eq. 6.10.

    .. math:: \phi_{t+1} \leftarrow \phi_t - \alpha \sum_{i \in \mathcal{B}_t}
              \frac{\partial \ell_i[\phi_t]}{\partial \phi}

    The rule is that of 6.3 applied to the batch gradient. The book *sums* over
    the batch B_t; with an objective of ``reduction="mean"`` the batch gradient
    is that sum divided by |B_t|, which decouples alpha from the batch size.
    """
    alpha = _rate(learning_rate)

    def init(params):
        return CountState(count=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None):
        a = alpha(state.count)
        updates = _tmap(lambda g: -a * g, grads)  # phi_{t+1} <- phi_t - alpha sum_B dl_i/dphi
        return updates, CountState(count=state.count + 1)

    return _named(init, update, f"sgd(learning_rate={_show(learning_rate)})  # eq. 6.10")


def momentum(learning_rate, *, beta=0.9) -> optax.GradientTransformation:
    r"""Momentum as the book writes it, eq. 6.11 (with the (1 - beta) factor).

    .. math::
        m_{t+1} &\leftarrow \beta m_t + (1 - \beta) \sum_{i \in \mathcal{B}_t}
                  \frac{\partial \ell_i[\phi_t]}{\partial \phi} \\
        \phi_{t+1} &\leftarrow \phi_t - \alpha m_{t+1}

    with m_0 = 0. PyTorch's ``SGD(momentum=beta)`` and optax's
    ``sgd(momentum=beta)`` omit (1 - beta): they equal this rule only with their
    learning rate set to alpha (1 - beta) (see :mod:`losslab.optim.conventions`).
    """
    alpha = _rate(learning_rate)

    def init(params):
        return MomentumState(count=jnp.zeros([], jnp.int32), m=_tmap(jnp.zeros_like, params))

    def update(grads, state, params=None):
        a = alpha(state.count)
        m = _tmap(lambda m_t, g: beta * m_t + (1.0 - beta) * g, state.m, grads)  # m_{t+1}
        updates = _tmap(lambda m_next: -a * m_next, m)  # phi_{t+1} = phi_t - alpha m_{t+1}
        return updates, MomentumState(count=state.count + 1, m=m)

    return _named(init, update, f"momentum(learning_rate={_show(learning_rate)}, beta={_show(beta)})  # eq. 6.11")


def nesterov(learning_rate, *, beta=0.9) -> optax.GradientTransformation:
    r"""Nesterov accelerated momentum as the book writes it after the errata, eq. 6.12.

    .. math::
        m_{t+1} &\leftarrow \beta m_t + (1 - \beta) \sum_{i \in \mathcal{B}_t}
                  \frac{\partial \ell_i[\phi_t - \alpha \beta m_t]}{\partial \phi} \\
        \phi_{t+1} &\leftarrow \phi_t - \alpha m_{t+1}

    (Earlier printings took the gradient at phi_t - alpha m_t.) ``update``
    expects ``grads`` evaluated at :func:`gradient_point` (params, state), i.e.
    at phi_t + ``state.lookahead`` with lookahead = -alpha_t beta m_t.
    """
    alpha = _rate(learning_rate)

    def init(params):
        zeros = _tmap(jnp.zeros_like, params)
        return NesterovState(count=jnp.zeros([], jnp.int32), m=zeros, lookahead=zeros)

    def update(grads, state, params=None):
        a = alpha(state.count)
        m = _tmap(lambda m_t, g: beta * m_t + (1.0 - beta) * g, state.m, grads)  # m_{t+1}
        updates = _tmap(lambda m_next: -a * m_next, m)  # phi_{t+1} = phi_t - alpha m_{t+1}
        a_next = alpha(state.count + 1)
        lookahead = _tmap(lambda m_next: -a_next * beta * m_next, m)  # phi_{t+1} - alpha beta m_{t+1}
        return updates, NesterovState(count=state.count + 1, m=m, lookahead=lookahead)

    return _named(init, update, f"nesterov(learning_rate={_show(learning_rate)}, beta={_show(beta)})  # eq. 6.12")


def normalized(learning_rate, *, eps=1e-8) -> optax.GradientTransformation:
    r"""Normalised gradients, eqs. 6.13-6.14.

    .. math::
        m_{t+1} &\leftarrow \frac{\partial L[\phi_t]}{\partial \phi}, \qquad
        v_{t+1} \leftarrow \left(\frac{\partial L[\phi_t]}{\partial \phi}\right)^2 \\
        \phi_{t+1} &\leftarrow \phi_t - \alpha \frac{m_{t+1}}{\sqrt{v_{t+1}} + \epsilon}

    (square and square root element-wise): every coordinate moves by about alpha.
    """
    alpha = _rate(learning_rate)

    def init(params):
        return CountState(count=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None):
        a = alpha(state.count)
        m = grads  # m_{t+1} = g
        v = _tmap(jnp.square, grads)  # v_{t+1} = g^2
        updates = _tmap(lambda m1, v1: -a * m1 / (jnp.sqrt(v1) + eps), m, v)
        return updates, CountState(count=state.count + 1)

    return _named(init, update, f"normalized(learning_rate={_show(learning_rate)}, eps={_show(eps)})  # eqs. 6.13-6.14")


def adam(learning_rate, *, beta=0.9, gamma=0.99, eps=1e-8) -> optax.GradientTransformation:
    r"""Adam, eqs. 6.15-6.17; with a minibatch gradient it is eq. 6.18.

    .. math::
        m_{t+1} &\leftarrow \beta m_t + (1 - \beta) g_t, \qquad
        v_{t+1} \leftarrow \gamma v_t + (1 - \gamma) g_t^2 \\
        \tilde m_{t+1} &\leftarrow \frac{m_{t+1}}{1 - \beta^{t+1}}, \qquad
        \tilde v_{t+1} \leftarrow \frac{v_{t+1}}{1 - \gamma^{t+1}} \\
        \phi_{t+1} &\leftarrow \phi_t - \alpha \frac{\tilde m_{t+1}}{\sqrt{\tilde v_{t+1}} + \epsilon}

    with m_0 = v_0 = 0. For minibatch Adam (6.18, errata) g_t is the
    batch-summed gradient and v takes the square of that sum. This is exactly
    ``optax.adam(alpha, b1=beta, b2=gamma, eps=eps, eps_root=0)``: epsilon is
    added after the square root of the bias-corrected v. Defaults follow
    notebook 6.5 (gamma = 0.99), not PyTorch (0.999).
    """
    alpha = _rate(learning_rate)

    def init(params):
        zeros = _tmap(jnp.zeros_like, params)
        return AdamState(count=jnp.zeros([], jnp.int32), m=zeros, v=zeros)

    def update(grads, state, params=None):
        a = alpha(state.count)
        t1 = state.count + 1
        m = _tmap(lambda m_t, g: beta * m_t + (1.0 - beta) * g, state.m, grads)  # 6.15
        v = _tmap(lambda v_t, g: gamma * v_t + (1.0 - gamma) * g**2, state.v, grads)  # 6.15
        m_tilde = _tmap(lambda m1: m1 / (1.0 - beta**t1), m)  # 6.16
        v_tilde = _tmap(lambda v1: v1 / (1.0 - gamma**t1), v)  # 6.16
        updates = _tmap(lambda mt, vt: -a * (mt / (jnp.sqrt(vt) + eps)), m_tilde, v_tilde)  # 6.17
        return updates, AdamState(count=t1, m=m, v=v)

    return _named(
        init, update,
        f"adam(learning_rate={_show(learning_rate)}, beta={_show(beta)}, gamma={_show(gamma)}, eps={_show(eps)})  # eqs. 6.15-6.18",
    )
