"""Figures of the book's problems (owner: book). Each function takes computed results, draws, saves a PNG
and returns its path; nothing here computes an answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .figure_cache import cached_figure

__all__ = [
    "momentum_weights_figure",
    "sigmoid_family_figure",
    "logistic_data_figure",
    "heatmap_figure",
    "stationary_points_figure",
    "zigzag_figure",
    "escape_figure",
    "escape_map_figure",
    "eigen_convergence_figure",
    "derivative_check_figure",
]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    from ..outputs import save_figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        save_figure(fig, path, dpi=110, bbox_inches="tight")
    finally:
        _plt().close(fig)
    return path


@cached_figure
def momentum_weights_figure(weights_by_beta: Mapping[float, np.ndarray], path) -> Path:
    """Bars of w_k = (1-beta) beta^(t-k) against the age t-k of the gradient, one colour per beta."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    n = len(weights_by_beta)
    width = 0.8 / max(n, 1)
    for j, (beta, w) in enumerate(weights_by_beta.items()):
        age = np.arange(len(w))[::-1]  # w is oldest first
        ax.bar(age + (j - (n - 1) / 2) * width, w, width=width, label=rf"$\beta={beta:g}$ (sum $={w.sum():.3f}$)")
    ax.set_xlabel(r"age of the gradient $t-k$ (iterations ago)")
    ax.set_ylabel(r"weight $(1-\beta)\beta^{t-k}$")
    ax.set_title(r"Problem 6.10: weights of past gradients in $\mathbf{m}_{t+1}$ ($t=30$)")
    ax.legend()
    return _save(fig, path)


@cached_figure
def sigmoid_family_figure(x: np.ndarray, curves: Sequence[tuple[float, float, np.ndarray]], path) -> Path:
    """sig[phi_0 + phi_1 x] for several (phi_0, phi_1), the crossing points x = -phi_0/phi_1 marked."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for phi0, phi1, y in curves:
        # left: phi_0 = 0, phi_1 varies; right: everything else, with the reference curve (0, 1) in both
        targets = [axes[0]] if phi0 == 0.0 else []
        if phi0 != 0.0 or phi1 == 1.0:
            targets.append(axes[1])
        for ax in targets:
            (line,) = ax.plot(x, y, label=rf"$\phi_0={phi0:g},\ \phi_1={phi1:g}$")
            if phi1 != 0:
                ax.plot([-phi0 / phi1], [0.5], "o", color=line.get_color(), ms=4)
    for ax, title in zip(axes, (r"vary $\phi_1$ (steepness, direction) at $\phi_0=0$", r"vary $\phi_0$ (shift by $-\phi_0/\phi_1$), and a falling curve")):
        ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.set_xlabel("x")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="center right")
    axes[0].set_ylabel(r"$Pr(y=1|x) = \mathrm{sig}[\phi_0+\phi_1 x]$")
    fig.suptitle("Problem 6.4: the logistic model; dots mark $x=-\\phi_0/\\phi_1$ where the curve crosses 0.5", fontsize=10)
    return _save(fig, path)


@cached_figure
def logistic_data_figure(x: np.ndarray, y: np.ndarray, fit: tuple[float, float] | None, path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    ax.scatter(x[y == 0], y[y == 0], marker="o", label="y = 0 (from N(-1, 1))")
    ax.scatter(x[y == 1], y[y == 1], marker="s", label="y = 1 (from N(1, 1))")
    if fit is not None:
        grid = np.linspace(x.min() - 1, x.max() + 1, 200)
        ax.plot(grid, 1 / (1 + np.exp(-(fit[0] + fit[1] * grid))), "k-", lw=1, label=rf"fit: $\phi=({fit[0]:.2f}, {fit[1]:.2f})$")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)
    ax.set_title("Problem 6.4: the 20-point data set and the maximum-likelihood fit", fontsize=10)
    return _save(fig, path)


@cached_figure
def heatmap_figure(phi0, phi1, values, path, *, title: str, label: str, marker=None, log: bool = False, cmap: str = "viridis") -> Path:
    """values[j, i] at (phi0[i], phi1[j]) as a heatmap with contours."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    shown = np.log10(values) if log else values
    mesh = ax.pcolormesh(phi0, phi1, shown, shading="auto", cmap=cmap)
    ax.contour(phi0, phi1, shown, levels=15, colors="white", linewidths=0.4, alpha=0.7)
    cbar = fig.colorbar(mesh, ax=ax)
    cbar.set_label(("log10 " if log else "") + label)
    if marker is not None:
        ax.plot([marker[0]], [marker[1]], "r*", ms=12, label="minimum")
        ax.legend(fontsize=8)
    ax.set_xlabel(r"$\phi_0$")
    ax.set_ylabel(r"$\phi_1$")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


@cached_figure
def stationary_points_figure(demos: Sequence[dict], path) -> Path:
    """One panel per demo function: the curve and its stationary points coloured by kind."""
    plt = _plt()
    n = len(demos)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4))
    axes = np.atleast_1d(axes)
    colours = {"global minimum": "tab:green", "local minimum": "tab:blue", "neither": "tab:red"}
    for ax, demo in zip(axes, demos):
        ax.plot(demo["x"], demo["f"], "k-", lw=1.2)
        for kind, colour in colours.items():
            pts = [p for p in demo["points"] if p["kind"] == kind]
            if pts:
                ax.plot([p["x"] for p in pts], [p["f"] for p in pts], "o", color=colour, ms=7, label=kind)
        ax.set_title(f"{demo['label']}\nconvex: {demo['convex']}", fontsize=9)
        ax.set_xlabel("x")
        ax.legend(fontsize=7)
    fig.suptitle("Problem 6.6: stationary points classified", fontsize=10, y=1.04)
    return _save(fig, path)


