"""Problem 6.11: the Hessian of a model with a million parameters — its size, and what one does instead."""

from __future__ import annotations

import re
import time

import numpy as np

from .result import BookContext, Check, ProblemResult, check_close
from .seed import seed_section

TITLE = "The Hessian of a million-parameter model"
STATEMENT = "What dimensions will the Hessian have if the model has one million parameters?"

N = 1_000_000
MLP_WIDTHS = (1, 1000, 1000, 1)  # 1,004,001 parameters
MLP_WIDTHS_SMALL = (1, 100, 100, 1)  # 10,401 parameters
# The top eigenvalue is far from the rest: Lanczos has it to rounding after 5 steps (seeds 0-2; the
# residual check below says so on every run); 8 leave a margin and cost a quarter of the former 30.
LANCZOS_STEPS = 8
DENSE_CHECK_WIDTHS = (1, 24, 24, 1)  # 673 parameters: small enough for a dense eigendecomposition
DENSE_CHECK_STEPS = 20  # agrees with eigvalsh to 1e-15 from 12 steps on (seeds 0-3)


def hessian_size(n: int) -> dict:
    """Shape, entries, unique entries (symmetric), and bytes of the dense Hessian of n parameters (exact integers)."""
    entries = n * n
    unique = n * (n + 1) // 2
    return {
        "shape": (n, n),
        "entries": entries,
        "unique_entries": unique,
        "bytes_float32": 4 * entries,
        "bytes_float64": 8 * entries,
        "bytes_float32_unique": 4 * unique,
        "bytes_float64_unique": 8 * unique,
    }


def _human(nbytes: int) -> str:
    return f"{nbytes / 1e12:g} TB ({nbytes / 2**40:.2f} TiB)"


def mlp_param_count(widths) -> int:
    """Independent count: sum over layers of (fan_in x fan_out weights + fan_out biases)."""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def top_eigenvalue_of_mlp(widths, seed: int = 0, iters: int = LANCZOS_STEPS):
    """The largest Hessian eigenvalue of a ReLU MLP's least-squares loss on the book's shallow data, by Lanczos on HVPs,
    with the Ritz value after each step (from the same run) for the convergence figure."""
    from ..curvature import top_eigenvalues
    from ..objective import make_objective

    obj = make_objective("mlp", "book:shallow", widths=widths)
    params = obj.model.init(seed)
    start = time.perf_counter()
    result = top_eigenvalues(obj, params, k=1, iters=iters, seed=seed)
    seconds = time.perf_counter() - start
    return obj, params, result, seconds, [float(v) for v in result.ritz_history()]


# Tolerances of the checks, and why
RAYLEIGH_RTOL = 1e-8  # u^T H u by an independent HVP vs the Ritz value: equal up to the residual squared
RESIDUAL_MAX = 1e-5  # ||Hu - lambda u|| / |lambda| of the converged Ritz pair (it reaches ~1e-8 and below)
POWER_RTOL = 1e-5  # power iteration stops at a relative change of 1e-10 per step; its error is ~ the gap ratio^iters
DENSE_RTOL = 1e-9  # Lanczos with 20 steps on a small net vs LAPACK's dense eigvalsh: converged to round-off
SYMMETRY_MAX = 1e-12  # a float64 forward-over-reverse product: the two triangles agree to rounding


