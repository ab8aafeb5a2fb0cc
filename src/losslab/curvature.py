r"""Curvature of any objective without forming the Hessian.

Everything here touches the Hessian :math:`H = \nabla^2 L[\phi]` only through
Hessian-vector products :math:`Hv`, computed forward-over-reverse
(:math:`Hv = \frac{d}{d\epsilon} \nabla L[\phi + \epsilon v]`, one JVP of the
gradient: a small constant times the cost of one gradient), so a model with a
million parameters costs memory O(P), never O(P^2).

* :func:`top_eigenvalues` / :func:`bottom_eigenvalues`: extreme eigenpairs by
  Lanczos with full reorthogonalisation (or power iteration with deflation).
* :func:`power_iteration`: the dominant eigenpairs by power iteration, deflating
  each one found: :math:`v \leftarrow (H - \sum_l \lambda_l u_l u_l^T) v / \|\cdot\|`.
* :func:`hutchinson_trace`: :math:`\mathrm{tr} H = E[z^T H z]`, Rademacher
  :math:`z`, with the standard error of the mean.
* :func:`slq_density`: the eigenvalue density by stochastic Lanczos quadrature
  (Ghorbani, Krishnan & Xiao 2019): for each random unit :math:`v`, Lanczos
  gives nodes :math:`\theta_l` and weights :math:`\tau_l = (e_1^T y_l)^2` with
  :math:`v^T f(H) v \approx \sum_l \tau_l f(\theta_l)`; the density is the
  Gaussian-smoothed average of these spikes.

The low-level functions take any symmetric linear map ``matvec`` of dimension
``dim``; the ``objective`` versions build the HVP for you (:func:`make_hvp`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from .errors import LosslabError, check_choice, check_int, check_number, check_seed
from .memory import refuse_if_over

__all__ = [
    "make_hvp",
    "estimate_bytes",
    "check_memory",
    "lanczos",
    "EigenResult",
    "TraceEstimate",
    "SpectralDensity",
    "top_eigenvalues",
    "bottom_eigenvalues",
    "power_iteration",
    "hutchinson_trace",
    "hessian_trace",
    "default_iters",
    "lanczos_vectors",
    "slq_vectors",
    "slq_density",
    "eigsh",
    "HessianSpectrum",
    "hessian_spectrum",
]

Progress = Callable[[int, int], None] | None
CONVERGED = 1e-6  # a residual at most this fraction of the largest |eigenvalue| counts as converged


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, repr=False)
class EigenResult:
    """Eigenvalues (sorted as asked), unit eigenvectors ``(k, P)`` and their residuals ``||Hu - lambda u||``."""

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    residuals: np.ndarray
    method: str
    iterations: int
    matvecs: int
    tridiagonal: tuple[np.ndarray, np.ndarray] | None = None  # Lanczos's (alphas, betas), for Ritz histories

    def ritz_history(self) -> np.ndarray:
        """The extreme Ritz value after each Lanczos step (largest, or smallest for a bottom
        search): how the estimate converged, from the run's own tridiagonal matrix."""
        if self.tridiagonal is None:
            raise LosslabError("The Ritz history needs a Lanczos result (method='lanczos').")
        alphas, betas = self.tridiagonal
        largest = len(self.eigenvalues) < 2 or self.eigenvalues[0] >= self.eigenvalues[-1]
        out = []
        for j in range(1, len(alphas) + 1):
            theta = np.linalg.eigvalsh(_tridiag(alphas[:j], betas[: j - 1]))
            out.append(theta[-1] if largest else theta[0])
        return np.asarray(out)

    @property
    def converged(self) -> np.ndarray:
        """Which pairs have converged: residual ``||Hu - lambda u||`` at most 1e-6 of the largest
        |eigenvalue| found. The others are Ritz values (bounds of the true ones from inside)."""
        scale = max(float(np.max(np.abs(self.eigenvalues))), 1e-300)
        return np.asarray(self.residuals) <= CONVERGED * scale

    def __repr__(self) -> str:
        vals = ", ".join(f"{v:.6g}" for v in self.eigenvalues)
        return f"EigenResult([{vals}], method={self.method!r}, iterations={self.iterations}, matvecs={self.matvecs})"


@dataclass(frozen=True, repr=False)
class TraceEstimate:
    """tr H with its standard error: Hutchinson's ``std(samples) / sqrt(n)``, or 0 when ``method`` is exact."""

    trace: float
    stderr: float
    samples: np.ndarray
    method: str = "Hutchinson"

    def __repr__(self) -> str:
        return f"TraceEstimate({self.trace:.6g} +/- {self.stderr:.3g}, {self.method}, {len(self.samples)} samples)"


