"""Convexity certificates (problems 6.2, 6.4) and the unrolled momentum recurrence (problem 6.10)."""

import numpy as np
import sympy as sp

from losslab.symbolic.certificates import (
    linear_least_squares_certificate,
    linearize_sums,
    logistic_certificate,
    momentum_certificate,
    momentum_unrolled,
    unrolled_matches_recurrence,
    written_out,
)
from losslab.symbolic.latex import indexed_base, symbol

x = indexed_base("x")
i, j, I = symbol("i"), symbol("j"), symbol("I")


def test_linear_certificate_holds_for_symbolic_I():
    cert = linear_least_squares_certificate()
    assert cert.holds and len(cert.steps) == 5
    assert all(ok for _, ok in cert.steps)


def test_linearize_sums_proves_the_determinant_identity_and_rejects_a_wrong_one():
    det = 4 * (I * sp.Sum(x[i] ** 2, (i, 1, I)) - sp.Sum(x[i], (i, 1, I)) ** 2)
    double = 2 * sp.Sum(sp.Sum((x[i] - x[j]) ** 2, (j, 1, I)), (i, 1, I))
    assert sp.expand(linearize_sums(det) - linearize_sums(double)) == 0
    wrong = 2 * sp.Sum(sp.Sum((x[i] + x[j]) ** 2, (j, 1, I)), (i, 1, I))
    assert sp.expand(linearize_sums(det) - linearize_sums(wrong)) != 0
    # and for concrete I the identity is plain algebra: an independent check
    values = {I: 4}
    lhs = det.xreplace(values).doit()
    rhs = double.xreplace(values).doit()
    assert sp.expand(lhs - rhs) == 0


def test_linear_determinant_matches_numpy_on_random_data():
    rng = np.random.default_rng(1)
    xs = rng.normal(size=7)
    H = np.array([[2 * len(xs), 2 * xs.sum()], [2 * xs.sum(), 2 * (xs**2).sum()]])
    double = 2 * sum((a - b) ** 2 for a in xs for b in xs)
    assert np.linalg.det(H) == np_approx(double)
    assert np.linalg.eigvalsh(H).min() > 0


def np_approx(v):
    import pytest

    return pytest.approx(v, rel=1e-12)


def test_logistic_hessian_is_psd_certificate_and_numerically():
    cert = logistic_certificate()
    assert cert.holds
    # independent: eigenvalues of the autodiff Hessian on the book's logistic data are >= 0
    from losslab.objective import make_objective

    obj = make_objective("logistic", "logistic:0")
    for p in ([0.0, 0.0], [3.0, -2.0], [-1.0, 5.0]):
        assert np.linalg.eigvalsh(np.asarray(obj.hessian(np.array(p)))).min() >= -1e-12


def test_momentum_certificate_and_the_missing_m0_term():
    cert = momentum_certificate()
    assert cert.holds
    assert unrolled_matches_recurrence(momentum_unrolled())
    t, beta, k = symbol("t"), symbol("beta"), symbol("k")
    g = indexed_base("nabla_l")
    seed_sheet_form = (1 - beta) * sp.Sum(beta**k * g[t - k], (k, 0, t))  # no beta^{t+1} m_0
    assert not unrolled_matches_recurrence(seed_sheet_form)


def test_written_out_sums_are_sympys_doit():
    """written_out(e) == e.doit() term for term: the momentum closed form at t = 0..8, nested and empty sums,
    and (left to doit) symbolic and reversed limits."""
    t, beta = symbol("t"), symbol("beta")
    closed = momentum_unrolled()
    for T in range(9):
        e = closed.xreplace({t: T})
        assert sp.expand(written_out(e) - e.doit()) == 0
        assert not written_out(e).has(sp.Sum)
    cases = [
        sp.Sum(sp.Sum(x[i] * x[j], (j, 1, i)), (i, 1, 3)),  # inner limit set by the outer index
        sp.Sum(x[i] * x[j], (i, 1, 2), (j, 2, 4)),  # two limits in one Sum
        sp.Sum(x[i], (i, 3, 2)),  # empty
        sp.Sum(x[i], (i, 5, 2)),  # reversed (Karr's convention: -sum_{3}^{4})
        sp.Sum(beta**i, (i, 0, I)),  # symbolic upper limit: a closed form
        3 + sp.Sum(i**2, (i, 1, 4)) * beta,
    ]
    for e in cases:
        assert sp.simplify(written_out(e) - e.doit()) == 0, e
    assert written_out(sp.Sum(x[i] * x[j], (i, 1, 2), (j, 2, 4))) == sum(x[a] * x[b] for a in (1, 2) for b in (2, 3, 4))
    assert written_out(sp.Sum(x[i], (i, 5, 2))) == -(x[3] + x[4])


def test_momentum_closed_form_against_a_numpy_run():
    rng = np.random.default_rng(5)
    b, m0, grads = 0.9, 1.7, rng.normal(size=20)
    m = m0
    for gk in grads:
        m = b * m + (1 - b) * gk
    t = len(grads) - 1
    closed = momentum_unrolled().xreplace({symbol("t"): t, symbol("beta"): sp.Float(b)}).doit()
    closed = closed.xreplace({indexed_base("m")[0]: m0} | {indexed_base("nabla_l")[q]: float(grads[q]) for q in range(t + 1)})
    assert float(closed) == np_approx(m)


def test_sums_equal_decides_identities_of_sums_for_symbolic_I():
    from losslab.symbolic.certificates import sums_equal

    I, i, j = symbol("I"), symbol("i"), symbol("j")
    x = indexed_base("x")
    double = sp.Sum(sp.Sum((x[i] - x[j]) ** 2, (j, 1, I)), (i, 1, I))
    assert sums_equal(double, 2 * I * sp.Sum(x[i] ** 2, (i, 1, I)) - 2 * sp.Sum(x[i], (i, 1, I)) ** 2)
    assert not sums_equal(double, 2 * I * sp.Sum(x[i] ** 2, (i, 1, I)) - sp.Sum(x[i], (i, 1, I)) ** 2)
    assert sums_equal(sp.Sum(2 * x[i], (i, 1, I)), 2 * sp.Sum(x[j], (j, 1, I)))  # bound index names do not matter


def test_certificates_are_plain_json():
    import json

    for cert in (linear_least_squares_certificate(), logistic_certificate(), momentum_certificate()):
        d = json.loads(json.dumps(cert.to_dict()))  # no SymPy booleans leak into the steps
        assert d["holds"] is True and all(s["verified"] is True for s in d["steps"])
