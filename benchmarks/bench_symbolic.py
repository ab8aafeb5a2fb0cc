"""Speed of the lambdified SymPy gradients (cse=True) against the core's JAX functions,
and of check_sheet on the seed sheet. Run: PYTHONPATH=src python benchmarks/bench_symbolic.py"""

import time
from pathlib import Path

import jax
import numpy as np

from losslab.objective import make_objective
from losslab.symbolic import check_sheet
from losslab.symbolic.derive import derive

jax.config.update("jax_enable_x64", True)  # the kernels are timed on float64 arrays made here


def best(f, n=20):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


rng = np.random.default_rng(0)
x = rng.uniform(-2, 2, 100_000)
y = rng.uniform(-1, 1, 100_000)
for name in ("linear", "gabor", "logistic", "shallow"):
    d = derive(name)
    obj = make_objective(name, "logistic:0" if name == "logistic" else f"book:{name}")
    p = rng.normal(size=obj.n_params)
    t_cse = best(lambda: d.example_grads(p, x, y))
    grads_fn = obj.model.capabilities.example_grads[obj.loss]
    import jax.numpy as jnp

    xj, yj, pj = jnp.asarray(x), jnp.asarray(y), jnp.asarray(p)
    grads_fn(pj, xj, yj).block_until_ready()
    t_jax = best(lambda: grads_fn(pj, xj, yj).block_until_ready())
    print(f"{name:9s} lambdify(cse) per-example grads, I=1e5: {t_cse * 1e3:7.2f} ms   core analytic (JAX, eager): {t_jax * 1e3:7.2f} ms")

text = (Path(__file__).resolve().parents[1] / "tests" / "sheets" / "seed_sheet.md").read_text()
t = time.perf_counter()
results = check_sheet(text)
print(f"check_sheet(seed sheet): {len(results)} claims in {time.perf_counter() - t:.2f} s")
