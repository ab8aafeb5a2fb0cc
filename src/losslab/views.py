"""How losslab's objects show themselves in a notebook: HTML (MathML formulas) and LaTeX, the way SymPy and pandas do.

:class:`~losslab.objective.Objective` and :class:`~losslab.run.RunResult`
call these from ``_repr_html_`` / ``_repr_latex_``; the book's problems and
the checker's reports have their own views (``book.report``, ``check_view``).
Only numbers already computed are shown; nothing is recomputed.
"""

from __future__ import annotations

import html
import math

import numpy as np

from .mathml import latex_to_mathml, math_css

__all__ = ["VIEW_CSS", "objective_html", "objective_latex", "run_html"]

VIEW_CSS = (
    ".ll-view { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: 14px; }"
    ".ll-view table { border-collapse: collapse; margin: 0.3em 0; }"
    ".ll-view td, .ll-view th { border: 1px solid #d5d9de; padding: 2px 8px; text-align: left; }"
    ".ll-view .ll-title { font-weight: bold; }"
    + math_css(None, scope=".ll-view")
)


def objective_latex(objective) -> str:
    """L[phi] as the book writes it, with the model's f[x, phi] when the model declares its formula."""
    from .losses import LOSS_LATEX

    summand = LOSS_LATEX[objective.loss]
    total = r"\sum_{i=1}^{I}" if objective.reduction == "sum" else r"\frac{1}{I}\sum_{i=1}^{I}"
    out = rf"L[\boldsymbol\phi] = {total} {summand}"
    model = getattr(objective.model, "latex", "")
    return out + (rf",\quad {model}" if model else "")


def _rows(pairs) -> str:
    return "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)


def objective_html(objective) -> str:
    formula = latex_to_mathml(objective_latex(objective), display=True)
    rows = _rows([
        ("model", html.escape(f"{objective.model.name} ({objective.n_params} parameters)")),
        ("loss", html.escape(f"{objective.loss}, {objective.reduction} over the data")),
        ("data", html.escape(f"{objective.data.name}: I = {objective.n_examples} points")),
        ("dtype", html.escape(objective.dtype)),
    ])
    return f'<div class="ll-view"><style>{VIEW_CSS}</style><div class="ll-title">Objective</div>{formula}<table>{rows}</table></div>'


def _fmt(v) -> str:
    v = float(v)
    return f"{v:.6g}" if math.isfinite(v) else str(v)


def _loss_curve_svg(loss: np.ndarray, width: int = 320, height: int = 90) -> str:
    """The loss against the step as a small inline SVG line (log scale when the loss stays positive)."""
    y = np.asarray(loss, dtype=float)
    y = y[np.isfinite(y)]
    if y.size < 2:
        return ""
    log = bool(np.all(y > 0)) and y.max() / y.min() > 20
    v = np.log10(y) if log else y
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo or 1.0
    xs = np.linspace(4, width - 4, v.size)
    ys = height - 4 - (v - lo) / span * (height - 8)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys))
    label = f"loss{' (log scale)' if log else ''}: {_fmt(y[0])} → {_fmt(y[-1])}"
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(label)}">'
        f'<rect width="{width}" height="{height}" fill="#fafbfc" stroke="#d5d9de"/>'
        f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="1.5"/></svg>'
        f'<div style="font-size:12px;color:#68717d">{html.escape(label)}</div>'
    )


def run_html(result) -> str:
    params = np.asarray(result.final_params, dtype=float).ravel()
    shown = ", ".join(_fmt(p) for p in params[:8]) + (f", … ({params.size} in all)" if params.size > 8 else "")
    rows = _rows([
        ("optimizer", html.escape(result.optimizer or "?")),
        ("status", html.escape(result.summary())),
        ("steps / epochs", html.escape(f"{result.steps} / {result.epochs} ({result.examples_seen} examples seen)")),
        ("batch", html.escape("all" if result.batch_size is None else str(result.batch_size))),
        ("final loss", html.escape(_fmt(result.final_loss))),
        ("final φ", html.escape(f"[{shown}]")),
    ])
    return (f'<div class="ll-view"><style>{VIEW_CSS}</style><div class="ll-title">RunResult</div>'
            f"<table>{rows}</table>{_loss_curve_svg(result.loss)}</div>")
