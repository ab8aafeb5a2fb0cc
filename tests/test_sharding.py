"""Landscapes and sweeps split over 4 (simulated) devices give the one-device results.

XLA_FLAGS must be set before JAX is imported, so the 4-device side runs in a
subprocess; this process (1 device) computes the reference.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)  # sweep_fn below is this script's own JAX code, in float64
from losslab import make_objective
from losslab.landscape import grid2d, min_eigenvalue_map, slice_2d
from losslab.run import run_many
from losslab.sharding import device_count, map_rows

def sweep_fn(obj, steps=50, lr=0.01, beta=0.6):
    grad = jax.grad(obj.loss_on)
    @jax.jit
    def run(starts, x, y):
        def one(p0):
            def step(c, _):
                p, m = c
                m = beta * m + (1 - beta) * grad(p, x, y)
                return (p - lr * m, m), None
            return jax.lax.scan(step, (p0, jnp.zeros_like(p0)), None, length=steps)[0][0]
        return jax.vmap(one)(starts)
    return run

def compute():
    g = make_objective("gabor")
    out = {"devices": device_count()}
    out["direct"] = grid2d(g, (-10, 10), (2.5, 22.5), (13, 11), chunk=2, method="direct").loss.tolist()
    out["separable"] = grid2d(g, (-10, 10), (2.5, 22.5), (13, 11), chunk=2, method="separable").loss.tolist()
    out["eig"] = min_eigenvalue_map(g, (-10, 10), (2.5, 22.5), (5, 7)).min_eigenvalue.tolist()
    s = make_objective("shallow")
    p = np.array([-0.3, 2.0, -1.0, 7.0, 0.3, -1.0, -1.0, 2.0, -0.5, 0.65])
    out["slice"] = slice_2d(s, p, np.eye(10)[0], np.eye(10)[4], resolution=5).loss.tolist()
    starts = np.stack([np.linspace(-2, 2, 9), np.linspace(5, 20, 9)], axis=1)
    out["sweep"] = map_rows(sweep_fn(g), starts, chunk=1, args=(g.x, g.y)).tolist()
    runs = run_many(g, "momentum", starts, steps=50, learning_rates=[0.01], beta=0.6, record="final", chunk=1)
    out["runs"] = runs.final_params[0].tolist()
    recorded = run_many(g, "momentum", starts, steps=30, learning_rates=[0.01, 0.02], beta=0.6, batch_size=10, seed=3,
                        record="params", chunk=1)
    out["recorded"] = recorded.params.tolist()
    return out

if __name__ == "__main__":
    print(json.dumps(compute()))
"""


def test_four_devices_equal_one(tmp_path):
    script = tmp_path / "sharded.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    four = json.loads(proc.stdout.strip().splitlines()[-1])
    assert four["devices"] == 4

    sys.path.insert(0, str(tmp_path))
    try:
        import sharded  # noqa: PLC0415  (the same code, this process: one device)

        one = sharded.compute()
    finally:
        sys.path.remove(str(tmp_path))
    assert one["devices"] == 1
    for key in ("direct", "separable", "eig", "slice", "sweep", "runs", "recorded"):
        a, b = np.array(four[key]), np.array(one[key])
        assert a.shape == b.shape
        if key in ("eig", "runs", "recorded"):
            # Hessians through the Gabor model's vectorised sine are compiled for a
            # per-device batch of another shape, and XLA's vectorised loop rounds the
            # last bits differently: equal to float64 round-off, not bit for bit.
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13, err_msg=key)
        else:
            # the same per-row arithmetic on every device: bit-identical on CPU
            np.testing.assert_array_equal(a, b, err_msg=key)