@dataclass(frozen=True, repr=False)
class SpectralDensity:
    """Smoothed eigenvalue density on ``grid`` (integrates to ~1), from SLQ ``nodes``/``weights`` ``(n_vectors, m)``."""

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    sigma: float

    def moment(self, p: int) -> float:
        """Estimate of tr(H^p) / P from the quadrature (exact in expectation for p < 2m)."""
        return float(np.mean(np.sum(self.weights * self.nodes**p, axis=1)))

    def __repr__(self) -> str:
        return (
            f"SpectralDensity({self.nodes.shape[0]} vectors x {self.nodes.shape[1]} Lanczos steps, "
            f"support [{self.nodes.min():.4g}, {self.nodes.max():.4g}], sigma={self.sigma:.3g})"
        )


# ----------------------------------------------------------------------------- HVP
def make_hvp(objective, params, *, linearize: bool = True) -> Callable:
    """``v -> H[params] v`` for ``objective`` as a jitted closure.

    Every product is forward-over-reverse (the JVP of the gradient map). With
    ``linearize=True`` (the default) the gradient is linearised at ``params`` once, in one
    compiled pass that costs about one gradient, and each product then runs only the
    tangent pass: on the 1-1000-1000-1 MLP (1,004,001 parameters, 1,000 points) that is
    0.10 s per product instead of 0.13 s, at the price of keeping the forward pass's
    activations (120 MB there). ``linearize=False`` keeps nothing and recomputes them.
    """
    params = jnp.asarray(objective.check_params(params))
    x, y = objective.x, objective.y
    if linearize:
        return partial(_apply_linear, _linearizer_for(objective.loss_on)(params, x, y))
    return partial(_hvp_for(objective.loss_on), params, x=x, y=y)


@lru_cache(maxsize=64)
def _hvp_for(loss_on):
    @jax.jit
    def hvp(p, v, *, x, y):
        # forward-over-reverse: the JVP of the gradient map
        return jax.jvp(lambda q: jax.grad(loss_on)(q, x, y), (p,), (v,))[1]

    return hvp


@lru_cache(maxsize=64)
def _linearizer_for(loss_on):
    @jax.jit
    def linearizer(p, x, y):
        # the tangent map comes back as a pytree (jax.tree_util.Partial) holding the residuals,
        # so applying it is an ordinary jitted call with no constants baked into the program
        return jax.linearize(lambda q: jax.grad(loss_on)(q, x, y), p)[1]

    return linearizer


@jax.jit
def _apply_linear(linear, v):
    return linear(v)


def estimate_bytes(objective, *, vectors: int) -> int:
    """Working memory of HVP-based curvature on ``objective``: ``vectors`` vectors of P float64
    (the Krylov basis, eigenvectors, work vectors, the parameters) plus twice what the
    linearised gradient keeps (the forward pass's activations, and the tangent pass's).
    The activations are measured with ``jax.eval_shape``: nothing is allocated."""
    p = int(objective.n_params)
    spec = jax.ShapeDtypeStruct((p,), jnp.float64)
    kept = jax.eval_shape(_linearizer_for(objective.loss_on), spec, objective.x, objective.y)
    kept_bytes = sum(int(np.prod(leaf.shape)) * np.dtype(leaf.dtype).itemsize for leaf in jax.tree_util.tree_leaves(kept))
    return 8 * p * int(vectors) + 2 * kept_bytes


def check_memory(objective, *, vectors: int, memory_limit: float | None = None, owner: str = "curvature",
                 advice: str = "use fewer iterations, fewer points or a smaller model, or raise memory_limit") -> int:
    """Refuse, with the estimate, a curvature computation that would not fit in ``memory_limit``
    bytes (default 4 GiB); returns the estimate. Call it before allocating the parameters."""
    need = estimate_bytes(objective, vectors=vectors)
    refuse_if_over(
        need, memory_limit, owner=owner,
        what=f"Curvature of {objective.model.name} ({objective.n_params:,} parameters, {objective.n_examples:,} points, "
             f"{vectors} vectors of P)",
        advice=advice,
    )
    return need


def _operator(operator, params, dim, *, vectors: int, memory_limit: float | None, owner: str):
    """(matvec, dim) from an Objective (+ params; its memory checked first) or a callable with ``dim``."""
    if callable(operator) and not hasattr(operator, "loss_on"):
        if dim is None:
            raise LosslabError("The 'dim' parameter is required when the operator is a function v -> Hv. Got None instead.")
        return operator, check_int("dim", dim, owner="curvature", ge=1)
    if not hasattr(operator, "loss_on"):
        raise LosslabError(f"The 'objective' parameter must be a losslab Objective or a function v -> Hv. Got {operator!r} instead.")
    if params is None:
        raise LosslabError("The 'params' parameter is required with an Objective. Got None instead.")
    check_memory(operator, vectors=vectors, memory_limit=memory_limit, owner=owner)
    return make_hvp(operator, params), operator.n_params


