"""W2 one run: 1,000 full-batch momentum steps (book eq. 6.11) on the Gabor data (I = 30).

losslab's ``run()`` records, every step, the parameters, the full-data loss, the
gradient norm and the step size. The hand-written ``lax.scan`` records the same
(parameters, loss, gradient norm). The PyTorch loop is the usual
``torch.optim.SGD`` loop with autograd, recording parameters and loss each step.
Book momentum m <- beta m + (1 - beta) g, phi <- phi - alpha m equals
``SGD(lr=alpha (1 - beta), momentum=beta)`` (PyTorch's buffer is m / (1 - beta)).
"""

from __future__ import annotations

import numpy as np

from common import best_of, best_torch, finish, record, rel_diff, skip_note, sync_torch, torch_device, torch_note

ALPHA, BETA = 0.01, 0.6
START = (-1.5, 6.5)


def bench(quick: bool = False, device: str = "cpu") -> list[dict]:
    import jax
    import jax.numpy as jnp

    from losslab import make_objective
    from losslab.run import run

    steps = 1000
    obj = make_objective("gabor")
    name = f"W2 one run ({steps} momentum steps, I=30)"
    unit = "steps/s"
    rows = []

    secs, res = best_of(lambda: run(obj, "momentum", np.array(START), steps=steps, learning_rate=ALPHA, beta=BETA),
                        repeats=5 if quick else 20)
    final = res.params[-1]
    rows.append(record(name, "losslab run()", secs, steps, unit=unit, agree=0.0,
                       note="records params, loss, grad norm, step size every step"))

    def plain_loss(p, x, y):  # the Gabor loss as a user writes it, without losslab
        z = p[0] + 0.06 * p[1] * x
        return jnp.sum((jnp.sin(z) * jnp.exp(-z * z / 32.0) - y) ** 2)

    from losslab.gabor import least_squares_fused

    def gabor_value_and_grad(p, x, y):
        return least_squares_fused(p, x, y)[:2]

    p0 = jnp.asarray(START)
    # Hand-written scans, the same loop around three gradients: plain JAX (what a user
    # writes), losslab's loss_on (problem 6.3's formula as its derivative), and the
    # landscape's batched Gabor kernel (the floor for this loop).
    variants = (
        ("hand-written lax.scan, plain JAX (jnp.sin, jax.value_and_grad)", jax.value_and_grad(plain_loss),
         "records params, loss, grad norm"),
        ("hand-written lax.scan over losslab's loss_on", jax.value_and_grad(obj.loss_on),
         "records params, loss, grad norm"),
        ("hand-written lax.scan, losslab Gabor kernel (analytic, vectorised sine)", gabor_value_and_grad,
         "the floor for this loop"),
    )
    for label, value_and_grad, note in variants:

        @jax.jit
        def scan_run(p0, x, y, value_and_grad=value_and_grad):
            def step(carry, _):
                p, m = carry
                loss, g = value_and_grad(p, x, y)
                m = BETA * m + (1.0 - BETA) * g
                return (p - ALPHA * m, m), (p, loss, jnp.sqrt(g @ g))

            (p, _), rec = jax.lax.scan(step, (p0, jnp.zeros_like(p0)), None, length=steps)
            return p, rec

        def hand(scan_run=scan_run):
            p, rec = scan_run(p0, obj.x, obj.y)
            return np.asarray(p), [np.asarray(r) for r in rec]

        s, (p_hand, _) = best_of(hand, repeats=5 if quick else 20)
        rows.append(record(name, label, s, steps, unit=unit, agree=rel_diff(p_hand, final), note=note))

    try:
        import torch

        dev = torch_device(device)
        tx = torch.tensor(np.asarray(obj.x), device=dev)
        ty = torch.tensor(np.asarray(obj.y), device=dev)

        def torch_loop(n_steps=steps):
            phi = torch.tensor(START, dtype=torch.float64, device=dev, requires_grad=True)
            opt = torch.optim.SGD([phi], lr=ALPHA * (1 - BETA), momentum=BETA)
            params, losses = [], []
            for _ in range(n_steps):
                opt.zero_grad()
                z = phi[0] + 0.06 * phi[1] * tx
                loss = torch.sum((torch.sin(z) * torch.exp(-z * z / 32.0) - ty) ** 2)
                loss.backward()
                params.append(phi.detach().clone())
                losses.append(loss.detach())
                opt.step()
            sync_torch(device)
            return phi.detach().cpu().numpy(), torch.stack(losses).cpu().numpy()

        s, (p_torch, _), n = best_torch(lambda: best_of(torch_loop, repeats=1 if quick else 3), device)
        rows.append(record(name, "PyTorch torch.optim.SGD loop (eager)", s, steps, unit=unit, agree=rel_diff(p_torch, final),
                           note=torch_note(n, device)))
    except ImportError as exc:
        rows.append(record(name, "PyTorch loop", None, steps, unit=unit, note=skip_note(exc)))
    return finish(rows, "losslab run()")
