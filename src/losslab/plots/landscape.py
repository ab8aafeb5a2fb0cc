"""Figures for landscapes and curvature: heatmap/contours with trajectories, convexity maps,
slices, and the Hessian eigenvalue density. Every function returns the matplotlib Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import headless  # noqa: F401  (Agg unless the host chose a backend)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_landscape", "plot_min_eigenvalue", "plot_slice_1d", "plot_slice_2d", "plot_spectral_density"]


def _trajectories(trajectories) -> list[tuple[str, np.ndarray]]:
    """A (T, 2+) array, a list of them, or {label: array}; only the first two columns are drawn."""
    if trajectories is None:
        return []
    if isinstance(trajectories, Mapping):
        items = list(trajectories.items())
    elif isinstance(trajectories, np.ndarray) and trajectories.ndim == 2:
        items = [("trajectory", trajectories)]
    elif isinstance(trajectories, Sequence) or isinstance(trajectories, np.ndarray):
        items = [(f"run {k}", t) for k, t in enumerate(trajectories)]
    else:
        items = [("trajectory", trajectories)]
    out = []
    for label, t in items:
        arr = np.asarray(getattr(t, "params", t), dtype=np.float64)  # a RunResult works too
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise ValueError(f"a trajectory must have shape (T, 2). Got {arr.shape} for {label!r}.")
        out.append((str(label), arr[:, :2]))
    return out


def _tex(name: str) -> str:
    """'phi_0' -> '$\\phi_{0}$' (Greek names as mathtext), anything else unchanged."""
    head, _, sub = name.partition("_")
    if head in ("phi", "theta", "beta", "omega", "psi") and sub:
        return f"$\\{head}_{{{sub}}}$"
    return name


def plot_landscape(
    landscape,
    trajectories=None,
    *,
    ax=None,
    levels: int = 30,
    log: bool = True,
    cmap: str = "viridis",
    title: str | None = None,
):
    """Heatmap + contours of a :class:`~losslab.landscape.Landscape`, with optional trajectories
    (arrays of shape (T, 2), a list of them, a dict label -> array, or RunResults)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 5))
    z = np.asarray(landscape.loss, dtype=np.float64)
    shown = np.log10(np.maximum(z, np.finfo(float).tiny)) if log else z
    extent = (landscape.phi0[0], landscape.phi0[-1], landscape.phi1[0], landscape.phi1[-1])
    im = ax.imshow(shown, origin="lower", extent=extent, aspect="auto", cmap=cmap)
    ax.contour(landscape.phi0, landscape.phi1, shown, levels=levels, colors="k", linewidths=0.4, alpha=0.6)
    fig.colorbar(im, ax=ax, label="log10 loss" if log else "loss")
    for label, t in _trajectories(trajectories):
        ax.plot(t[:, 0], t[:, 1], ".-", ms=3, lw=1.2, label=label)
        ax.plot(t[-1, 0], t[-1, 1], "*", ms=10, color=ax.lines[-1].get_color())
    names = getattr(landscape, "names", ("phi_0", "phi_1"))
    ax.set_xlabel(_tex(names[0]))
    ax.set_ylabel(_tex(names[1]))
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    if trajectories is not None:
        ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def plot_min_eigenvalue(emap, *, ax=None, title: str | None = "smallest Hessian eigenvalue"):
    """Diverging map of the smallest Hessian eigenvalue; the 0 contour bounds the locally convex region."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 5))
    z = np.asarray(emap.min_eigenvalue)
    lim = float(np.nanmax(np.abs(z))) or 1.0
    extent = (emap.phi0[0], emap.phi0[-1], emap.phi1[0], emap.phi1[-1])
    im = ax.imshow(z, origin="lower", extent=extent, aspect="auto", cmap="RdBu", vmin=-lim, vmax=lim)
    if z.min() < 0 < z.max():
        ax.contour(emap.phi0, emap.phi1, z, levels=[0.0], colors="k", linewidths=1.0)
    fig.colorbar(im, ax=ax, label="lambda_min (>= 0: locally convex)")
    ax.set_xlabel("$\\phi_0$")
    ax.set_ylabel("$\\phi_1$")
    if title:
        ax.set_title(title)
    return fig


def plot_slice_1d(*slices, ax=None, labels: Sequence[str] | None = None, log: bool = False):
    """Loss along one or more 1-D slices (random, eigenvector, interpolation)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    for k, s in enumerate(slices):
        label = labels[k] if labels else s.kind
        ax.plot(s.alphas, s.loss, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("alpha")
    ax.set_ylabel("loss")
    ax.legend()
    return fig


def plot_slice_2d(slice2d, *, ax=None, levels: int = 30, log: bool = True):
    """Contours of a 2-D slice around a solution (the centre is marked)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 5))
    z = np.asarray(slice2d.loss)
    shown = np.log10(np.maximum(z, np.finfo(float).tiny)) if log else z
    cs = ax.contourf(slice2d.alphas, slice2d.betas, shown, levels=levels, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="log10 loss" if log else "loss")
    ax.plot([0], [0], "r*", ms=10)
    ax.set_xlabel("alpha (direction 1)")
    ax.set_ylabel("beta (direction 2)")
    ax.set_title(f"{slice2d.kind} directions")
    return fig


def plot_spectral_density(density, *, ax=None, log: bool = True, title: str | None = "Hessian eigenvalue density (SLQ)"):
    """The SLQ eigenvalue density (log scale shows the outliers next to the bulk)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    ax.plot(density.grid, density.density, lw=1.2)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(max(float(density.density.max()) * 1e-8, 1e-300), float(density.density.max()) * 2)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    if title:
        ax.set_title(title)
    return fig