# ----------------------------------------------------------------------------- Lanczos
# Where the vector work runs follows where the products come back. From a CPU (and from a
# matvec that returns NumPy) the Krylov basis lives on the host, in NumPy: a step's vector work
# is a few passes over V (memory-bound, as fast in NumPy as in XLA on a CPU) and nothing is
# compiled per (steps, P). From a GPU it stays on the device: copying each product to the host
# and back, and passing over V there, cost more than the product itself (measured on an H200:
# 20 Lanczos steps on 1,004,001 parameters took 0.47 s for 20 products of 2.9 ms), so each
# step is one compiled program and one small read-back (alpha and beta, for the stopping test).
_DEVICE_LOOP = "auto"  # "auto": when products come back on an accelerator; tests set "always" / "never"


def _stays_on_device(w) -> bool:
    """Whether the iteration fed by product ``w`` keeps its vectors on ``w``'s device."""
    if _DEVICE_LOOP != "auto" or not isinstance(w, jax.Array):
        return _DEVICE_LOOP == "always" and isinstance(w, jax.Array) and w.is_fully_addressable
    return w.is_fully_addressable and all(d.platform != "cpu" for d in w.devices())


@jax.jit
def _orthogonalise_on_device(V, w, j, beta_prev):
    """:func:`_orthogonalise` on the device, for row ``j`` of a basis ``V`` (m, P) whose rows past
    ``j`` are zero (so passing over all of V changes nothing there). The second DGKS pass is
    computed always and kept where the test asks for it: a branch on the device's own numbers
    would make the host wait for them."""
    alpha = V[j] @ w
    w = w - alpha * V[j]
    w = w - jnp.where(j > 0, beta_prev, 0.0) * V[jnp.maximum(j - 1, 0)]
    before = jnp.linalg.norm(w)
    w = w - (V @ w) @ V
    again = w - (V @ w) @ V
    w = jnp.where(jnp.linalg.norm(w) < before / np.sqrt(2.0), again, w)
    norm = jnp.linalg.norm(w)
    return jnp.stack([alpha, norm]), w


@partial(jax.jit, donate_argnums=(0,))
def _set_row(V, j, w, norm):
    v = w / norm
    return V.at[j].set(v), v


def _orthogonalise(V: np.ndarray, w: np.ndarray, j: int, beta_prev: float) -> tuple[float, np.ndarray, float]:
    """alpha_j, then w <- w - alpha v_j - beta_{j-1} v_{j-1}, reorthogonalised against V[:j+1].

    One classical Gram-Schmidt pass, and a second only when the first removed most of w
    (the DGKS test ||w'|| < ||w|| / sqrt 2, as in ARPACK): for a million parameters each
    pass over V is most of a step's memory traffic.
    """
    basis = V[: j + 1]
    alpha = float(V[j] @ w)
    w = w - alpha * V[j]
    if j > 0:
        w -= beta_prev * V[j - 1]
    before = np.linalg.norm(w)
    w -= basis.T @ (basis @ w)
    if np.linalg.norm(w) < before / np.sqrt(2.0):
        w -= basis.T @ (basis @ w)
    return alpha, w, float(np.linalg.norm(w))


def lanczos(matvec: Callable, v0, iters: int, *, progress: Progress = None, tol: float = 1e-12):
    r"""``iters`` steps of Lanczos with full reorthogonalisation from ``v0``.

    Builds the orthonormal Krylov basis :math:`V` and tridiagonal
    :math:`T = V^T H V` (diagonal ``alphas``, off-diagonal ``betas``). Stops early
    when the Krylov space is invariant (:math:`\beta_j \le` tol :math:`\|T\|`).
    Returns ``(alphas, betas, V)`` with ``V`` (NumPy) of shape ``(m, P)``, m the steps done.
    """
    alphas, betas, V = _lanczos(matvec, v0, iters, progress=progress, tol=tol)
    return alphas, betas, np.asarray(V)