def test_final_only_runs_match_the_recorded_engine():
    from losslab import make_objective
    from losslab.run import run_many

    rng = np.random.default_rng(0)
    for name, starts in (
        ("gabor", np.stack([rng.uniform(-10, 10, 7), rng.uniform(2.5, 22.5, 7)], axis=1)),
        ("linear", rng.normal(size=(5, 2))),
    ):
        obj = make_objective(name)
        # every family of update rule: plain, momentum, lookahead, per-coordinate scaling
        for opt, hp in (("momentum", {"beta": 0.6}), ("nesterov", {"beta": 0.6}), ("gd", {}), ("normalized", {}),
                        ("adam", {})):
            # the Gabor model steps final-only runs with its column kernel, the linear model with autodiff
            res = run_many(obj, opt, starts, steps=60, learning_rates=[0.01, 0.02], record="final", **hp)
            ref = run_many(obj, opt, starts, steps=60, learning_rates=[0.01, 0.02], record="loss", **hp)
            assert res.loss is None and res.params is None and res.diverged_at is None
            np.testing.assert_allclose(res.final_params, ref.final_params, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(res.final_loss, ref.loss[:, :, -1], rtol=1e-12)
            np.testing.assert_allclose(ref.final_loss, ref.loss[:, :, -1], rtol=0)


def test_final_only_runs_bad_input_and_divergence():
    import pytest

    from losslab import LosslabError, make_objective
    from losslab.run import run_many

    obj = make_objective("gabor")
    with pytest.raises(LosslabError, match="'inits' parameter of run_many"):
        run_many(obj, "momentum", np.zeros((3, 3)), steps=5, learning_rates=[0.1], record="final")
    with pytest.raises(LosslabError, match="learning_rate"):
        run_many(obj, "momentum", np.zeros((3, 2)), steps=5, learning_rates=[-1.0], record="final")
    with pytest.raises(LosslabError, match="'record' parameter of run_many must be one of"):
        run_many(obj, "momentum", np.zeros((3, 2)), steps=5, learning_rates=[0.1], record="all")
    with pytest.raises(LosslabError, match="'chunk' parameter of run_many"):
        run_many(obj, "momentum", np.zeros((3, 2)), steps=5, learning_rates=[0.1], record="final", chunk=0)
    with pytest.raises(LosslabError, match=r"needs .* limit 1.0 MiB"):
        run_many(obj, "gd", np.zeros((100, 2)), steps=1000, learning_rates=[0.1], memory_limit=2**20)
    linear = make_objective("linear")
    # a learning rate far beyond 2 / lambda_max diverges; final-only runs see it in the final values
    res = run_many(linear, "gd", np.ones((2, 2)), steps=2000, learning_rates=[0.01, 10.0], record="final")
    assert res.diverged.tolist() == [[False, False], [True, True]]
    assert np.all(np.isfinite(res.final_loss[0]))


def test_vectorised_sincos_and_gabor_kernel():
    import jax.numpy as jnp

    from losslab import make_objective
    from losslab.gabor import least_squares_fused
    from losslab.numerics import sincos

    z = np.concatenate([np.random.default_rng(1).uniform(-1e5, 1e5, 20000), np.linspace(-10, 10, 2001),
                        np.arange(-40, 41) * np.pi / 2])
    s, c = sincos(jnp.asarray(z))
    np.testing.assert_allclose(np.asarray(s), np.sin(z), rtol=0, atol=4.5e-16)
    np.testing.assert_allclose(np.asarray(c), np.cos(z), rtol=0, atol=4.5e-16)
    obj = make_objective("gabor")
    for p in ([0.6, -0.2], [-1.5, 8.5], [3e7, 1.0]):
        value, grad = least_squares_fused(jnp.asarray(p), obj.x, obj.y)[:2]
        assert float(value) == pytest_approx(float(obj.value(p)))
        np.testing.assert_allclose(np.asarray(grad), np.asarray(obj.grad(p)), rtol=1e-12, atol=1e-14)


def test_the_reduction_constants_are_pi_over_2_and_ln2_split_exactly():
    import math

    import mpmath

    from losslab import numerics

    mpmath.mp.prec = 400
    for parts, value, bits, exact in ((numerics._PIO2, mpmath.pi / 2, (33, 33), 115), (numerics._LN2, mpmath.log(2), (42,), 94)):
        assert abs(sum(mpmath.mpf(p) for p in parts) - value) < mpmath.mpf(2) ** -exact  # 33+33+53, 42+53 bits
        for p, b in zip(parts, bits):  # so that n * p is exact for the n the reduction meets
            m, _ = math.frexp(p)
            assert (m * 2**b) == int(m * 2**b)
    # the polynomials' coefficients: Chebyshev interpolation derived again (mpmath), and close to Taylor's (-1)^k / n!
    derived = numerics.derive_coefficients()
    assert derived == {"sin": numerics._S, "cos": numerics._C, "exp": numerics._E}
    assert numerics._S[0] == -1 / 6 and numerics._C[0] == 1 / 24 and numerics._E[:3] == (1.0, 1.0, 0.5)
    assert abs(numerics._E[3] - 1 / 6) < 1e-14 and abs(numerics._S[1] - 1 / 120) < 1e-16


def pytest_approx(v):
    import pytest

    return pytest.approx(v, rel=1e-13, abs=1e-14)


def test_vectorised_exp_is_within_one_ulp_with_numpys_ends_and_an_exact_derivative():
    import jax
    import jax.numpy as jnp

    from losslab.numerics import EXP_MAX, EXP_MIN, exp

    rng = np.random.default_rng(2)
    # results that are normal numbers (XLA:CPU flushes subnormals, whatever computes them)
    x = np.concatenate([rng.uniform(-708.0, EXP_MAX, 200_000), rng.uniform(-1.0, 1.0, 50_000), np.arange(-50.0, 51.0),
                        [0.0, -0.0, 1e-300, -1e-300, 0.5 * np.log(2.0), -0.5 * np.log(2.0)]])
    got, ref = np.asarray(jax.jit(exp)(jnp.asarray(x))), np.exp(x)
    assert np.max(np.abs(got - ref) / np.spacing(ref)) <= 1.0
    ends = np.array([np.inf, -np.inf, np.nan, EXP_MAX + 1e-9, 1e300, EXP_MIN - 1e-9, -1e300])
    np.testing.assert_array_equal(np.asarray(exp(jnp.asarray(ends))), [np.inf, 0.0, np.nan, np.inf, np.inf, 0.0, 0.0])
    d1 = jax.grad(exp)(0.7)
    d2 = jax.grad(jax.grad(exp))(0.7)
    assert float(d1) == float(exp(0.7)) and float(d2) == float(exp(0.7))
    assert abs(float(exp(0.7)) - np.exp(0.7)) <= np.spacing(np.exp(0.7))


def test_gabor_model_with_the_vectorised_functions_matches_numpy():
    from losslab import make_objective

    obj = make_objective("gabor")
    x, y = np.asarray(obj.x), np.asarray(obj.y)
    for p in ([0.6, -0.2], [-1.5, 8.5], [9.0, 22.0], [-200.0, 3.0]):
        z = p[0] + 0.06 * p[1] * x
        f = np.sin(z) * np.exp(-(z**2) / 32.0)
        r = f - y
        dphi0 = 2 * r * (np.cos(z) - z / 16 * np.sin(z)) * np.exp(-(z**2) / 32.0)
        np.testing.assert_allclose(np.asarray(obj.model(np.array(p), obj.x)), f, rtol=1e-14, atol=1e-16)
        np.testing.assert_allclose(float(obj.value(p)), np.sum(r * r), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(obj.grad(p)), [dphi0.sum(), (0.06 * x * dphi0).sum()], rtol=1e-12, atol=1e-14)


def test_polynomials_by_estrins_scheme_equal_the_exact_value_to_rounding():
    import jax.numpy as jnp
    import mpmath

    from losslab import numerics

    mpmath.mp.prec = 200
    t = np.random.default_rng(3).uniform(-0.7, 0.7, 64)
    for coefficients in (numerics._S, numerics._C, numerics._E):
        exact = np.array([float(sum(mpmath.mpf(c) * mpmath.mpf(v) ** k for k, c in enumerate(coefficients))) for v in t])
        for horner in range(len(coefficients) + 1):
            got = np.asarray(numerics._polynomial(coefficients, jnp.asarray(t), horner=horner))
            # a sum of terms that shrink fast (|c_k t^k| <= 0.7^k / k!): a few ulp of the largest term at most
            assert np.max(np.abs(got - exact)) <= 4 * np.spacing(np.max(np.abs(exact))), (len(coefficients), horner)


def test_final_only_runs_with_the_number_of_steps_compiled_in(monkeypatch):
    """What a GPU gets (run._STATIC_STEPS): the number of steps compiled into the program, a loop of
    known trip count, so XLA need not ask the host after every step. Same answers as the traced
    bound a CPU uses, for the column kernel (Gabor) and autodiff (linear); one compilation per length."""
    import re

    from losslab import make_objective
    from losslab import run as run_module
    from losslab.run import _final_runs, run_many, trace_count

    rng = np.random.default_rng(1)
    starts = np.stack([rng.uniform(-10, 10, 6), rng.uniform(2.5, 22.5, 6)], axis=1)
    hp = {"learning_rate": np.float64(0.01), "beta": np.float64(0.6)}
    for name in ("gabor", "linear"):
        obj = make_objective(name)
        kernel = obj.model.capabilities.columns.get(obj.loss)
        assert (kernel is not None) == (name == "gabor")
        traced = _final_runs(obj, kernel, "momentum").lower(starts, hp, obj.x, obj.y, np.int32(70)).compile().as_text()
        static = _final_runs(obj, kernel, "momentum", static_steps=True).lower(starts, hp, obj.x, obj.y, 70).compile().as_text()
        assert not re.search(r'known_trip_count":\{"n":"70"', traced)
        assert re.search(r'known_trip_count":\{"n":"70"', static)
        results = {}
        for mode in ("never", "always"):
            monkeypatch.setattr(run_module, "_STATIC_STEPS", mode)
            before = trace_count()
            results[mode] = [run_many(obj, "momentum", starts, steps=s, learning_rates=[0.01, 0.02], beta=0.6,
                                      record="final") for s in (70, 70, 40)]
            # 70 and 40 compiled apart, or one program for both (perhaps compiled already by another test)
            compiled = trace_count() - before
            assert compiled == 2 if mode == "always" else compiled <= 1
        for a, b in zip(results["never"], results["always"]):
            np.testing.assert_allclose(b.final_params, a.final_params, rtol=1e-13, atol=1e-13)
            np.testing.assert_allclose(b.final_loss, a.final_loss, rtol=1e-13)
