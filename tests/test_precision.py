"""Importing losslab leaves a user's JAX precision alone, and losslab still computes in float64.

The test process itself runs with x64 on (conftest), so the user without it is a fresh
interpreter; its numbers are compared with the same calls made here.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

SRC = str(Path(__file__).resolve().parents[1] / "src")

USER = textwrap.dedent(
    """
    import json, warnings
    warnings.simplefilter("error")  # a silent downcast inside losslab would raise here
    import jax, jax.numpy as jnp, numpy as np
    import losslab
    from losslab.curvature import make_hvp, top_eigenvalues
    from losslab.landscape import grid2d
    from losslab.run import run, run_many

    out = {"x64_after_import": bool(jax.config.jax_enable_x64), "user_dtype_after_import": str(jnp.ones(3).dtype)}
    obj = losslab.make_objective("gabor")
    p = [-1.5, 6.5]
    value, grad, hess = obj.value(p), obj.grad(p), obj.hessian(p)
    hvp = make_hvp(obj, np.array(p))
    v = hvp(np.array([1.0, -2.0]))  # a function handed back, called later
    res = run(obj, "momentum", p, steps=50, learning_rate=0.01, beta=0.6)
    many = run_many(obj, "momentum", [p, [0.5, 9.0]], steps=50, learning_rates=[0.01], beta=0.6, record="final")
    land = grid2d(obj, (-2.0, 2.0), (5.0, 8.0), 9)
    custom = losslab.custom(lambda q, x: jnp.tanh(q[0] * x) + q[1], 2, name="linear")
    cobj = losslab.Objective(custom, losslab.load_dataset("book:linear"))
    eig = top_eigenvalues(obj, np.array(p), k=1)
    out.update(
        dtypes=[str(a.dtype) for a in (value, grad, hess, v, cobj.grad([0.3, 0.1]))],
        value=float(value), grad=np.asarray(grad).tolist(), hess=np.asarray(hess).tolist(), hvp=np.asarray(v).tolist(),
        run=res.final_params.tolist(), run_dtype=str(res.params.dtype), many=many.final_params.tolist(),
        land=np.asarray(land.loss).tolist(), custom=np.asarray(cobj.grad([0.3, 0.1])).tolist(),
        eig=np.asarray(eig.eigenvalues).tolist(),
        x64_after_calls=bool(jax.config.jax_enable_x64), user_dtype_after_calls=str(jnp.ones(3).dtype),
        user_jit_dtype=str(jax.jit(lambda a: a * 2.0)(jnp.arange(3.0)).dtype),
        # inside the user's own float32 trace, losslab follows the user's precision
        traced_dtype=str(jax.jit(lambda q: obj.model(q, jnp.linspace(-1.0, 1.0, 5)))(jnp.asarray(p, jnp.float32)).dtype),
    )
    print(json.dumps(out))
    """
)


def test_import_leaves_user_precision_and_losslab_still_computes_in_float64():
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_ENABLE_X64", "JAX_DEFAULT_DTYPE_BITS")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", USER], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["x64_after_import"] is False and got["user_dtype_after_import"] == "float32"
    assert got["x64_after_calls"] is False and got["user_dtype_after_calls"] == "float32"
    assert got["user_jit_dtype"] == "float32" and got["traced_dtype"] == "float32"
    assert got["dtypes"] == ["float64"] * 5 and got["run_dtype"] == "float64"

    # the same calls in this process (x64 on): equal to rounding, which float32 anywhere would break
    import jax.numpy as jnp

    import losslab
    from losslab.curvature import make_hvp, top_eigenvalues
    from losslab.landscape import grid2d
    from losslab.run import run, run_many

    obj = losslab.make_objective("gabor")
    p = [-1.5, 6.5]
    close = {"rtol": 1e-13, "atol": 1e-13}
    np.testing.assert_allclose(got["value"], float(obj.value(p)), **close)
    np.testing.assert_allclose(got["grad"], np.asarray(obj.grad(p)), **close)
    np.testing.assert_allclose(got["hess"], np.asarray(obj.hessian(p)), **close)
    np.testing.assert_allclose(got["hvp"], np.asarray(make_hvp(obj, np.array(p))(np.array([1.0, -2.0]))), **close)
    np.testing.assert_allclose(got["run"], run(obj, "momentum", p, steps=50, learning_rate=0.01, beta=0.6).final_params, **close)
    many = run_many(obj, "momentum", [p, [0.5, 9.0]], steps=50, learning_rates=[0.01], beta=0.6, record="final")
    np.testing.assert_allclose(got["many"], many.final_params, **close)
    np.testing.assert_allclose(got["land"], np.asarray(grid2d(obj, (-2.0, 2.0), (5.0, 8.0), 9).loss), **close)
    custom = losslab.custom(lambda q, x: jnp.tanh(q[0] * x) + q[1], 2, name="linear")
    cobj = losslab.Objective(custom, losslab.load_dataset("book:linear"))
    np.testing.assert_allclose(got["custom"], np.asarray(cobj.grad([0.3, 0.1])), **close)
    np.testing.assert_allclose(got["eig"], np.asarray(top_eigenvalues(obj, np.array(p), k=1).eigenvalues), rtol=1e-10)
