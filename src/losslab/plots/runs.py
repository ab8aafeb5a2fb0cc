"""Pictures of runs: the loss curve, and for two parameters the path over the loss contours.

Takes results and draws; computes nothing but the picture. A landscape is given
as (phi0 (G,), phi1 (G,), loss (G, G) with loss[j, i] at (phi0[i], phi1[j])),
the shape :func:`losslab.landscape.grid2d` returns.
"""

from __future__ import annotations

from pathlib import Path

from . import headless  # noqa: F401  (Agg unless the host chose a backend)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_run", "plot_runs"]


def _landscape_arrays(landscape):
    if landscape is None:
        return None
    if hasattr(landscape, "phi0"):
        return np.asarray(landscape.phi0), np.asarray(landscape.phi1), np.asarray(landscape.loss)
    phi0, phi1, loss = landscape
    return np.asarray(phi0), np.asarray(phi1), np.asarray(loss)


def plot_runs(results: dict, path: str | Path | None = None, *, landscape=None, title: str = ""):
    """Loss curves of several runs ({label: RunResult}); with 2 parameters, their paths too."""
    results = dict(results)
    two_d = all(r.params.shape[1] == 2 for r in results.values())
    fig, axes = plt.subplots(1, 2 if two_d else 1, figsize=(11 if two_d else 6, 4.5), squeeze=False)
    ax_loss = axes[0, -1]
    for label, r in results.items():
        ax_loss.plot(np.arange(len(r.loss)), r.loss, label=f"{label} ({r.summary()})")
    ax_loss.set_xlabel("step t")
    ax_loss.set_ylabel("L[phi_t] (full data)")
    positive = [r.loss[np.isfinite(r.loss)] for r in results.values()]
    if all(len(v) and np.all(v > 0) for v in positive):
        ax_loss.set_yscale("log")
    ax_loss.legend(fontsize=8)
    if two_d:
        ax = axes[0, 0]
        grid = _landscape_arrays(landscape)
        if grid is not None:
            phi0, phi1, loss = grid
            ax.contourf(phi0, phi1, loss, levels=40, cmap="viridis")
            ax.contour(phi0, phi1, loss, levels=20, colors="k", linewidths=0.3)
        for label, r in results.items():
            ax.plot(r.params[:, 0], r.params[:, 1], ".-", lw=1, ms=3, label=label)
            ax.plot(*r.params[0], "o", color="white", mec="k")
        ax.set_xlabel("phi_0")
        ax.set_ylabel("phi_1")
        ax.legend(fontsize=8)
    return _finish(fig, path, title)


def plot_run(result, path: str | Path | None = None, *, landscape=None, title: str = ""):
    """One run's loss curve and (for 2 parameters) its path over the landscape."""
    return plot_runs({result.optimizer or "run": result}, path, landscape=landscape, title=title)


def _finish(fig, path, title: str, ax=None):
    """Title (of ``ax`` if given, else of the figure), layout, and (with a path) save and release the figure."""
    if title and ax is not None:
        ax.set_title(title)
    elif title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        from ..outputs import save_figure

        save_figure(fig, path, dpi=120)
        plt.close(fig)
    return fig