def solve(ctx: BookContext) -> ProblemResult:
    from ..curvature import make_hvp, power_iteration, top_eigenvalues
    from ..objective import make_objective
    from ..plots.book import eigen_convergence_figure

    # -- compute: the size of a 10^6-parameter Hessian, and the top eigenvalue of a real MLP's Hessian
    # by Lanczos on Hessian-vector products (no Hessian formed)
    size = hessian_size(N)
    widths = MLP_WIDTHS_SMALL if ctx.small else MLP_WIDTHS
    obj, params, eig, seconds, history = top_eigenvalue_of_mlp(widths, seed=ctx.seed)
    n_params = obj.n_params
    top = float(eig.eigenvalues[0])
    u = np.asarray(eig.eigenvectors[0])

    # -- checks, against independent references: brute-force counts, NumPy's bytes, an independent HVP,
    # power iteration from another start, the dense Hessian of a small net
    brute = all(len(np.triu_indices(n)[0]) == hessian_size(n)["unique_entries"] and np.ones((n, n)).size == hessian_size(n)["entries"]
                for n in range(1, 60))  # a symmetric matrix's distinct entries are its upper triangle
    dense_bytes = np.zeros((100, 100), dtype=np.float32).nbytes, np.zeros((100, 100), dtype=np.float64).nbytes
    hu = np.asarray(obj.hvp(params, u))
    rayleigh = float(u @ hu / (u @ u))
    residual = float(np.linalg.norm(hu - top * u) / abs(top))
    power = power_iteration(obj, params, k=1, iters=300, tol=1e-10, seed=ctx.seed + 1)
    # Lanczos as run above (on the linearised products), and the dense matrix of those same products,
    # one column per basis vector, decomposed by LAPACK: the Krylov method against a direct one on one
    # operator. (The products themselves are checked above against an independent HVP and power
    # iteration; jax.hessian here compiled a program of its own for 1.6 s, a tenth of a first run.)
    small = make_objective("mlp", "book:shallow", widths=DENSE_CHECK_WIDTHS)
    sp_params = small.model.init(ctx.seed)
    lanczos_small = float(top_eigenvalues(small, sp_params, k=1, iters=DENSE_CHECK_STEPS).eigenvalues[0])
    small_hvp = make_hvp(small, sp_params)
    dense = np.column_stack([np.asarray(small_hvp(e)) for e in np.eye(small.n_params)])
    asymmetry = float(np.max(np.abs(dense - dense.T)) / np.max(np.abs(dense)))
    dense_top = float(np.linalg.eigvalsh(dense)[-1])
    checks: list[Check] = [
        Check("n(n+1)/2 = size of the upper triangle (brute force, n = 1..59)", bool(brute), "np.triu_indices"),
        Check("bytes per entry: NumPy float32/float64 100x100 arrays", dense_bytes == (hessian_size(100)["bytes_float32"], hessian_size(100)["bytes_float64"]),
              f"{dense_bytes}"),
        Check(f"MLP {widths} has sum(fan_in*fan_out + fan_out) parameters", n_params == mlp_param_count(widths), f"{n_params:,}"),
        check_close("Rayleigh quotient u^T H u (independent HVP) = the Lanczos eigenvalue", rayleigh, top, rtol=RAYLEIGH_RTOL, atol=0),
        Check("relative residual ||Hu - lambda u|| / |lambda| is small", residual < RESIDUAL_MAX, f"{residual:.2e}"),
        check_close("power iteration (another start, another method) agrees", float(power.eigenvalues[0]), top, rtol=POWER_RTOL, atol=0),
        Check(f"the {small.n_params} x {small.n_params} Hessian from one product per basis vector is symmetric (mixed partials commute)",
              asymmetry < SYMMETRY_MAX, f"max |H - H^T| / max |H| = {asymmetry:.1e}"),
        check_close(f"Lanczos vs dense eigvalsh on a {small.n_params}-parameter MLP", lanczos_small, dense_top, rtol=DENSE_RTOL, atol=0),
    ]

    # -- figure and text
    seed_text = seed_section("6.11")
    exps = [int(e) for e in re.findall(r"10\^\{?(\d+)\}?", seed_text.split("?", 1)[-1])]
    seed_shape = (10 ** exps[0], 10 ** exps[1]) if len(exps) >= 2 else None
    figures = [
        str(
            eigen_convergence_figure(
                history, top, ctx.figure_path("p6_11_lanczos_convergence.png"),
                title=f"Problem 6.11: largest Hessian eigenvalue of a {n_params:,}-parameter MLP by Lanczos (no Hessian formed)",
            )
        )
    ]
    summary = (
        f"The Hessian of $n = 10^6$ parameters is an $n\\times n$ = $10^6\\times 10^6$ matrix: $10^{{12}}$ entries, of which "
        f"$n(n+1)/2$ = {size['unique_entries']:,} are distinct (it is symmetric). Stored densely it needs {_human(size['bytes_float32'])} in float32 "
        f"and {_human(size['bytes_float64'])} in float64 (half that for the upper triangle): far beyond any accelerator.\n\n"
        "**What one does instead:** never form it. A Hessian-vector product $\\mathbf{H}\\mathbf{v}$ costs about one extra gradient "
        "(forward-over-reverse autodiff), and iterative methods built on it (Lanczos, power iteration, Hutchinson's trace estimator) give the "
        f"curvature one needs. On a real ReLU MLP {widths} with {n_params:,} parameters (least squares on the book's 20-point shallow data), "
        f"Lanczos with {eig.matvecs} Hessian-vector products gives the largest eigenvalue **{top:.6g}** in {seconds:.2f} s "
        f"(residual {residual:.1e}; power iteration agrees to {abs(float(power.eigenvalues[0]) - top) / abs(top):.1e})."
    )
    derivation = (
        "$\\mathbf{H}_{jk} = \\partial^2 L/\\partial\\phi_j\\partial\\phi_k$ for every pair of parameters, so it has $n^2$ entries; since mixed "
        "partial derivatives commute (for twice continuously differentiable $L$), $\\mathbf{H}_{jk}=\\mathbf{H}_{kj}$ and the distinct entries are the "
        "diagonal and one triangle: $n + n(n-1)/2 = n(n+1)/2$. At 4 bytes per float32 entry, $4\\times 10^{12}$ bytes.\n\n"
        "The product $\\mathbf{H}\\mathbf{v} = \\frac{d}{d\\epsilon}\\nabla L[\\phi+\\epsilon\\mathbf{v}]\\big|_{\\epsilon=0}$ is a directional derivative of the "
        "gradient, computed by one forward-mode pass through the reverse-mode gradient, in $O(n)$ memory. Lanczos builds an orthonormal basis of "
        "the Krylov space $\\{\\mathbf{v},\\mathbf{H}\\mathbf{v},\\mathbf{H}^2\\mathbf{v},\\dots\\}$; the extreme eigenvalues of its small tridiagonal matrix "
        "converge quickly to those of $\\mathbf{H}$."
    )
    agrees = seed_shape == size["shape"]
    return ProblemResult(
        problem="6.11",
        title=TITLE,
        statement=STATEMENT,
        answer={
            "shape": size["shape"],
            "entries": size["entries"],
            "unique_entries": size["unique_entries"],
            "bytes_float32": size["bytes_float32"],
            "bytes_float64": size["bytes_float64"],
            "mlp_widths": widths,
            "mlp_params": n_params,
            "top_eigenvalue": top,
            "top_eigenvalue_seconds": seconds,
            "hvp_count": int(eig.matvecs),
            "residual": residual,
        },
        summary=summary,
        checks=checks,
        figures=figures,
        seed_verdict="agrees" if agrees else ("disagrees" if seed_shape else "no answer"),
        seed_notes=(
            f"The sheet's $10^6\\times 10^6$ is right (parsed {seed_shape}). It stops there: it does not count the $10^{{12}}$ entries "
            f"({size['unique_entries']:,} distinct), the 4 TB of float32 memory, or say that one works with Hessian-vector products instead."
            if agrees
            else f"The sheet's shape {seed_shape} differs from the computed {size['shape']}."
        ),
        derivation=derivation,
    )