@cached_figure
def zigzag_figure(landscapes: Sequence[dict], path) -> Path:
    """Contours of each loss with the exact-line-search GD path (right angles) and, if given, other paths."""
    plt = _plt()
    n = len(landscapes)
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n, 5.0))
    axes = np.atleast_1d(axes)
    for ax, item in zip(axes, landscapes):
        ax.contour(item["phi0"], item["phi1"], item["loss"], levels=item.get("levels", 30), cmap="viridis", linewidths=0.7)
        for name, path_xy in item["paths"].items():
            path_xy = np.asarray(path_xy)
            ax.plot(path_xy[:, 0], path_xy[:, 1], "o-", ms=3, lw=1.2, label=name)
        ax.set_aspect("equal" if item.get("equal", True) else "auto")
        if "xlim" in item:
            ax.set_xlim(*item["xlim"])
            ax.set_ylim(*item["ylim"])
        ax.set_xlabel(r"$\phi_0$")
        ax.set_ylabel(r"$\phi_1$")
        ax.set_title(item["title"], fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("Problem 6.7: exact line search turns through 90 degrees at every step", fontsize=10)
    return _save(fig, path)


@cached_figure
def escape_figure(phi0, phi1, loss, paths: Mapping[str, np.ndarray], path, *, title: str) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 4.8))
    ax.contourf(phi0, phi1, loss, levels=30, cmap="viridis")
    styles = ["w.-", "r.-", "c.-", "m.-"]
    for (name, p), style in zip(paths.items(), styles):
        p = np.asarray(p)
        ax.plot(p[:, 0], p[:, 1], style, ms=4, lw=1.0, label=name)
        ax.plot(p[-1, 0], p[-1, 1], "x", color=style[0], ms=9, mew=2)
    ax.set_xlim(phi0[0], phi0[-1])
    ax.set_ylim(phi1[0], phi1[-1])
    ax.set_xlabel(r"$\phi_0$")
    ax.set_ylabel(r"$\phi_1$")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


@cached_figure
def escape_map_figure(rates: np.ndarray, fraction: np.ndarray, maps: Mapping[float, tuple], path) -> Path:
    """Left: fraction of starts that leave their basin vs learning rate. Right: where, for a few rates."""
    plt = _plt()
    k = len(maps)
    fig, axes = plt.subplots(1, 1 + k, figsize=(4.4 * (1 + k), 3.8))
    axes[0].plot(rates, fraction, "o-")
    axes[0].set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ticks = [t for t in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if rates.min() <= t <= rates.max()]
    axes[0].set_xticks(ticks)
    axes[0].set_xticklabels([f"{t:g}" for t in ticks])
    axes[0].xaxis.set_minor_formatter(NullFormatter())
    axes[0].set_xlabel(r"learning rate $\alpha$")
    axes[0].set_ylabel("fraction of starts that escape")
    axes[0].set_title("GD with a fixed rate: escapes vs rate", fontsize=9)
    for ax, (rate, (phi0, phi1, escaped)) in zip(axes[1:], maps.items()):
        ax.pcolormesh(phi0, phi1, escaped.astype(float), shading="auto", cmap="coolwarm", vmin=0, vmax=1)
        ax.set_title(rf"$\alpha={rate:.3g}$: red = left its basin, white = plateau start (left out)", fontsize=8)
        ax.set_xlabel(r"start $\phi_0$")
        ax.set_ylabel(r"start $\phi_1$")
    fig.suptitle("Problem 6.8: Gabor loss, starts x learning rates, all runs at once", fontsize=10)
    return _save(fig, path)


@cached_figure
def eigen_convergence_figure(history: Sequence[float], reference: float | None, path, *, title: str) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    ax.plot(np.arange(1, len(history) + 1), history, "o-", ms=3, label="estimate")
    if reference is not None:
        ax.axhline(reference, color="k", ls=":", label="final")
    ax.set_xlabel("iteration (one Hessian-vector product each)")
    ax.set_ylabel(r"largest eigenvalue estimate")
    ax.set_title(title, fontsize=10)
    ax.legend()
    return _save(fig, path)


@cached_figure
def derivative_check_figure(labels: Sequence[str], formula: np.ndarray, autodiff: np.ndarray, path, *, title: str) -> Path:
    """Formula vs autodiff, component by component (log-scale absolute difference on the right)."""
    plt = _plt()
    formula = np.asarray(formula, dtype=float)
    autodiff = np.asarray(autodiff, dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    axes[0].scatter(autodiff.ravel(), formula.ravel(), s=10)
    lim = [min(autodiff.min(), formula.min()), max(autodiff.max(), formula.max())]
    axes[0].plot(lim, lim, "k:", lw=0.8)
    axes[0].set_xlabel("autodiff")
    axes[0].set_ylabel("derived formula")
    diff = np.abs(formula - autodiff).reshape(len(formula), -1).max(axis=1) if formula.ndim > 1 else np.abs(formula - autodiff)
    axes[1].bar(range(len(labels)), np.maximum(diff, 1e-18))
    axes[1].set_yscale("log")
    axes[1].set_xticks(range(len(labels)))
    axes[1].set_xticklabels(labels, rotation=45, fontsize=8)
    axes[1].set_ylabel("max |formula - autodiff|")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