def _lanczos(matvec: Callable, v0, iters: int, *, progress: Progress = None, tol: float = 1e-12):
    """:func:`lanczos` with ``V`` where the products came back (NumPy, or a device array)."""
    v0 = np.asarray(v0, dtype=np.float64)
    dim = v0.shape[0]
    m = min(int(iters), dim)
    first = v0 / np.linalg.norm(v0)
    v = jnp.asarray(first)
    w = matvec(v)  # the first product decides where the basis lives
    if _stays_on_device(w):
        V = jax.device_put(jnp.zeros((m, dim), dtype=jnp.float64), w.sharding)
        V, v = _set_row(V, 0, jax.device_put(v, w.sharding), jnp.float64(1.0))
    else:
        V = np.zeros((m, dim))
        V[0] = first
    alphas, betas = [], []
    beta = 0.0
    scale = 0.0
    for j in range(m):
        if j > 0:
            w = matvec(v)  # v: row j, set at the end of the previous step
        if isinstance(V, np.ndarray):
            w = np.array(w, dtype=np.float64)  # a copy: updated in place below
            alpha, w, beta = _orthogonalise(V, w, j, beta)
        else:
            ab, w = _orthogonalise_on_device(V, jnp.asarray(w, dtype=jnp.float64), np.int32(j), np.float64(beta))
            alpha, beta = (float(x) for x in np.asarray(ab))  # the step's one read-back
        alphas.append(alpha)
        scale = max(scale, abs(alpha), beta)
        if progress is not None:
            progress(j + 1, m)
        if j == m - 1:
            break
        if not np.isfinite(beta):
            raise LosslabError("The Hessian-vector product returned a non-finite value (the loss is not finite at these params).")
        if beta <= tol * max(scale, 1e-300):
            # invariant subspace: its Ritz values are exact eigenvalues. Restart with a random
            # vector orthogonal to it (T gets a zero off-diagonal) so k > its dimension still works.
            fresh = np.random.default_rng(1000 + j).standard_normal(dim)
            if isinstance(V, np.ndarray):
                _, w, norm = _orthogonalise(V, fresh, j, 0.0)  # projects out V[:j+1]
            else:
                ab, w = _orthogonalise_on_device(V, jax.device_put(jnp.asarray(fresh), V.sharding), np.int32(j),
                                                 np.float64(0.0))
                norm = float(np.asarray(ab)[1])
            if norm <= 1e-12 * float(np.linalg.norm(fresh)):
                break  # V already spans everything
            beta = 0.0
            betas.append(0.0)
        else:
            betas.append(beta)
            norm = beta
        if isinstance(V, np.ndarray):
            V[j + 1] = w / norm
            v = jnp.asarray(V[j + 1])
        else:
            V, v = _set_row(V, np.int32(j + 1), w, np.float64(norm))
    k = len(alphas)
    return np.asarray(alphas), np.asarray(betas[: k - 1]), V[:k]


def _tridiag(alphas, betas) -> np.ndarray:
    return np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)


def _start_vector(dim: int, seed: int) -> np.ndarray:
    # NumPy's generator: the same vector in every process, and no compiled program per dimension
    return np.random.default_rng(seed).standard_normal(dim)


def eigsh(
    matvec: Callable,
    dim: int,
    k: int = 1,
    *,
    which: str = "largest",
    iters: int | None = None,
    seed: int = 0,
    return_vectors: bool = True,
    progress: Progress = None,
) -> EigenResult:
    """Extreme eigenpairs of a symmetric linear map by Lanczos (the matvec-level :func:`top_eigenvalues`)."""
    k = check_int("k", k, owner="eigsh", ge=1, le=dim)
    which = check_choice("which", which, ("largest", "smallest"), owner="eigsh")
    m = default_iters(k, dim) if iters is None else check_int("iters", iters, owner="eigsh", ge=k)
    alphas, betas, V = _lanczos(matvec, _start_vector(dim, seed), m, progress=progress)
    theta, Y = np.linalg.eigh(_tridiag(alphas, betas))
    order = np.argsort(-theta if which == "largest" else theta)[:k]
    vals = theta[order]
    vecs = None
    residuals = np.full(len(order), np.nan)
    if return_vectors:
        if isinstance(V, np.ndarray):
            vecs = Y[:, order].T @ V  # (k, m) x (m, P): one pass over V
            residuals = np.array([float(np.linalg.norm(np.asarray(matvec(jnp.asarray(u))) - lam * u))
                                  for lam, u in zip(vals, vecs)])
        else:  # on the device: the k vectors come to the host once, at the end
            on_device = jax.device_put(jnp.asarray(Y[:, order].T), V.sharding) @ V
            residuals = np.array([float(_residual(matvec(u), u, np.float64(lam))) for lam, u in zip(vals, on_device)])
            vecs = np.asarray(on_device)
    return EigenResult(vals, vecs, residuals, "lanczos", len(alphas), len(alphas) + (len(vals) if return_vectors else 0),
                       (alphas, betas))


def default_iters(k: int, dim: int | None = None) -> int:
    """Lanczos steps for ``k`` eigenpairs when none are given: max(3k + 15, 30), at most ``dim``."""
    m = max(3 * k + 15, 30)
    return m if dim is None else min(dim, m)


def lanczos_vectors(k: int, iters: int | None = None) -> int:
    """Vectors of P numbers a Lanczos run for ``k`` eigenpairs holds: its basis, the Ritz vectors, working space."""
    return (default_iters(k) if iters is None else iters) + k + 6


def slq_vectors(iters: int = 60) -> int:
    """Vectors of P numbers one SLQ quadrature of ``iters`` Lanczos steps holds."""
    return iters + 6


