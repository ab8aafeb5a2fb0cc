"""W3 many runs: S = 10,000 starts x 1,000 full-batch momentum steps on the Gabor data (I = 30).

losslab: ``run_many(..., record="final")`` (final state only, starts split over every
device, the Gabor model's column kernel: hand-derived gradient with a vectorised sine) and
``run_many(..., record="loss")`` (records the loss of every step, autodiff through the fused formula). Peers: plain JAX
(eq. 6.8 written with ``jnp.sin`` and ``jnp.exp`` as a JAX user writes it, ``vmap`` of a ``lax.scan`` with ``jax.grad``),
PyTorch batched over starts with the analytic gradient (eager and torch.compile) and NumPy batched.

One more row is not a peer: the same ``vmap`` of ``lax.scan`` driving ``jax.grad(obj.loss_on)``, losslab's own
fused loss with its vectorised sin, cos and exp. It shares losslab's kernel, so its ratio shows what the run
engine adds on top of that kernel (the layout of the runs as columns, the split over devices), nothing else.
(Until 2026-11-29 this row was labelled "plain JAX" and counted as the best peer.)

Slow peers run all starts for fewer steps, extrapolated linearly in steps (each step costs the same);
they are compared with losslab run for the same number of steps.
"""

from __future__ import annotations

import numpy as np

from common import best_of, best_torch, finish, record, rel_diff, skip_note, sync_torch, torch_device, torch_note

ALPHA, BETA = 0.01, 0.6


def starts(S: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-10, 10, S), rng.uniform(2.5, 22.5, S)], axis=1)


def analytic_grad(xp, p, x, y):
    """Batched (S, 2) Gabor least-squares gradient with array module ``xp`` (numpy or torch)."""
    z = p[:, 0:1] + 0.06 * p[:, 1:2] * x
    s, c = xp.sin(z), xp.cos(z)
    e = xp.exp(-z * z / 32.0)
    w = 2.0 * (s * e - y) * e * (c - z * s / 16.0)
    return xp.stack([w.sum(1), 0.06 * (w * x).sum(1)], 1)


def bench(quick: bool = False, device: str = "cpu") -> list[dict]:
    import jax
    import jax.numpy as jnp

    from losslab import make_objective
    from losslab.run import run_many
    from losslab.sharding import device_count

    def sweep(obj, optimizer, inits, *, steps, learning_rate, **hp):
        return run_many(obj, optimizer, inits, steps=steps, learning_rates=[learning_rate], record="final", **hp)

    S, T = (200, 100) if quick else (10_000, 1000)
    obj = make_objective("gabor")
    inits = starts(S)
    x, y = np.asarray(obj.x), np.asarray(obj.y)
    name = f"W3 many runs ({S} starts x {T} momentum steps)"
    unit = "trajectory-steps/s"
    work = S * T
    rows = []

    secs, res = best_of(lambda: sweep(obj, "momentum", inits, steps=T, learning_rate=ALPHA, beta=BETA), repeats=3)
    ref = res.final_params[0]
    rows.append(record(name, "losslab run_many(record='final')", secs, work, unit=unit, agree=0.0,
                       note=f"{device_count()} device(s); analytic gradient, vectorised sine"))

    secs, many = best_of(lambda: run_many(obj, "momentum", inits, steps=T, learning_rates=[ALPHA], beta=BETA,
                                          record="loss"), repeats=1)
    rows.append(record(name, "losslab run_many(record='loss') (loss of every step)", secs, work, unit=unit,
                       agree=rel_diff(many.final_params[0], ref), note="autodiff; keeps loss of every step"))

    def gabor_least_squares(p, x, y):
        """Eqs. 6.8-6.9 as a JAX user writes them."""
        z = p[0] + 0.06 * p[1] * x
        return jnp.sum((jnp.sin(z) * jnp.exp(-(z**2) / 32.0) - y) ** 2)

    def vmap_of_scan(loss):
        grad = jax.grad(loss)

        @jax.jit
        def runs(p0, x, y):
            def one(p):
                def step(c, _):
                    q, m = c
                    m = BETA * m + (1 - BETA) * grad(q, x, y)
                    return (q - ALPHA * m, m), None

                return jax.lax.scan(step, (p, jnp.zeros_like(p)), None, length=T)[0][0]

            return jax.vmap(one)(p0)

        return runs

    plain = vmap_of_scan(gabor_least_squares)
    secs, p_plain = best_of(lambda: np.asarray(plain(jnp.asarray(inits), obj.x, obj.y)), repeats=1 if quick else 3)
    rows.append(record(name, "plain JAX (vmap of lax.scan, jax.grad, jnp.sin/jnp.exp)", secs, work, unit=unit,
                       agree=rel_diff(p_plain, ref)))
    ablation = vmap_of_scan(obj.loss_on)
    secs, p_abl = best_of(lambda: np.asarray(ablation(jnp.asarray(inits), obj.x, obj.y)), repeats=1 if quick else 3)
    rows.append(record(name, "not a peer: vmap of lax.scan over losslab's obj.loss_on", secs, work, unit=unit,
                       agree=rel_diff(p_abl, ref), note="losslab's own fused kernel (vectorised sin/cos/exp): what the engine adds"))

    t_short = T if quick else 100
    ref_short = ref if t_short == T else sweep(obj, "momentum", inits, steps=t_short, learning_rate=ALPHA, beta=BETA).final_params[0]
    scale = T / t_short
    note = "" if t_short == T else f"timed for {t_short} of {T} steps, extrapolated"

    def numpy_batched():
        p, m = inits.copy(), np.zeros_like(inits)
        for _ in range(t_short):
            m = BETA * m + (1 - BETA) * analytic_grad(np, p, x, y)
            p = p - ALPHA * m
        return p

    secs, p_np = best_of(numpy_batched, repeats=1, warmup=0)
    rows.append(record(name, "NumPy batched (analytic gradient)", secs * scale, work, unit=unit,
                       agree=rel_diff(p_np, ref_short), note=note))

    try:
        import torch

        dev = torch_device(device)
        tx, ty = torch.tensor(x, device=dev), torch.tensor(y, device=dev)

        def torch_step(p, m):
            m = BETA * m + (1 - BETA) * analytic_grad(torch, p, tx, ty)
            return p - ALPHA * m, m

        def torch_batched(step_fn=torch_step):
            with torch.no_grad():
                p = torch.tensor(inits, device=dev)
                m = torch.zeros_like(p)
                for _ in range(t_short):
                    p, m = step_fn(p, m)
            sync_torch(device)
            return p.cpu().numpy()

        secs, p_t, n = best_torch(lambda: best_of(torch_batched, repeats=1 if quick else 2), device)
        rows.append(record(name, "PyTorch batched, analytic gradient", secs * scale, work, unit=unit,
                           agree=rel_diff(p_t, ref_short), note="; ".join(t for t in (note, torch_note(n, device)) if t)))
        if not quick:
            try:
                compiled = torch.compile(torch_step, dynamic=False)
                secs, p_c, n = best_torch(lambda: best_of(lambda: torch_batched(compiled), repeats=2), device)
                rows.append(record(name, "torch.compile batched, analytic gradient", secs * scale, work, unit=unit,
                                   agree=rel_diff(p_c, ref_short), note="; ".join(t for t in (note, torch_note(n, device)) if t)))
            except Exception as error:
                rows.append(record(name, "torch.compile batched", None, work, unit=unit, note=f"skipped: {type(error).__name__}"))
    except ImportError as exc:
        rows.append(record(name, "PyTorch batched", None, work, unit=unit, note=skip_note(exc)))
    return finish(rows, "losslab run_many(record='final')")
