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
import losslab
from losslab import make_objective
from losslab.landscape import grid2d, min_eigenvalue_map, slice_2d
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
    for key in ("direct", "separable", "eig", "slice", "sweep"):
        a, b = np.array(four[key]), np.array(one[key])
        assert a.shape == b.shape
        # the same per-row arithmetic on every device: bit-identical on CPU
        np.testing.assert_array_equal(a, b, err_msg=key)