def top_eigenvalues(
    objective,
    params=None,
    k: int = 1,
    *,
    method: str = "lanczos",
    which: str = "largest",
    iters: int | None = None,
    seed: int = 0,
    return_vectors: bool = True,
    dim: int | None = None,
    progress: Progress = None,
    memory_limit: float | None = None,
) -> EigenResult:
    """The ``k`` largest (``which="smallest"``: smallest) Hessian eigenvalues at ``params``, with eigenvectors.

    ``objective`` is an :class:`~losslab.objective.Objective` (then ``params``
    is required) or a symmetric ``matvec`` with ``dim``. ``method="lanczos"``
    (default, ``iters`` Krylov steps, default ``max(3k + 15, 30)`` capped at P)
    or ``"power"`` (power iteration with deflation: finds the k largest in
    *magnitude*, ``which`` must be "largest"). A request that would need more than
    ``memory_limit`` bytes (default 4 GiB, :func:`estimate_bytes`) is refused up front.
    """
    method = check_choice("method", method, ("lanczos", "power"), owner="top_eigenvalues")
    k_int = k if isinstance(k, int) else 1  # validated where it is used
    held = lanczos_vectors(k_int, iters if isinstance(iters, int) else None) if method == "lanczos" else 2 * k_int + 6
    matvec, dim = _operator(objective, params, dim, vectors=held, memory_limit=memory_limit, owner="top_eigenvalues")
    if method == "power":
        if which != "largest":
            raise LosslabError(f"The 'which' parameter of top_eigenvalues must be 'largest' with method='power'. Got {which!r} instead.")
        return _power(matvec, dim, k, iters=200 if iters is None else iters, tol=1e-10, seed=seed, progress=progress)
    return eigsh(matvec, dim, k, which=which, iters=iters, seed=seed, return_vectors=return_vectors, progress=progress)


def bottom_eigenvalues(objective, params=None, k: int = 1, **kwargs) -> EigenResult:
    """The ``k`` smallest Hessian eigenvalues (Lanczos): negative ones mean a saddle or a maximum direction."""
    return top_eigenvalues(objective, params, k, which="smallest", **kwargs)


# ----------------------------------------------------------------------------- power iteration
def _power_update(w: np.ndarray, v: np.ndarray, U: np.ndarray, lam: np.ndarray):
    """Given w = Hv: the deflated product (H - sum_l lam_l u_l u_l^T) v, its Rayleigh quotient
    v^T w, its norm and the next iterate (on the host, as Lanczos's vector work)."""
    w = w - U.T @ (lam * (U @ v))
    norm = float(np.linalg.norm(w))
    return float(v @ w), norm, w / (norm if norm > 0 else 1.0)


@jax.jit
def _vdot(a, b):
    return jnp.vdot(a, b)


@jax.jit
def _residual(hu, u, lam):
    return jnp.linalg.norm(hu - lam * u)


@jax.jit
def _power_update_on_device(w, v, U, lam):
    """:func:`_power_update` on the device: (Rayleigh quotient, norm) in one array (the step's one
    read-back) and the next iterate."""
    w = w - U.T @ (lam * (U @ v))
    norm = jnp.linalg.norm(w)
    return jnp.stack([v @ w, norm]), w / jnp.where(norm > 0, norm, 1.0)


@jax.jit
def _rayleigh_on_device(hv, v):
    lam = v @ hv
    return jnp.stack([lam, jnp.linalg.norm(hv - lam * v)])


def _power(matvec, dim, k, *, iters, tol, seed, progress) -> EigenResult:
    k = check_int("k", k, owner="power_iteration", ge=1, le=dim)
    iters = check_int("iters", iters, owner="power_iteration", ge=1)
    tol = check_number("tol", tol, owner="power_iteration", ge=0)
    vals, vecs, residuals = [], [], []
    n_mv = 0
    total_its = 0
    rng = np.random.default_rng(seed)  # start vectors drawn on the host: nothing to compile per dimension
    on_device, sharding = None, None  # decided by where the first product comes back (see _stays_on_device)
    for i in range(k):
        v = rng.standard_normal(dim)
        v = v / np.linalg.norm(v)
        if on_device:
            v = jax.device_put(jnp.asarray(v), sharding)
            U = jnp.stack(vecs) if vecs else jnp.zeros((1, dim), dtype=jnp.float64)
            lam_arr = jnp.asarray(vals if vals else [0.0], dtype=jnp.float64)
        else:
            U = np.array(vecs) if vecs else np.zeros((1, dim))
            lam_arr = np.array(vals) if vals else np.zeros(1)
        lam = np.inf
        for it in range(iters):
            w = matvec(jnp.asarray(v))
            if on_device is None:
                on_device = _stays_on_device(w)
                if on_device:
                    sharding = w.sharding
                    v, U, lam_arr = (jax.device_put(jnp.asarray(a), sharding) for a in (v, U, lam_arr))
            if on_device:
                pair, v_next = _power_update_on_device(jnp.asarray(w, dtype=jnp.float64), v, U, lam_arr)
                new, norm = (float(x) for x in np.asarray(pair))  # the step's one read-back
            else:
                new, norm, v_next = _power_update(np.asarray(w, dtype=np.float64), v, U, lam_arr)
            n_mv += 1
            if norm == 0.0:
                break
            v = v_next
            total_its += 1
            if progress is not None:
                progress(i * iters + it + 1, k * iters)
            if abs(new - lam) <= tol * max(abs(new), 1e-300):
                lam = new
                break
            lam = new
        n_mv += 1
        if on_device:
            lam, residual = (float(x) for x in np.asarray(_rayleigh_on_device(jnp.asarray(matvec(v), dtype=jnp.float64), v)))
        else:
            hv = np.asarray(matvec(jnp.asarray(v)), dtype=np.float64)
            lam = float(np.vdot(v, hv))  # Rayleigh quotient with the undeflated H
            residual = float(np.linalg.norm(hv - lam * v))
        vals.append(lam)
        vecs.append(v)
        residuals.append(residual)
    return EigenResult(np.array(vals), np.array([np.asarray(u) for u in vecs]), np.array(residuals), "power", total_its, n_mv)


