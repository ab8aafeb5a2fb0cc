"""W4 curvature: one Hessian-vector product and the top eigenvalue (20 iterations) of the
least-squares loss of a 1-1000-1000-1 ReLU MLP (1,004,001 parameters) on 1,000 points.

losslab: the gradient (the objective differentiates least squares through the MLP's
hand-written backpropagation, ``losslab.backprop``; plain ``jax.grad`` of the model is shown
too); one HVP from scratch (forward-over-reverse, ``make_hvp(..., linearize=False)``); one HVP
at a point already linearised (``make_hvp``'s default, what the eigensolvers use); and the top
eigenvalue by power iteration and by Lanczos, 20 products each, set-up included.
PyTorch: the gradient by autograd; one HVP by double-backward (``grad(grad(L) . v)``), from
scratch and with the first backward's graph kept (``retain_graph``, the like of a
linearised point); power iteration with 20 double-backward products, each way.
Each HVP row's speedup is against the losslab row of the same kind (from scratch, or at a
linearised point / kept graph). All are timed round-robin (see ``common.race``).
"""

from __future__ import annotations

import numpy as np

from common import best_threads, race, record, rel_diff, skip_note, sync_torch, torch_device, torch_note, torch_thread_counts


def bench(quick: bool = False, device: str = "cpu") -> list[dict]:
    import jax
    import jax.numpy as jnp

    from losslab import Objective, mlp
    from losslab.cli.hessian import _synthetic
    from losslab.curvature import make_hvp, power_iteration, top_eigenvalues

    widths, points = ((1, 64, 64, 1), 200) if quick else ((1, 1000, 1000, 1), 1000)
    model = mlp(widths)
    obj = Objective(model, _synthetic(widths, points, 0), reduction="mean")
    params = model.init(0)
    v = jax.random.normal(jax.random.PRNGKey(1), params.shape, dtype=jnp.float64)
    P = model.n_params
    name = f"W4 curvature (MLP {'-'.join(map(str, widths))}, {P:,} params, {points} points)"
    rows = []
    grad = jax.jit(jax.grad(obj.loss_on))
    plain_grad = jax.jit(jax.grad(lambda p, x, y: jnp.mean((model.fn(p, x) - y) ** 2)))
    hvp_cold = make_hvp(obj, params, linearize=False)
    hvp_lin = make_hvp(obj, params)
    entries = {
        "lgrad": lambda: np.asarray(grad(params, obj.x, obj.y)),
        "lplain": lambda: np.asarray(plain_grad(params, obj.x, obj.y)),
        "lhvp": lambda: np.asarray(hvp_cold(v)),
        "llin": lambda: np.asarray(hvp_lin(v)),
        "lsetup": lambda: jax.block_until_ready(make_hvp(obj, params).args),
    }
    power = {
        "lpower": lambda: power_iteration(obj, params, 1, iters=20, tol=0.0),
        "llanczos": lambda: top_eigenvalues(obj, params, 1, iters=20, return_vectors=False),
    }
    try:
        import torch

        dev = torch_device(device)
        x = torch.tensor(np.asarray(obj.x), device=dev)[:, None]
        y = torch.tensor(np.asarray(obj.y), device=dev)
        flat = torch.tensor(np.asarray(params), device=dev)
        shapes, sizes = [], []
        for d_in, d_out in zip(widths[:-1], widths[1:]):
            shapes += [(d_in, d_out), (d_out,)]
            sizes += [d_in * d_out, d_out]

        def loss_fn(theta):
            pieces = torch.split(theta, sizes)
            h = x
            n_layers = len(pieces) // 2
            for k in range(n_layers):
                h = h @ pieces[2 * k].reshape(shapes[2 * k]) + pieces[2 * k + 1]
                if k < n_layers - 1:
                    h = torch.relu(h)
            return torch.mean((h[:, 0] - y) ** 2)

        theta = flat.clone().requires_grad_(True)
        tv = torch.tensor(np.asarray(v), device=dev)

        def t_grad():
            (gr,) = torch.autograd.grad(loss_fn(theta), theta)
            sync_torch(device)
            return gr.cpu().numpy()

        def t_hvp(vec=tv):
            (gr,) = torch.autograd.grad(loss_fn(theta), theta, create_graph=True)
            (hvec,) = torch.autograd.grad(gr @ vec, theta)
            sync_torch(device)
            return hvec

        kept = {}

        def t_hvp_kept(vec=tv):
            # the first backward once per point, its graph kept for every product
            if "grad" not in kept:
                (kept["grad"],) = torch.autograd.grad(loss_fn(theta), theta, create_graph=True)
            (hvec,) = torch.autograd.grad(kept["grad"] @ vec, theta, retain_graph=True)
            sync_torch(device)
            return hvec

        def t_power(product):
            kept.clear()
            gen = torch.Generator(device=dev).manual_seed(0)
            vec = torch.randn(P, dtype=torch.float64, device=dev, generator=gen)
            vec = vec / vec.norm()
            lam = None
            for _ in range(20):
                w = product(vec)
                lam = float(vec @ w)
                vec = w / w.norm()
            return lam

        threads = [None] if device == "gpu" else torch_thread_counts()
        for n in threads:
            entries[f"tgrad @{n or 0}"] = (t_grad, n)
            entries[f"thvp @{n or 0}"] = ((lambda: t_hvp().cpu().numpy()), n)
            entries[f"tkept @{n or 0}"] = ((lambda: t_hvp_kept().cpu().numpy()), n)
        have_torch = True
    except ImportError as exc:
        have_torch, torch_skip = False, skip_note(exc)
    got = race(entries, rounds=3 if quick else 5)
    g_secs, g = got["lgrad"]
    h_secs, hv = got["lhvp"]
    lin_secs, hv_lin = got["llin"]
    setup_secs = got["lsetup"][0]
    rows.append(record(name, "losslab gradient (hand-written backprop)", g_secs, 1, unit="gradients/s", agree=0.0))
    plain_secs, plain = got["lplain"]
    rows.append(record(name, "losslab gradient, plain jax.grad of the model", plain_secs, 1, unit="gradients/s",
                       agree=rel_diff(plain, g)))
    rows.append(record(name, "losslab HVP from scratch (forward-over-reverse)", h_secs, 1, unit="HVPs/s", agree=0.0,
                       note=f"HVP / gradient time = {h_secs / g_secs:.2f}"))
    rows.append(record(name, "losslab HVP at a linearised point (make_hvp default)", lin_secs, 1, unit="HVPs/s",
                       agree=rel_diff(hv_lin, hv),
                       note=f"HVP / gradient time = {lin_secs / g_secs:.2f}; linearising costs {setup_secs:.3f} s once"))
    if have_torch:
        tg_secs, tg, n_g = best_threads(got, "tgrad")
        th_secs, th, n_h = best_threads(got, "thvp")
        tk_secs, tk, n_k = best_threads(got, "tkept")
        power["tpower"] = ((lambda: t_power(t_hvp)), n_h or None)
        power["tpowerkept"] = ((lambda: t_power(t_hvp_kept)), n_k or None)
    pw_got = race(power, rounds=2 if quick else 1)
    p_secs, pw = pw_got["lpower"]
    l_secs, lz = pw_got["llanczos"]
    rows.append(record(name, "losslab top eigenvalue, power iteration (20 HVPs)", p_secs, 1, unit="eigenvalues/s",
                       agree=0.0, note=f"lambda = {pw.eigenvalues[0]:.6g}; linearised once"))
    rows.append(record(name, "losslab top eigenvalue, Lanczos (20 HVPs)", l_secs, 1, unit="eigenvalues/s",
                       agree=rel_diff(lz.eigenvalues[0], pw.eigenvalues[0]), note=f"lambda = {lz.eigenvalues[0]:.6g}"))
    if have_torch:
        rows.append(record(name, "PyTorch gradient (autograd)", tg_secs, 1, unit="gradients/s", agree=rel_diff(tg, g),
                           note=torch_note(n_g, device)))
        rows.append(record(name, "PyTorch HVP from scratch (double backward)", th_secs, 1, unit="HVPs/s",
                           agree=rel_diff(th, hv), note=torch_note(n_h, device)))
        rows.append(record(name, "PyTorch HVP with the first backward's graph kept", tk_secs, 1, unit="HVPs/s",
                           agree=rel_diff(tk, hv), note=f"{torch_note(n_k, device)}; the graph is built once"))
        t_secs, lam = pw_got["tpower"]
        rows.append(record(name, "PyTorch top eigenvalue, power iteration (20 double-backward HVPs)", t_secs, 1,
                           unit="eigenvalues/s", agree=rel_diff(lam, pw.eigenvalues[0]),
                           note=f"lambda = {lam:.6g}; {torch_note(n_h, device, best=False)}"))
        tk_secs, lam_k = pw_got["tpowerkept"]
        rows.append(record(name, "PyTorch top eigenvalue, power iteration (graph kept)", tk_secs, 1,
                           unit="eigenvalues/s", agree=rel_diff(lam_k, pw.eigenvalues[0]),
                           note=f"lambda = {lam_k:.6g}; {torch_note(n_k, device, best=False)}"))
    else:
        rows.append(record(name, "PyTorch", None, 1, unit="HVPs/s", note=torch_skip))
    # speedups: gradient rows against the losslab gradient; HVPs from scratch against losslab's
    # from scratch; HVPs at a kept graph against losslab's linearised point; eigenvalues against
    # losslab power iteration
    def base(impl: str) -> float:
        if "eigenvalue" in impl:
            return p_secs
        if "HVP" in impl:
            return lin_secs if ("linearised" in impl or "kept" in impl) else h_secs
        return g_secs

    for r in rows:
        r["speedup_of_losslab"] = None if r["seconds"] is None else r["seconds"] / base(r["implementation"])
    return rows
