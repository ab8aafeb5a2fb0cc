r"""The PyTorch and optax conventions, beside the book's rules and named as such.

These are *different optimisers* from the book's 6.11/6.12/6.15-6.17 unless the
hyperparameters are mapped:

* heavy-ball momentum (optax ``sgd(momentum=beta)``, PyTorch ``SGD(momentum=beta)``)
  has no (1 - beta) factor: t <- beta t + g, phi <- phi - lr t. With t_0 = 0,
  m_t = (1 - beta) t_t exactly, so it equals the book's momentum (6.11) when
  lr = alpha (1 - beta).
* PyTorch starts its momentum buffer at g itself (not at beta * 0 + (1 - d) g).
  With ``dampening=0`` that is the same as a zero buffer; with ``dampening=beta``
  the later updates look like the book's 6.11 but the first step is larger by
  1 / (1 - beta), and the difference decays like beta^t but never vanishes.
* PyTorch Adam/AdamW default to gamma (beta2) = 0.999, eps = 1e-8, and compute
  the denominator as sqrt(v) / sqrt(1 - gamma^t) + eps; the book (notebook 6.5)
  uses gamma = 0.99. AdamW decays the weights by (1 - lr * weight_decay) first.

Each function mirrors its library's arithmetic order so tests can compare to
``torch.optim`` at float64 round-off.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from .book import AdamState, MomentumState, _named, _rate, _show, _tmap

__all__ = [
    "heavy_ball",
    "torch_sgd",
    "torch_nesterov",
    "torch_adam",
    "torch_adamw",
    "optax_sgd",
    "optax_nesterov",
    "optax_adam",
    "optax_adamw",
]


def heavy_ball(learning_rate, *, beta=0.9) -> optax.GradientTransformation:
    r"""Heavy-ball momentum without the (1 - beta) factor (optax/PyTorch convention).

    .. math:: t_{k+1} \leftarrow \beta t_k + g_k, \qquad \phi_{k+1} \leftarrow \phi_k - \eta\, t_{k+1}, \quad t_0 = 0

    Equal to the book's momentum (6.11) with eta = alpha (1 - beta).
    """
    lr = _rate(learning_rate)

    def init(params):
        return MomentumState(count=jnp.zeros([], jnp.int32), m=_tmap(jnp.zeros_like, params))

    def update(grads, state, params=None):
        eta = lr(state.count)
        t = _tmap(lambda t_k, g: beta * t_k + g, state.m, grads)
        return _tmap(lambda tk: -eta * tk, t), MomentumState(count=state.count + 1, m=t)

    return _named(init, update, f"heavy_ball(learning_rate={_show(learning_rate)}, beta={_show(beta)})  # optax/PyTorch momentum, no (1 - beta)")


def _torch_sgd(learning_rate, beta, dampening, weight_decay, nesterov: bool, label: str):
    lr = _rate(learning_rate)

    def init(params):
        return MomentumState(count=jnp.zeros([], jnp.int32), m=_tmap(jnp.zeros_like, params))

    def update(grads, state, params=None):
        eta = lr(state.count)
        first = state.count == 0
        if params is not None:
            grads = _tmap(lambda g, p: g + weight_decay * p, grads, params)
        # PyTorch: buf = clone(g) on the first step, then buf = beta buf + (1 - dampening) g
        buf = _tmap(lambda b, g: jnp.where(first, g, beta * b + (1.0 - dampening) * g), state.m, grads)
        step = _tmap(lambda g, b: g + beta * b, grads, buf) if nesterov else buf
        return _tmap(lambda s: -eta * s, step), MomentumState(count=state.count + 1, m=buf)

    return _named(init, update, label)


def torch_sgd(learning_rate, *, beta=0.0, dampening=0.0, weight_decay=0.0) -> optax.GradientTransformation:
    r"""``torch.optim.SGD(lr, momentum=beta, dampening, weight_decay)``, first buffer = g.

    .. math::
        g &\leftarrow g + \lambda \phi, \qquad
        b_1 = g_0, \quad b_{k+1} \leftarrow \beta b_k + (1 - d) g_k \\
        \phi &\leftarrow \phi - \eta\, b_{k+1}
    """
    label = (
        f"torch_sgd(learning_rate={_show(learning_rate)}, beta={_show(beta)}, dampening={_show(dampening)}, "
        f"weight_decay={_show(weight_decay)})  # PyTorch SGD"
    )
    return _torch_sgd(learning_rate, beta, dampening, weight_decay, False, label)


def torch_nesterov(learning_rate, *, beta=0.9, weight_decay=0.0) -> optax.GradientTransformation:
    r"""``torch.optim.SGD(lr, momentum=beta, nesterov=True)``: the step is g + beta b.

    .. math:: b_{k+1} \leftarrow \beta b_k + g_k \;(b_1 = g_0), \qquad \phi \leftarrow \phi - \eta (g_k + \beta b_{k+1})

    A change of variables of Nesterov's method with the gradient at the current
    point; not the book's 6.12 (which has (1 - beta) and a look-ahead gradient).
    """
    label = f"torch_nesterov(learning_rate={_show(learning_rate)}, beta={_show(beta)}, weight_decay={_show(weight_decay)})  # PyTorch SGD(nesterov=True)"
    return _torch_sgd(learning_rate, beta, 0.0, weight_decay, True, label)


def _lerp(start, end, weight):
    # torch.lerp's two-sided formula, so the rounding matches torch exactly
    diff = end - start
    return jnp.where(weight < 0.5, start + weight * diff, end - diff * (1.0 - weight))


def _torch_adam(learning_rate, beta, gamma, eps, weight_decay, decoupled: bool, label: str):
    lr = _rate(learning_rate)

    def init(params):
        zeros = _tmap(jnp.zeros_like, params)
        return AdamState(count=jnp.zeros([], jnp.int32), m=zeros, v=zeros)

    def update(grads, state, params=None):
        eta = lr(state.count)
        step = state.count + 1
        shrink = None
        if params is not None and decoupled:
            # AdamW: param.mul_(1 - lr * weight_decay) before the Adam step
            shrink = _tmap(lambda p: p * (1.0 - eta * weight_decay) - p, params)
        elif params is not None:
            grads = _tmap(lambda g, p: g + weight_decay * p, grads, params)
        m = _tmap(lambda m_k, g: _lerp(m_k, g, 1.0 - beta), state.m, grads)
        v = _tmap(lambda v_k, g: v_k * gamma + (1.0 - gamma) * (g * g), state.v, grads)
        bias1 = 1.0 - beta**step
        bias2_sqrt = jnp.sqrt(1.0 - gamma**step)
        step_size = eta / bias1
        updates = _tmap(lambda mk, vk: -step_size * (mk / (jnp.sqrt(vk) / bias2_sqrt + eps)), m, v)
        if shrink is not None:
            updates = _tmap(lambda u, s: u + s, updates, shrink)
        return updates, AdamState(count=step, m=m, v=v)

    return _named(init, update, label)


def torch_adam(learning_rate=1e-3, *, beta=0.9, gamma=0.999, eps=1e-8, weight_decay=0.0) -> optax.GradientTransformation:
    r"""``torch.optim.Adam(lr, betas=(beta, gamma), eps=1e-8, weight_decay)`` (L2 added to g).

    .. math:: \phi \leftarrow \phi - \frac{\eta}{1 - \beta^k}\,
              \frac{m_k}{\sqrt{v_k} / \sqrt{1 - \gamma^k} + \epsilon}
    """
    label = f"torch_adam(learning_rate={_show(learning_rate)}, beta={_show(beta)}, gamma={_show(gamma)}, eps={_show(eps)}, weight_decay={_show(weight_decay)})  # PyTorch Adam"
    return _torch_adam(learning_rate, beta, gamma, eps, weight_decay, False, label)


def torch_adamw(learning_rate=1e-3, *, beta=0.9, gamma=0.999, eps=1e-8, weight_decay=0.01) -> optax.GradientTransformation:
    r"""``torch.optim.AdamW``: phi <- phi (1 - eta lambda), then the Adam step (default lambda = 0.01)."""
    label = f"torch_adamw(learning_rate={_show(learning_rate)}, beta={_show(beta)}, gamma={_show(gamma)}, eps={_show(eps)}, weight_decay={_show(weight_decay)})  # PyTorch AdamW"
    return _torch_adam(learning_rate, beta, gamma, eps, weight_decay, True, label)


def optax_sgd(learning_rate, *, beta=0.0) -> optax.GradientTransformation:
    """``optax.sgd(learning_rate, momentum=beta)``: heavy-ball momentum, no (1 - beta), zero initial trace."""
    return optax.sgd(learning_rate, momentum=beta)


def optax_nesterov(learning_rate, *, beta=0.9) -> optax.GradientTransformation:
    """``optax.sgd(learning_rate, momentum=beta, nesterov=True)``."""
    return optax.sgd(learning_rate, momentum=beta, nesterov=True)


def optax_adam(learning_rate=1e-3, *, beta=0.9, gamma=0.999, eps=1e-8) -> optax.GradientTransformation:
    """``optax.adam(learning_rate, b1=beta, b2=gamma, eps=eps)`` with optax's defaults."""
    return optax.adam(learning_rate, b1=beta, b2=gamma, eps=eps)


def optax_adamw(learning_rate=1e-3, *, beta=0.9, gamma=0.999, eps=1e-8, weight_decay=1e-4) -> optax.GradientTransformation:
    """``optax.adamw(learning_rate, b1=beta, b2=gamma, eps=eps, weight_decay=weight_decay)`` (optax default 1e-4)."""
    return optax.adamw(learning_rate, b1=beta, b2=gamma, eps=eps, weight_decay=weight_decay)