def power_iteration(
    objective,
    params=None,
    k: int = 1,
    *,
    iters: int = 200,
    tol: float = 1e-10,
    seed: int = 0,
    dim: int | None = None,
    progress: Progress = None,
    memory_limit: float | None = None,
) -> EigenResult:
    r"""The ``k`` largest-magnitude Hessian eigenpairs by power iteration with deflation.

    Each pair: :math:`v \leftarrow \tilde H v / \|\tilde H v\|` with
    :math:`\tilde H = H - \sum_{l<i} \lambda_l u_l u_l^T`, until the Rayleigh
    quotient changes by less than ``tol`` (relative) or ``iters`` steps. Convergence
    is geometric in :math:`|\lambda_{i+1} / \lambda_i|`; Lanczos is faster.
    """
    k_int = k if isinstance(k, int) else 1
    matvec, dim = _operator(objective, params, dim, vectors=2 * k_int + 6, memory_limit=memory_limit,
                            owner="power_iteration")
    return _power(matvec, dim, k, iters=iters, tol=tol, seed=seed, progress=progress)


# ----------------------------------------------------------------------------- trace
def hutchinson_trace(
    objective,
    params=None,
    *,
    samples: int = 100,
    seed: int = 0,
    dim: int | None = None,
    progress: Progress = None,
    memory_limit: float | None = None,
) -> TraceEstimate:
    r"""Hutchinson's estimator :math:`\mathrm{tr} H \approx \frac1n \sum_s z_s^T H z_s`, :math:`z_s \in \{\pm1\}^P`.

    The standard error is :math:`\mathrm{sd}(z_s^T H z_s)/\sqrt{n}` (sample sd,
    ``ddof=1``); the variance of one sample is :math:`2\sum_{i \ne j} H_{ij}^2`,
    so a diagonal H is estimated exactly.
    """
    samples = check_int("samples", samples, owner="hutchinson_trace", ge=2)
    seed = check_seed("seed", seed, owner="hutchinson_trace")
    matvec, dim = _operator(objective, params, dim, vectors=6, memory_limit=memory_limit, owner="hutchinson_trace")
    rng = np.random.default_rng(seed)
    values = np.empty(samples)
    for s in range(samples):
        z = _rademacher(rng, dim)
        zj = jnp.asarray(z)
        hz = matvec(zj)
        # from a GPU only the number comes back, not the product (see _stays_on_device)
        values[s] = float(_vdot(zj, hz)) if _stays_on_device(hz) else float(np.vdot(z, np.asarray(hz)))
        if progress is not None:
            progress(s + 1, samples)
    return TraceEstimate(float(values.mean()), float(values.std(ddof=1) / np.sqrt(samples)), values,
                         f"Hutchinson ({samples} samples)")


def hessian_trace(
    objective,
    params=None,
    *,
    samples: int = 100,
    seed: int = 0,
    dim: int | None = None,
    progress: Progress = None,
    memory_limit: float | None = None,
) -> TraceEstimate:
    """tr H: exactly, from the P unit vectors, when P <= ``samples`` (no more products than the
    probes would cost), else :func:`hutchinson_trace` with ``samples`` probes."""
    samples = check_int("samples", samples, owner="hessian_trace", ge=2)
    matvec, dim = _operator(objective, params, dim, vectors=6, memory_limit=memory_limit, owner="hessian_trace")
    if dim > samples:
        return hutchinson_trace(matvec, dim=dim, samples=samples, seed=seed, progress=progress)
    diagonal = np.empty(dim)
    for i in range(dim):
        unit = np.zeros(dim)
        unit[i] = 1.0
        diagonal[i] = float(np.asarray(matvec(jnp.asarray(unit)))[i])
        if progress is not None:
            progress(i + 1, dim)
    return TraceEstimate(float(diagonal.sum()), 0.0, diagonal, f"exact ({dim} unit vectors)")


