"""One small network and data set for the hessian_spectrum tests, and a worker the multi-device
and multi-process tests start as a subprocess:

    python _spectrum_problem.py devices OUT            (XLA_FLAGS gives several CPU devices)
    python _spectrum_problem.py process K PORT OUT      (one of two jax.distributed processes)

The worker writes its results as JSON to OUT.
"""

from __future__ import annotations

import json
import sys

import numpy as np

N, D_IN, HIDDEN = 96, 6, 20  # 6*20 + 20 + 20*3 + 3 = 203 parameters
CLASSES = 3
BATCH = 12  # 8 batches


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D_IN))
    y = rng.integers(0, CLASSES, size=N)
    return x, y


def make_params(seed: int = 1):
    rng = np.random.default_rng(seed)
    return {
        "hidden": {"w": rng.normal(size=(D_IN, HIDDEN)) / np.sqrt(D_IN), "b": 0.1 * rng.normal(size=HIDDEN)},
        "out": {"w": rng.normal(size=(HIDDEN, CLASSES)) / np.sqrt(HIDDEN), "b": 0.1 * rng.normal(size=CLASSES)},
    }


def loss_fn(params, batch):
    """Summed softmax cross-entropy of a tanh MLP (an ordinary JAX loss; nothing from losslab)."""
    import jax
    import jax.numpy as jnp

    x, y = batch
    h = jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"])
    logits = h @ params["out"]["w"] + params["out"]["b"]
    logp = jax.nn.log_softmax(logits)
    return -jnp.sum(jnp.take_along_axis(logp, y[:, None], axis=1))


def batches(x, y, size=BATCH):
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


def spectrum_json(result) -> dict:
    return {
        "top": result.top_eigenvalues.tolist(),
        "trace": result.trace.trace,
        "stderr": result.trace.stderr,
        "loss": result.loss,
        "devices": result.devices,
        "processes": result.processes,
        "n_batches": result.n_batches,
    }


def sweep_starts():
    return np.stack([np.linspace(-2, 2, 9), np.linspace(5, 20, 9)], axis=1)


def sweep(objective):
    """A run_many sweep on its lean path (final values, full batches): the starts split over every
    device of every process (sharding.map_rows)."""
    from losslab.run import run_many

    return run_many(objective, "momentum", sweep_starts(), steps=30, learning_rates=[0.01, 0.02], beta=0.6,
                    record="final", chunk=1)


def recorded_sweep(objective):
    """run_many with every step recorded, on minibatches: the starts split over every device of every
    process (sharding.map_rows), the records gathered on every process."""
    from losslab.run import run_many

    return run_many(objective, "momentum", sweep_starts(), steps=20, learning_rates=[0.01, 0.02], beta=0.6, batch_size=10,
                    seed=3, record="params", chunk=1)


def landscape(objective):
    """A Gabor loss grid, rows split over every device of every process (sharding.map_rows)."""
    from losslab.landscape import grid2d

    return grid2d(objective, (-10, 10), (2.5, 22.5), (13, 11), chunk=2, method="direct").loss


def _main(argv):
    import jax

    mode = argv[0]
    if mode == "process":
        k, port, out = int(argv[1]), int(argv[2]), argv[3]
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=k,
                                   initialization_timeout=60)
    else:
        k, out = 0, argv[1]
    jax.config.update("jax_enable_x64", True)  # this script's own model and data, compared in float64
    from losslab.curvature import hessian_spectrum

    x, y = make_data()
    all_batches = batches(x, y)
    # each process brings its own share of the batches (here: alternate ones)
    mine = all_batches[k :: jax.process_count()]
    result = hessian_spectrum(loss_fn, make_params(), mine, top_k=5, trace_samples=20)
    record = spectrum_json(result)
    if mode == "process":
        from losslab import make_objective

        g = make_objective("gabor")
        s = sweep(g)
        record["sweep_params"] = s.final_params.tolist()
        record["sweep_loss"] = s.final_loss.tolist()
        record["landscape"] = landscape(g).tolist()
        r = recorded_sweep(g)
        record["recorded"] = {"params": r.params.tolist(), "loss": r.loss.tolist(), "steps": r.steps.tolist(),
                              "diverged_at": r.diverged_at.tolist()}
    record["global_devices"] = jax.device_count()
    if k == 0:
        with open(out, "w") as fh:
            json.dump(record, fh)


if __name__ == "__main__":
    _main(sys.argv[1:])
