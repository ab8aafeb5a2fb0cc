"""The Hessian spectrum of a small MLP classifier on scikit-learn's digits (1,797 8x8 images).

    python examples/digits_spectrum.py            # prints the spectrum, writes digits_density.png

Train a 64-32-10 tanh MLP for a few hundred Adam steps with optax, then ask losslab for the top
eigenvalues, the trace and the eigenvalue density of the Hessian of the mean cross-entropy over all images, with the
data given as batches of 256 images (Hessian-vector products are added over the batches).
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

from losslab.curvature import hessian_spectrum

# this model's parameters and data are made here, by JAX: ask for float64 (losslab leaves the switch alone)
jax.config.update("jax_enable_x64", True)


def init_params(key, sizes=(64, 32, 10)):
    keys = jax.random.split(key, len(sizes) - 1)
    return [{"w": jax.random.normal(k, (m, n)) / np.sqrt(m), "b": jnp.zeros(n)}
            for k, m, n in zip(keys, sizes[:-1], sizes[1:])]


N = 1797  # images: the loss is the mean over all of them, so each batch adds its sum / N


def loss_fn(params, batch):
    """The batch's share of the mean softmax cross-entropy of the MLP (batch = (x, labels))."""
    x, labels = batch
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    logits = x @ params[-1]["w"] + params[-1]["b"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).sum() / N


def train(params, x, y, steps=300):
    opt = optax.adam(1e-2)

    @jax.jit
    def step(state, _):
        p, s = state
        updates, s = opt.update(jax.grad(loss_fn)(p, (x, y)), s, p)
        return (optax.apply_updates(p, updates), s), None

    return jax.lax.scan(step, (params, opt.init(params)), None, length=steps)[0][0]


def main(figure: str | None = "digits_density.png"):
    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    assert len(x) == N
    params = train(init_params(jax.random.PRNGKey(0)), x, y)
    batches = [(x[i : i + 256], y[i : i + 256]) for i in range(0, len(x), 256)]

    # the few lines this example is about
    spectrum = hessian_spectrum(loss_fn, params, batches, top_k=5, trace_samples=30, density=True)
    print(spectrum)

    if figure:
        from losslab.plots.landscape import plot_spectral_density

        plot_spectral_density(spectrum.density).savefig(figure, dpi=120)
        print(f"density figure: {figure}")
    return spectrum, params, batches


if __name__ == "__main__":
    main(*(sys.argv[1:2] or []))