def _rademacher(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A vector of independent +-1 entries (float64), drawn on the host."""
    return rng.integers(0, 2, dim).astype(np.float64) * 2.0 - 1.0


# ----------------------------------------------------------------------------- density
def slq_density(
    objective,
    params=None,
    *,
    vectors: int = 5,
    iters: int = 60,
    seed: int = 0,
    sigma: float | None = None,
    grid: int | np.ndarray = 512,
    dim: int | None = None,
    progress: Progress = None,
    memory_limit: float | None = None,
) -> SpectralDensity:
    r"""Eigenvalue density by stochastic Lanczos quadrature.

    For each of ``vectors`` random unit vectors, ``iters`` Lanczos steps give
    the Gauss quadrature of :math:`v^T \delta(H - \lambda) v`: nodes
    :math:`\theta_l` (eigenvalues of T) and weights :math:`(e_1^T y_l)^2`. The
    density is :math:`\frac1{n_v}\sum_v \sum_l \tau_l \, N(\lambda; \theta_l, \sigma^2)`
    on ``grid`` (an array, or a number of points spanning the nodes with margin).
    ``sigma`` defaults to 1% of the spectral range.
    """
    vectors = check_int("vectors", vectors, owner="slq_density", ge=1)
    iters = check_int("iters", iters, owner="slq_density", ge=1)
    matvec, dim = _operator(objective, params, dim, vectors=slq_vectors(iters), memory_limit=memory_limit, owner="slq_density")
    m = min(iters, dim)
    nodes = np.zeros((vectors, m))
    weights = np.zeros((vectors, m))
    rng = np.random.default_rng(seed)
    for r in range(vectors):
        v0 = _rademacher(rng, dim)
        step = (lambda j, _m, r=r: progress(r * m + j, vectors * m)) if progress is not None else None
        alphas, betas, _ = _lanczos(matvec, v0, m, progress=step)
        theta, Y = np.linalg.eigh(_tridiag(alphas, betas))
        # an early stop (invariant subspace) leaves fewer nodes: pad with zero weight
        nodes[r, : len(theta)] = theta
        nodes[r, len(theta) :] = theta[-1]
        weights[r, : len(theta)] = Y[0, :] ** 2
    lo, hi = float(nodes.min()), float(nodes.max())
    span = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
    if sigma is None:
        sigma = 0.01 * span
    sigma = check_number("sigma", sigma, owner="slq_density", gt=0)
    if np.ndim(grid) == 0:
        n = check_int("grid", grid, owner="slq_density", ge=2)
        pad = 0.05 * span + 3 * sigma
        grid = np.linspace(lo - pad, hi + pad, n)
    grid = np.asarray(grid, dtype=np.float64)
    gauss = np.exp(-0.5 * ((grid[None, None, :] - nodes[:, :, None]) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    density = np.einsum("vl,vlg->g", weights, gauss) / vectors
    return SpectralDensity(grid, density, nodes, weights, float(sigma))


# ----------------------------------------------------------------------------- any model, any data
@dataclass(frozen=True, repr=False)
class HessianSpectrum:
    """The Hessian of a user's loss over a data set: top eigenvalues (descending) with their
    residuals and convergence, Hutchinson's trace, and the SLQ density when asked.

    ``eigenvectors`` are flat ``(k, P)``; :meth:`eigenvector` gives one as a parameter pytree.
    """

    top_eigenvalues: np.ndarray
    residuals: np.ndarray
    eigenvectors: np.ndarray
    trace: TraceEstimate | None
    density: SpectralDensity | None
    loss: float
    n_params: int
    n_batches: int
    reduction: str
    devices: int
    processes: int
    lanczos_steps: int
    matvecs: int
    _unravel: Callable

    @property
    def converged(self) -> np.ndarray:
        """Residual ``||Hu - lambda u||`` at most 1e-6 of the largest |eigenvalue| (else a Ritz value: a lower bound)."""
        return EigenResult(self.top_eigenvalues, None, self.residuals, "lanczos", 0, 0).converged

    def eigenvector(self, i: int):
        """The ``i``-th eigenvector (unit norm over all parameters) in the shape of ``params``."""
        i = check_int("i", i, owner="HessianSpectrum.eigenvector", ge=0, le=len(self.top_eigenvalues) - 1)
        return self._unravel(self.eigenvectors[i])

    def __repr__(self) -> str:
        where = f"{self.devices} device{'s' * (self.devices > 1)} x {self.processes} process{'es' * (self.processes > 1)}"
        lines = [
            (f"HessianSpectrum({self.n_params:,} parameters, {self.n_batches} batch{'es' * (self.n_batches > 1)} "
             f"(reduction={self.reduction!r}) on {where}; loss {self.loss:.6g}"),
            "  top eigenvalues: " + ", ".join(f"{v:.6g}" for v in self.top_eigenvalues),
        ]
        bad = [str(i + 1) for i, ok in enumerate(self.converged) if not ok]
        lines.append(
            f"  converged: all {len(self.converged)} (residual <= 1e-6 x max|lambda|; largest {np.max(self.residuals):.2g})"
            if not bad else
            f"  not converged: {', '.join(bad)} (residual above 1e-6 x max|lambda|: Ritz values, lower bounds; raise iters)"
        )
        if self.trace is not None:
            lines.append(f"  trace: {self.trace.trace:.6g} +/- {self.trace.stderr:.3g} (Hutchinson, {len(self.trace.samples)} samples)")
        if self.density is not None:
            lines.append(f"  density: {self.density!r}")
        lines.append(f"  {self.lanczos_steps} Lanczos steps, {self.matvecs} Hessian-vector products)")
        return "\n".join(lines)


def hessian_spectrum(
    loss_fn: Callable,
    params,
    data,
    *,
    top_k: int = 5,
    reduction: str = "sum",
    trace: bool = True,
    trace_samples: int = 100,
    density: bool = False,
    density_vectors: int = 5,
    density_iters: int = 60,
    iters: int | None = None,
    seed: int = 0,
    devices=None,
    linearize: bool = True,
    memory_limit: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> HessianSpectrum:
    r"""The Hessian spectrum of any JAX loss ``loss_fn(params, batch)`` over a data set.

    ``params`` is any pytree of floating arrays (a dict, a Flax ``variables["params"]``, the
    arrays of an Equinox model); ``data`` is one batch (an array, a tuple or a dict of arrays)
    or many: a list, a re-iterable loader, or a callable returning a fresh iterator. The loss is
    :math:`\sum_b` ``loss_fn(params, b)`` (``reduction="mean"``: the mean over batches), and each
    Hessian-vector product adds the batches' products, so only one batch per device is in memory.

    Returns :class:`HessianSpectrum`: the ``top_k`` largest eigenvalues (Lanczos, ``iters`` steps,
    default ``max(8k + 20, 60)``, capped at P) with residuals, Hutchinson's trace over ``trace_samples``
    Rademacher vectors with its standard error (``trace=False`` skips it), and the SLQ density
    (``density=True``; ``density_vectors`` x ``density_iters`` products). Float leaves are computed
    in float64. ``devices`` (default: all local) share each product's batches; under
    ``jax.distributed`` every process passes its own batches and gets the spectrum over all of them.
    ``progress(stage, done, total)`` is called as each product finishes.
    """
    from .pytree_hvp import OWNER, make_pytree_hvp

    top_k = check_int("top_k", top_k, owner=OWNER, ge=1)
    for name, value in (("trace", trace), ("density", density), ("linearize", linearize)):
        if not isinstance(value, (bool, np.bool_)):
            raise LosslabError(f"The '{name}' parameter of {OWNER} must be True or False. Got {value!r} instead.")
    trace_samples = check_int("trace_samples", trace_samples, owner=OWNER, ge=2)
    density_vectors = check_int("density_vectors", density_vectors, owner=OWNER, ge=1)
    density_iters = check_int("density_iters", density_iters, owner=OWNER, ge=2)
    seed = check_int("seed", seed, owner=OWNER, ge=0)
    if iters is not None:
        iters = check_int("iters", iters, owner=OWNER, ge=top_k)
    if progress is not None and not callable(progress):
        raise LosslabError(f"The 'progress' parameter of {OWNER} must be a function (stage, done, total). Got {progress!r} instead.")
    hvp = make_pytree_hvp(loss_fn, params, data, reduction=reduction, devices=devices, linearize=linearize)
    dim = hvp.dim
    if top_k > dim:
        raise LosslabError(f"The 'top_k' parameter of {OWNER} must be <= the number of parameters ({dim}). Got {top_k} instead.")
    steps = min(dim, max(8 * top_k + 20, 60) if iters is None else iters)
    vectors = max(steps + top_k, density_iters if density else 0) + 6
    refuse_if_over(
        8 * dim * vectors + (2 * hvp.kept_bytes() if hvp.linearized else 0), memory_limit, owner=OWNER,
        what=f"The Hessian spectrum of {dim:,} parameters ({vectors} vectors of P)",
        advice="use a smaller top_k, iters or density_iters, or raise memory_limit (bytes)",
    )

    def stage(name):
        return None if progress is None else (lambda done, total: progress(name, done, total))

    top = eigsh(hvp, dim, top_k, iters=steps, seed=seed, progress=stage("eigenvalues"))
    tr = hutchinson_trace(hvp, dim=dim, samples=trace_samples, seed=seed, progress=stage("trace")) if trace else None
    dens = (slq_density(hvp, dim=dim, vectors=density_vectors, iters=density_iters, seed=seed, progress=stage("density"))
            if density else None)
    return HessianSpectrum(
        top_eigenvalues=top.eigenvalues, residuals=top.residuals, eigenvectors=top.eigenvectors, trace=tr, density=dens,
        loss=hvp.loss, n_params=dim, n_batches=int(hvp.n_batches), reduction=hvp.reduction, devices=len(hvp.devices),
        processes=hvp.processes, lanczos_steps=top.iterations, matvecs=hvp.matvecs, _unravel=hvp.unravel,
    )


from .precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
