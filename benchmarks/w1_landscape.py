"""W1 landscape: the Gabor least-squares loss on a G x G grid over I points (G = 1024, I = 1000:
1.05e9 model evaluations), losslab's grid2d against the usual ways of computing it.

Slow peers are timed on a subset of grid rows (or grid points, for the notebook loop)
and extrapolated linearly to the full grid; the table says so. Every peer's subset is
compared with losslab's values on the same grid points (max relative difference).
"""

from __future__ import annotations

import numpy as np

from common import best_of, best_torch, finish, record, rel_diff, skip_note, sync_torch, torch_device, torch_note

RANGE0, RANGE1 = (-10.0, 10.0), (2.5, 22.5)


def make_data(n: int, seed: int = 0):
    from losslab import Objective, gabor, sample_from_model

    model = gabor()
    x = np.random.default_rng(seed).uniform(-15.0, 15.0, n)
    data = sample_from_model(model, [0.3, 16.6], x, noise_std=0.1, seed=seed + 1)
    return Objective(model, data)


def bench(quick: bool = False, device: str = "cpu") -> list[dict]:
    import jax
    import jax.numpy as jnp

    from losslab.landscape import grid2d, grid_values

    G, I = (48, 64) if quick else (1024, 1000)
    obj = make_data(I)
    x, y = np.asarray(obj.x), np.asarray(obj.y)
    phi0 = np.linspace(*RANGE0, G)
    phi1 = np.linspace(*RANGE1, G)
    total = G * G * I
    name = f"W1 landscape G={G} I={I}"
    unit = "evaluations/s"
    rows = []

    secs, land = best_of(lambda: grid2d(obj, RANGE0, RANGE1, G), repeats=3)
    ref = land.loss
    rows.append(record(name, "losslab grid2d (exact separable)", secs, total, unit=unit, agree=0.0,
                       note=f"method={land.method}"))

    def subset(n_rows):
        n_rows = min(n_rows, G)
        return np.linspace(0, G - 1, n_rows).round().astype(int), n_rows / G

    def add(label, n_rows, fn, repeats=1, warmup=1, note="", torch_threads=False):
        idx, frac = subset(n_rows)
        try:
            if torch_threads:
                s, vals, n = best_torch(lambda: best_of(lambda: fn(idx), repeats=repeats, warmup=warmup), device)
                note = torch_note(n, device)
            else:
                s, vals = best_of(lambda: fn(idx), repeats=repeats, warmup=warmup)
        except Exception as error:  # a peer that cannot run here is reported, not fatal
            rows.append(record(name, label, None, total, unit=unit, note=f"skipped: {type(error).__name__}: {str(error)[:120]}"))
            return
        extra = "" if frac == 1 else f"timed on {len(idx)} of {G} rows, extrapolated"
        rows.append(record(name, label, s / frac, total, unit=unit, agree=rel_diff(vals, ref[idx]),
                           note="; ".join(t for t in (extra, note) if t)))

    # losslab's generic path (vmap of the objective, chunked): what any two-parameter model gets
    add("losslab grid2d (generic direct path)", 64, lambda idx: grid_values(obj, phi0, phi1[idx], method="direct")[0])

    # plain JAX: vmap over the grid, jitted, chunks of 16 rows
    def jax_loss(p0, p1, x, y):
        z = p0 + 0.06 * p1 * x
        return jnp.sum((jnp.sin(z) * jnp.exp(-z * z / 32.0) - y) ** 2)

    rows_fn = jax.jit(jax.vmap(jax.vmap(jax_loss, (0, None, None, None)), (None, 0, None, None)))
    jphi0, jx, jy = jnp.asarray(phi0), jnp.asarray(x), jnp.asarray(y)

    def plain_jax(idx):
        return np.concatenate([np.asarray(rows_fn(jphi0, jnp.asarray(phi1[idx[k:k + 16]]), jx, jy)) for k in range(0, len(idx), 16)])

    add("plain JAX (jit + vmap over grid)", 64, plain_jax)

    # NumPy broadcasting, 4 rows at a time
    def numpy_bcast(idx):
        out = []
        for k in range(0, len(idx), 4):
            z = phi0[None, :, None] + 0.06 * phi1[idx[k:k + 4], None, None] * x[None, None, :]
            out.append(np.sum((np.sin(z) * np.exp(-z * z / 32.0) - y) ** 2, axis=-1))
        return np.concatenate(out)

    add("NumPy broadcasting", 16, numpy_bcast)

    try:
        import numexpr as ne

        def numexpr_peer(idx):
            out = []
            a = phi0[None, :, None]
            xx = x[None, None, :]
            yy = y[None, None, :]
            for k in range(0, len(idx), 8):
                b = phi1[idx[k:k + 8], None, None]
                sq = ne.evaluate("(sin(a + 0.06 * b * xx) * exp(-(a + 0.06 * b * xx) ** 2 / 32.0) - yy) ** 2",
                                 local_dict={"a": a, "b": b, "xx": xx, "yy": yy})
                out.append(sq.sum(axis=-1))
            return np.concatenate(out)

        add(f"numexpr ({ne.get_num_threads()} threads)", 32, numexpr_peer)
    except ImportError:
        rows.append(record(name, "numexpr", None, total, unit=unit, note="skipped: numexpr not installed"))

    # the companion notebooks' style: a Python loop over grid points, NumPy over the data
    def notebook_loop(points):
        def model(phi, x):
            z = phi[0] + 0.06 * phi[1] * x
            return np.sin(z) * np.exp(-(z ** 2) / 32.0)

        def compute_loss(x, y, model, phi):
            return np.sum((model(phi, x) - y) ** 2)

        out = np.empty(points)
        for n in range(points):
            out[n] = compute_loss(x, y, model, np.array([phi0[n % G], phi1[n // G]]))
        return out

    pts = 200 if quick else 2000
    s, vals = best_of(lambda: notebook_loop(pts), repeats=1, warmup=0)
    flat_ref = ref.ravel()[:pts]
    rows.append(record(name, "notebook loop style (Python loop over grid)", s * (G * G / pts), total, unit=unit,
                       agree=rel_diff(vals, flat_ref), note=f"timed on {pts} of {G * G} grid points, extrapolated"))

    try:
        import torch

        dev = torch_device(device)
        tphi0 = torch.tensor(phi0, device=dev)
        tx, ty = torch.tensor(x, device=dev), torch.tensor(y, device=dev)

        def torch_rows(p1):
            z = tphi0[None, :, None] + 0.06 * p1[:, None, None] * tx[None, None, :]
            return torch.sum((torch.sin(z) * torch.exp(-z * z / 32.0) - ty) ** 2, dim=-1)

        def torch_eager(idx, fn=torch_rows, block=8):
            with torch.no_grad():
                out = [fn(torch.tensor(phi1[idx[k:k + block]], device=dev)) for k in range(0, len(idx), block)]
            sync_torch(device)
            return torch.cat(out).cpu().numpy()

        add("PyTorch eager", 32, torch_eager, torch_threads=True)
        if quick:
            rows.append(record(name, "torch.compile (inductor)", None, total, unit=unit, note="skipped in --quick (compile time)"))
            return finish(rows, "losslab grid2d (exact separable)")
        try:
            compiled = torch.compile(torch_rows, dynamic=False)
            add("torch.compile (inductor)", 64, lambda idx: torch_eager(idx, compiled, 8), warmup=1, torch_threads=True)
        except Exception as error:
            rows.append(record(name, "torch.compile", None, total, unit=unit, note=f"skipped: {type(error).__name__}"))
    except ImportError as exc:
        rows.append(record(name, "PyTorch", None, total, unit=unit, note=skip_note(exc)))
    return finish(rows, "losslab grid2d (exact separable)")
