"""Loss landscapes: two-parameter grids, convexity maps, and slices of big models.

* :func:`grid2d` evaluates any two-parameter objective on a G x G grid,
  chunked over grid rows so memory stays bounded, split over every device
  (:mod:`losslab.sharding`). A model that declares a grid kernel
  (``model.capabilities.grid``, e.g. the Gabor model's exact separable form in
  :mod:`losslab.gabor`) is evaluated with it: a 1024 x 1024 x 1000 grid becomes a
  few matrix products instead of 1e9 model evaluations.
* :func:`min_eigenvalue_map`: the smallest eigenvalue of the 2 x 2 Hessian at
  every grid point (the loss is locally convex where it is >= 0).
* For models with many parameters (Li et al. 2018, "Visualizing the loss
  landscape of neural nets"): :func:`random_direction` (filter-normalised),
  :func:`eigen_directions` (top Hessian eigenvectors), :func:`slice_1d`,
  :func:`slice_2d` and :func:`interpolate` (the straight line between two solutions).

Requests too large for memory are refused up front with the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from .errors import LosslabError, check_choice, check_int, check_number, check_seed
from .memory import DEFAULT_MEMORY_LIMIT, gib, resolve_limit
from .program_store import stored_jit
from .sharding import map_rows

__all__ = [
    "Landscape",
    "EigenvalueMap",
    "Slice1D",
    "Slice2D",
    "grid2d",
    "grid_values",
    "min_eigenvalue_map",
    "estimate_bytes",
    "random_direction",
    "eigen_directions",
    "slice_1d",
    "slice_2d",
    "interpolate",
    "DEFAULT_MEMORY_LIMIT",
]

_WORKING_SET = 256 * 2**20  # target bytes per automatic chunk
_BYTES_PER_EVAL = 16  # float64 z and f per (grid point, data point)
# "auto" evaluates with a model's grid kernel only from this many (grid point, data point) pairs:
# the Gabor separable form compiles in ~1 s, about what the direct path needs for 2e8 evaluations
# (measured: a 121 x 121 book grid, 30 points, 0.33 s direct against 1.4 s separable, compilation included)
KERNEL_MIN_EVALUATIONS = 2**27


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, repr=False)
class Landscape:
    """``loss[j, i]`` is the loss at ``(phi0[i], phi1[j])`` (rows are phi_1, as ``imshow`` draws)."""

    phi0: np.ndarray
    phi1: np.ndarray
    loss: np.ndarray
    method: str = "direct"
    names: tuple[str, str] = ("phi_0", "phi_1")

    def argmin(self) -> tuple[float, float, float]:
        """(phi_0, phi_1, loss) of the smallest grid value."""
        j, i = np.unravel_index(np.nanargmin(self.loss), self.loss.shape)
        return float(self.phi0[i]), float(self.phi1[j]), float(self.loss[j, i])

    def __repr__(self) -> str:
        p0, p1, lo = self.argmin()
        return (
            f"Landscape({self.loss.shape[1]}x{self.loss.shape[0]}, {self.names[0]} in [{self.phi0[0]:g}, {self.phi0[-1]:g}], "
            f"{self.names[1]} in [{self.phi1[0]:g}, {self.phi1[-1]:g}], min {lo:.6g} at ({p0:.4g}, {p1:.4g}), method={self.method!r})"
        )


@dataclass(frozen=True, repr=False)
class EigenvalueMap:
    """``min_eigenvalue[j, i]``: smallest Hessian eigenvalue at ``(phi0[i], phi1[j])``."""

    phi0: np.ndarray
    phi1: np.ndarray
    min_eigenvalue: np.ndarray

    @property
    def convex(self) -> np.ndarray:
        """Where the loss is locally convex (both Hessian eigenvalues >= 0)."""
        return self.min_eigenvalue >= 0.0

    def __repr__(self) -> str:
        return (
            f"EigenvalueMap({self.min_eigenvalue.shape[1]}x{self.min_eigenvalue.shape[0]}, "
            f"locally convex on {100.0 * float(np.mean(self.convex)):.1f}% of the grid)"
        )


@dataclass(frozen=True, repr=False)
class Slice1D:
    """Loss at ``center + alpha * direction`` (or along the line between two solutions)."""

    alphas: np.ndarray
    loss: np.ndarray
    kind: str = "random"

    def __repr__(self) -> str:
        return f"Slice1D({self.kind}, {len(self.alphas)} points, alpha in [{self.alphas[0]:g}, {self.alphas[-1]:g}], min {np.nanmin(self.loss):.6g})"


@dataclass(frozen=True, repr=False)
class Slice2D:
    """``loss[j, i]`` at ``center + alphas[i] d1 + betas[j] d2``."""

    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    kind: str = "random"
    meta: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Slice2D({self.kind}, {self.loss.shape[1]}x{self.loss.shape[0]}, min {np.nanmin(self.loss):.6g})"


# ----------------------------------------------------------------------------- validation
def _check_range(name: str, value, owner: str) -> tuple[float, float]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise LosslabError(f"The {name!r} parameter of {owner} must be a pair (lo, hi). Got {value!r} instead.") from None
    lo = check_number(f"{name}[0]", lo, owner=owner)
    hi = check_number(f"{name}[1]", hi, owner=owner)
    if not hi > lo:
        raise LosslabError(f"The {name!r} parameter of {owner} must have lo < hi. Got {value!r} instead.")
    return lo, hi


def _check_resolution(resolution, owner: str) -> tuple[int, int]:
    if isinstance(resolution, (tuple, list)):
        if len(resolution) != 2:
            raise LosslabError(f"The 'resolution' parameter of {owner} must be an integer or a pair. Got {resolution!r} instead.")
        g0, g1 = resolution
    else:
        g0 = g1 = resolution
    return check_int("resolution", g0, owner=owner, ge=2), check_int("resolution", g1, owner=owner, ge=2)


def _check_two_params(objective, owner: str) -> None:
    if getattr(objective, "n_params", None) != 2:
        raise LosslabError(
            f"The 'objective' parameter of {owner} must have exactly 2 parameters (use slice_2d for bigger models). "
            f"Got {getattr(objective, 'n_params', objective)!r} parameters instead."
        )


def estimate_bytes(n_rows: int, n_cols: int, n_points: int, *, per_eval: int = _BYTES_PER_EVAL) -> int:
    """Working memory of evaluating ``n_rows`` grid rows of ``n_cols`` points over ``n_points`` data points."""
    return int(n_rows) * int(n_cols) * int(n_points) * per_eval


def _plan_chunk(owner: str, n_rows: int, n_cols: int, n_points: int, chunk, memory_limit, per_eval=_BYTES_PER_EVAL) -> int:
    """Rows per device per call: the user's ``chunk`` if it fits, else refuse; automatic if None."""
    limit = resolve_limit(memory_limit, owner)
    # the grid exists up to four times at once: device rows, their stack, the numpy copy, the unsorted result
    out_bytes = 8 * n_rows * n_cols * 4
    row = estimate_bytes(1, n_cols, n_points, per_eval=per_eval)
    if out_bytes + row > limit:
        raise LosslabError(
            f"A {n_cols}x{n_rows} grid over {n_points} points needs {gib(out_bytes + row)}, limit {gib(limit)}; "
            f"use a smaller resolution."
        )
    fit_rows = max(1, int((limit - out_bytes) // row))
    if chunk is None:
        return int(max(1, min(n_rows, _WORKING_SET // row, fit_rows)))
    chunk = check_int("chunk", chunk, owner=owner, ge=1)
    need = out_bytes + min(chunk, n_rows) * row
    if need > limit:
        raise LosslabError(
            f"The {n_cols}x{n_rows} grid over {n_points} points with chunk={chunk} rows needs {gib(need)}, "
            f"limit {gib(limit)}; use --chunk {fit_rows} or less."
        )
    return min(chunk, n_rows)


# ----------------------------------------------------------------------------- two-parameter grids
def _direct_rows_fn(objective):
    return _direct_rows_for(objective.loss_on, getattr(objective, "kernel_recipe", None))


@lru_cache(maxsize=64)
def _direct_rows_for(loss_on, recipe: tuple | None):
    # cached on the (shared) loss function: a second landscape of the same model reuses the compiled code
    @partial(stored_jit, recipe=recipe and ("direct rows", recipe), name="landscape.direct_rows")
    def rows_fn(phi1_rows, phi0, x, y):
        def one(p1):
            return jax.vmap(lambda p0: loss_on(jnp.stack([p0, p1]), x, y))(phi0)

        return jax.vmap(one)(phi1_rows)

    return rows_fn


def grid_values(
    objective,
    phi0,
    phi1,
    *,
    chunk: int | None = None,
    method: str = "auto",
    memory_limit: float | None = None,
) -> tuple[np.ndarray, str]:
    """Loss at every ``(phi0[i], phi1[j])`` as ``(G1, G0)``, for arbitrary 1-D ``phi0``, ``phi1``.

    ``method``: ``"direct"`` (vmap of the objective), ``"separable"`` (the model's
    grid kernel, ``model.capabilities.grid``: the Gabor model's exact factorised form
    for least squares) or ``"auto"`` (the kernel where the model has one, it is safe
    and the grid is large enough to repay compiling it: at least
    :data:`KERNEL_MIN_EVALUATIONS` grid-point x data-point pairs; else direct).
    Returns ``(loss, method_used)``.
    """
    owner = "grid2d"
    _check_two_params(objective, owner)
    method = check_choice("method", method, ("auto", "direct", "separable"), owner=owner)
    phi0 = np.asarray(phi0, dtype=np.float64)
    phi1 = np.asarray(phi1, dtype=np.float64)
    x, y = objective.x, objective.y
    n_points = int(x.shape[0])
    rows = _plan_chunk(owner, len(phi1), len(phi0), n_points, chunk, memory_limit)
    kernel = objective.model.capabilities.grid.get(objective.loss) if objective.dtype == "float64" else None
    if method == "separable" and kernel is None:
        raise LosslabError(
            f"The 'method' parameter of grid2d may be 'separable' only for a model with a grid kernel for its loss "
            f"(the Gabor model with least squares). Got {objective!r} instead."
        )
    if method == "auto" and len(phi0) * len(phi1) * n_points < KERNEL_MIN_EVALUATIONS:
        kernel = None
    if kernel is not None and method in ("auto", "separable") and np.all(np.isfinite(phi0)) and np.all(np.isfinite(phi1)):
        loss = kernel(phi0, phi1, x, y, rows=rows if chunk is not None else None)
        if loss is None and method == "separable":
            raise LosslabError(
                f"The 'method' parameter of grid2d cannot be 'separable' for phi_0 values this large "
                f"(up to {np.max(np.abs(phi0)):g}): the factors would overflow. Got 'separable' instead; use 'auto'."
            )
        if loss is not None:
            return (loss / n_points if objective.reduction == "mean" else loss), "separable"
    fn = _direct_rows_fn(objective)
    out = map_rows(fn, phi1, chunk=rows, args=(jnp.asarray(phi0), x, y))
    return out, "direct"


def grid2d(
    objective,
    range0: tuple[float, float] = (-10.0, 10.0),
    range1: tuple[float, float] = (2.5, 22.5),
    resolution: int | tuple[int, int] = 101,
    chunk: int | None = None,
    *,
    method: str = "auto",
    memory_limit: float | None = None,
) -> Landscape:
    """The loss of a two-parameter objective on a uniform grid.

    ``phi0 = linspace(*range0, G0)``, ``phi1 = linspace(*range1, G1)``;
    ``loss[j, i]`` is at ``(phi0[i], phi1[j])``. ``chunk`` bounds the grid rows
    evaluated at once per device (``None``: chosen to keep ~256 MiB live); a
    request above ``memory_limit`` bytes (default 4 GiB) is refused up front.
    Rows are split over all devices JAX sees.

    >>> from losslab import make_objective
    >>> land = grid2d(make_objective("gabor"), (-10, 10), (2.5, 22.5), 5)
    >>> land.loss.shape
    (5, 5)
    """
    owner = "grid2d"
    _check_two_params(objective, owner)
    lo0, hi0 = _check_range("range0", range0, owner)
    lo1, hi1 = _check_range("range1", range1, owner)
    g0, g1 = _check_resolution(resolution, owner)
    phi0 = np.linspace(lo0, hi0, g0)
    phi1 = np.linspace(lo1, hi1, g1)
    loss, used = grid_values(objective, phi0, phi1, chunk=chunk, method=method, memory_limit=memory_limit)
    return Landscape(phi0, phi1, loss, method=used, names=_names(objective))


def _names(objective) -> tuple[str, str]:
    names = tuple(getattr(objective.model, "param_names", ("phi_0", "phi_1")))
    return (names[0], names[1]) if len(names) == 2 else ("phi_0", "phi_1")


def min_eigenvalue_map(
    objective,
    range0: tuple[float, float] = (-10.0, 10.0),
    range1: tuple[float, float] = (2.5, 22.5),
    resolution: int | tuple[int, int] = 101,
    chunk: int | None = None,
    *,
    memory_limit: float | None = None,
) -> EigenvalueMap:
    r"""Smallest eigenvalue of the 2 x 2 Hessian at every grid point (vmapped autodiff Hessians).

    For :math:`H = [[a, b], [b, d]]`,
    :math:`\lambda_{\min} = (a + d)/2 - \sqrt{((a - d)/2)^2 + b^2}`.
    """
    owner = "min_eigenvalue_map"
    _check_two_params(objective, owner)
    lo0, hi0 = _check_range("range0", range0, owner)
    lo1, hi1 = _check_range("range1", range1, owner)
    g0, g1 = _check_resolution(resolution, owner)
    phi0 = np.linspace(lo0, hi0, g0)
    phi1 = np.linspace(lo1, hi1, g1)
    x, y = objective.x, objective.y
    # a Hessian by forward-over-reverse holds ~6 values per (grid point, data point)
    rows = _plan_chunk(owner, g1, g0, int(x.shape[0]), chunk, memory_limit, per_eval=48)
    out = map_rows(_min_eig_rows_for(objective.loss_on, getattr(objective, "kernel_recipe", None)), phi1, chunk=rows, args=(jnp.asarray(phi0), x, y))
    return EigenvalueMap(phi0, phi1, out)


@lru_cache(maxsize=64)
def _min_eig_rows_for(loss_on, recipe: tuple | None):
    hess = jax.hessian(loss_on)

    @partial(stored_jit, recipe=recipe and ("min eigenvalue rows", recipe), name="landscape.min_eig_rows")
    def rows_fn(phi1_rows, phi0, x, y):
        def at(p0, p1):
            h = hess(jnp.stack([p0, p1]), x, y)
            a, b, d = h[0, 0], 0.5 * (h[0, 1] + h[1, 0]), h[1, 1]
            return 0.5 * (a + d) - jnp.sqrt((0.5 * (a - d)) ** 2 + b * b)

        return jax.vmap(lambda p1: jax.vmap(lambda p0: at(p0, p1))(phi0))(phi1_rows)

    return rows_fn


# ----------------------------------------------------------------------------- many parameters
def _layer_blocks(model) -> list[tuple[int, tuple[int, ...]]] | None:
    """(offset, shape) of each parameter block of an MLP, from ``model.meta["widths"]``."""
    widths = getattr(model, "meta", {}).get("widths") if hasattr(model, "meta") else None
    if not widths:
        return None
    blocks, offset = [], 0
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        blocks.append((offset, (d_in, d_out)))
        offset += d_in * d_out
        blocks.append((offset, (d_out,)))
        offset += d_out
    return blocks if offset == model.n_params else None


def random_direction(objective, params, *, seed: int = 0, filter_normalize: bool = True) -> np.ndarray:
    r"""A Gaussian direction, filter-normalised as in Li et al. (2018).

    For each filter (an MLP unit's incoming weights, the column ``W_l[:, j]``):
    :math:`d_{l,j} \leftarrow d_{l,j} \, \|\theta_{l,j}\| / \|d_{l,j}\|`; bias
    directions are set to zero (their "ignore biasbn" choice). Models without
    layer structure are normalised as one block: :math:`\|d\| = \|\theta\|`.
    """
    params = np.asarray(objective.check_params(params))
    seed = check_seed("seed", seed, owner="random_direction")
    d = np.random.default_rng(seed).standard_normal(params.shape)
    if not filter_normalize:
        return d
    blocks = _layer_blocks(objective.model)
    if blocks is None:
        return d * (np.linalg.norm(params) / np.linalg.norm(d))
    out = np.zeros_like(d)
    for offset, shape in blocks:
        size = int(np.prod(shape))
        if len(shape) == 1:
            continue  # bias: not perturbed
        w = params[offset : offset + size].reshape(shape)
        dd = d[offset : offset + size].reshape(shape)
        scale = np.linalg.norm(w, axis=0) / (np.linalg.norm(dd, axis=0) + 1e-300)
        out[offset : offset + size] = (dd * scale[None, :]).ravel()
    return out


def eigen_directions(objective, params, k: int = 2, *, iters: int | None = None, seed: int = 0) -> np.ndarray:
    """The top-``k`` Hessian eigenvectors at ``params`` (unit norm), shape ``(k, P)``."""
    from .curvature import top_eigenvalues

    res = top_eigenvalues(objective, params, k, iters=iters, seed=seed)
    return np.asarray(res.eigenvectors)


def _losses_at(objective, center, directions, coeffs, chunk, memory_limit, owner) -> np.ndarray:
    """Loss at ``center + coeffs @ directions`` for every row of ``coeffs`` (M, m)."""
    center = jnp.asarray(objective.check_params(center))
    dirs = jnp.asarray(np.atleast_2d(np.asarray(directions, dtype=np.float64)))
    if dirs.shape[1] != center.shape[0]:
        raise LosslabError(
            f"The 'direction' parameter of {owner} must have {center.shape[0]} entries. Got shape {tuple(dirs.shape)} instead."
        )
    if not bool(jnp.all(jnp.isfinite(dirs))):
        raise LosslabError(f"The 'direction' parameter of {owner} must be finite. Got non-finite values instead.")
    x, y = objective.x, objective.y
    widths = getattr(objective.model, "meta", {}).get("widths") or (1, 1)
    per_row = 8 * 3 * (objective.n_params + int(x.shape[0]) * (sum(widths) + 1))
    rows = _plan_chunk(owner, len(coeffs), 1, 1, chunk, memory_limit, per_eval=per_row)
    rows_fn = _along_rows_for(objective.loss_on, getattr(objective, "kernel_recipe", None))
    return map_rows(rows_fn, jnp.asarray(coeffs, dtype=jnp.float64), chunk=rows, args=(center, dirs, x, y))


@lru_cache(maxsize=64)
def _along_rows_for(loss_on, recipe: tuple | None):
    @partial(stored_jit, recipe=recipe and ("rows along directions", recipe), name="landscape.along_rows")
    def rows_fn(c_rows, center, dirs, x, y):
        return jax.vmap(lambda c: loss_on(center + c @ dirs, x, y))(c_rows)

    return rows_fn


def slice_1d(
    objective,
    params,
    direction,
    *,
    alphas: tuple[float, float] = (-1.0, 1.0),
    resolution: int = 51,
    chunk: int | None = None,
    memory_limit: float | None = None,
    kind: str = "random",
) -> Slice1D:
    """Loss at ``params + alpha * direction`` for ``alpha`` in ``linspace(*alphas, resolution)``."""
    lo, hi = _check_range("alphas", alphas, "slice_1d")
    n = check_int("resolution", resolution, owner="slice_1d", ge=2)
    a = np.linspace(lo, hi, n)
    loss = _losses_at(objective, params, direction, a[:, None], chunk, memory_limit, "slice_1d")
    return Slice1D(a, loss, kind)


def slice_2d(
    objective,
    params,
    direction1,
    direction2,
    *,
    range_: tuple[float, float] = (-1.0, 1.0),
    resolution: int = 31,
    chunk: int | None = None,
    memory_limit: float | None = None,
    kind: str = "random",
) -> Slice2D:
    """Loss at ``params + alpha d1 + beta d2`` on a square grid; ``loss[j, i]`` at ``(alphas[i], betas[j])``."""
    lo, hi = _check_range("range_", range_, "slice_2d")
    n = check_int("resolution", resolution, owner="slice_2d", ge=2)
    a = np.linspace(lo, hi, n)
    aa, bb = np.meshgrid(a, a)
    coeffs = np.stack([aa.ravel(), bb.ravel()], axis=1)
    loss = _losses_at(objective, params, np.stack([direction1, direction2]), coeffs, chunk, memory_limit, "slice_2d")
    return Slice2D(a, a.copy(), loss.reshape(n, n), kind)


def interpolate(
    objective,
    params_a,
    params_b,
    *,
    alphas: tuple[float, float] = (-0.5, 1.5),
    resolution: int = 51,
    chunk: int | None = None,
    memory_limit: float | None = None,
) -> Slice1D:
    """Loss on the straight line ``(1 - alpha) a + alpha b`` between two solutions (alpha 0 at a, 1 at b)."""
    a = np.asarray(objective.check_params(params_a))
    b = np.asarray(objective.check_params(params_b))
    return slice_1d(
        objective, a, b - a, alphas=alphas, resolution=resolution, chunk=chunk, memory_limit=memory_limit, kind="interpolation"
    )


from .precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
