"""Binary cross-entropy from logits: exact where it can be, finite where naive code is not."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import losslab as ll
from losslab.losses import binary_cross_entropy


def test_bce_matches_the_textbook_formula_for_moderate_logits():
    z = np.linspace(-8, 8, 33)
    for label in (0.0, 1.0):
        s = 1 / (1 + np.exp(-z))
        textbook = -(label * np.log(s) + (1 - label) * np.log(1 - s))
        np.testing.assert_allclose(np.asarray(binary_cross_entropy(z, label)), textbook, rtol=1e-12)


def test_bce_is_finite_for_logits_of_plus_minus_1000():
    z = jnp.array([-1000.0, 1000.0, -1000.0, 1000.0])
    y = jnp.array([0.0, 1.0, 1.0, 0.0])
    loss = np.asarray(binary_cross_entropy(z, y))
    # confident and right: 0; confident and wrong: |z| exactly (log(1 + e^1000) = 1000 + log(1 + e^-1000))
    np.testing.assert_allclose(loss, [0.0, 0.0, 1000.0, 1000.0], atol=1e-300)
    grad = np.asarray(jax.grad(lambda zz: jnp.sum(binary_cross_entropy(zz, y)))(z))
    np.testing.assert_allclose(grad, [0.0, 0.0, -1.0, 1.0], atol=1e-300)


def test_logistic_objective_stays_finite_far_from_the_data():
    obj = ll.make_objective("logistic", "logistic:3")
    value, grad = obj.value_and_grad([0.0, 500.0])
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))
    torch = pytest.importorskip("torch")
    reference = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(500.0 * obj.data.x, dtype=torch.float64), torch.tensor(obj.data.y), reduction="sum"
    )
    assert float(value) == pytest.approx(float(reference), rel=1e-12)
