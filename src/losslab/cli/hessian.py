"""``losslab hessian``: the Hessian spectrum of any model at a point, without forming the Hessian
(Lanczos top/bottom-k, Hutchinson trace, optional SLQ density figure)."""

from __future__ import annotations

from typing import Optional

import typer

from ._common import check_applies, parse_floats, parse_ints, print_json


def register(app: typer.Typer) -> None:
    app.command("hessian")(hessian)
    app.command("landscape")(landscape)


def _synthetic(widths, points: int, seed: int):
    """Seeded regression samples for an MLP: x ~ U(-1, 1)^d, y = sin(3 sum x) + N(0, 0.1^2)."""

    import numpy as np

    from ..data import Dataset

    rng = np.random.default_rng(seed)
    d_in = widths[0]
    x = rng.uniform(-1.0, 1.0, (points,) if d_in == 1 else (points, d_in))
    s = x if d_in == 1 else x.sum(axis=1)
    y = np.sin(3.0 * s) + 0.1 * rng.standard_normal(points)
    return Dataset(x, y, f"synthetic:{points}:seed{seed}")


def hessian(
    model: str = typer.Option("mlp", help="linear, gabor, logistic, shallow or mlp."),
    widths: Optional[str] = typer.Option(None, help="MLP widths, e.g. 1,1000,1000,1 (1,004,001 parameters); default 1,100,1."),
    points: int = typer.Option(1000, help="Synthetic data points (MLP without --data)."),
    data: Optional[str] = typer.Option(None, help="book:gabor, logistic[:SEED], a .csv/.npz path, ... (default: synthetic for mlp, the book's data otherwise)."),
    params: Optional[str] = typer.Option(None, help="Comma-separated parameters (default: the model's seeded initialisation)."),
    top_k: int = typer.Option(5, "--top-k", help="How many of the largest eigenvalues."),
    bottom_k: int = typer.Option(0, "--bottom-k", help="How many of the smallest eigenvalues (0: none)."),
    iters: Optional[int] = typer.Option(None, help="Lanczos steps (default max(3k + 15, 30), at most the parameter count)."),
    trace_samples: int = typer.Option(10, "--trace-samples", help="Hutchinson probe vectors for the trace."),
    density: Optional[str] = typer.Option(None, help="Write the SLQ eigenvalue-density figure to this PNG path."),
    reduction: str = typer.Option("mean", help="mean (default here) or sum (the book's eq. 6.5)."),
    seed: int = typer.Option(0, help="Seed for data, initialisation and probe vectors."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    memory_limit: float = typer.Option(4.0, "--memory-limit", help="GiB the computation may use; larger requests are refused up front with the estimate."),
) -> None:
    """Top-k (and bottom-k) Hessian eigenvalues and the trace of any model, by Hessian-vector products only."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from .. import curvature
    from ..errors import LosslabError, check_int, check_seed
    from ..models import SIZED_MODELS, get_model
    from ..objective import Objective, make_objective

    if density is not None:
        from ..outputs import check_file

        check_file("--density", density)
    top_k = check_int("--top-k", top_k, owner="losslab hessian", ge=1)
    bottom_k = check_int("--bottom-k", bottom_k, owner="losslab hessian", ge=0)
    points = check_int("--points", points, owner="losslab hessian", ge=1)
    trace_samples = check_int("--trace-samples", trace_samples, owner="losslab hessian", ge=2)
    seed = check_seed("--seed", seed, owner="losslab hessian")
    check_applies(model, data=data, widths=widths)
    start = time.perf_counter()
    sized = model in SIZED_MODELS  # a network sized by --widths, with no data of its own
    w = parse_ints("--widths", widths or "1,100,1") if sized else None
    from ..memory import check_limit_gib

    limit = check_limit_gib("--memory-limit", memory_limit, owner="losslab hessian")
    if sized and data is None:  # the synthetic data is sized before it is drawn
        from ..memory import refuse_if_over

        refuse_if_over(8 * points * (w[0] + 3), limit, owner="losslab hessian", what=f"{points:,} synthetic data points",
                       advice="use fewer --points or raise --memory-limit (GiB)")
        obj = Objective(get_model(model, widths=w), _synthetic(w, points, seed), reduction=reduction)
    else:
        obj = make_objective(model, data, reduction=reduction, widths=w)
    n = obj.n_params
    if top_k > n or bottom_k > n:
        raise LosslabError(f"The '--top-k'/'--bottom-k' options of losslab hessian must be <= {n} (the parameter count). Got {max(top_k, bottom_k)} instead.")
    if iters is not None:
        check_int("--iters", iters, owner="losslab hessian", ge=max(top_k, bottom_k, 1))
    # before the parameters exist: a model too big for memory is refused, not killed
    held = [curvature.lanczos_vectors(k, iters) for k in (top_k, bottom_k) if k] + ([curvature.slq_vectors()] if density else [])
    curvature.check_memory(obj, vectors=max(held), memory_limit=limit, owner="losslab hessian",
                           advice="use fewer --iters or --points, a smaller model, or raise --memory-limit (GiB)")
    phi = obj.check_params(parse_floats("--params", params)) if params else obj.model.init(seed)

    err = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    result: dict = {"model": obj.model.name, "data": obj.data.name, "parameters": n, "points": obj.n_examples, "reduction": obj.reduction}
    with Progress(*columns, console=err, transient=True) as bar:

        def tracker(label):
            task = bar.add_task(label, total=None)
            return lambda done, total: bar.update(task, completed=done, total=total)

        top = curvature.top_eigenvalues(obj, phi, top_k, iters=iters, seed=seed, progress=tracker("Lanczos (top)"),
                                       memory_limit=limit)
        result["top_eigenvalues"] = top.eigenvalues
        result["top_residuals"] = top.residuals
        result["top_converged"] = [bool(c) for c in top.converged]
        result["lanczos_iters"] = top.iterations
        if bottom_k:
            bot = curvature.bottom_eigenvalues(obj, phi, bottom_k, iters=iters, seed=seed + 1, progress=tracker("Lanczos (bottom)"),
                                              memory_limit=limit)
            result["bottom_eigenvalues"] = bot.eigenvalues
            result["bottom_residuals"] = bot.residuals
            result["bottom_converged"] = [bool(c) for c in bot.converged]
        tr = curvature.hessian_trace(obj, phi, samples=trace_samples, seed=seed, progress=tracker("trace"), memory_limit=limit)
        trace, stderr, how = tr.trace, tr.stderr, tr.method
        result["trace"] = trace
        result["trace_stderr"] = stderr
        result["trace_method"] = how
        if density:
            dens = curvature.slq_density(obj, phi, vectors=3, seed=seed, progress=tracker("SLQ density"),
                                        memory_limit=limit)
            from ..outputs import save_figure
            from ..plots.landscape import plot_spectral_density

            save_figure(plot_spectral_density(dens), density, dpi=120)
            result["density_figure"] = density
    result["seconds"] = time.perf_counter() - start
    if json_output:
        print_json(result)
        return
    console = Console(emoji=False, highlight=False)
    console.print(f"{obj!r}: {n:,} parameters")
    table = Table("quantity", "value")
    table.add_row("top eigenvalues", ", ".join(f"{v:.6g}" for v in result["top_eigenvalues"]))
    table.add_row("their residuals ||Hu - lu||", ", ".join(f"{v:.2g}" for v in result["top_residuals"]))
    if bottom_k:
        table.add_row("bottom eigenvalues", ", ".join(f"{v:.6g}" for v in result["bottom_eigenvalues"]))
    table.add_row("trace", f"{trace:.6g} +/- {stderr:.3g}, {how}")
    if density:
        table.add_row("density figure", density)
    table.add_row("seconds", f"{result['seconds']:.2f}")
    console.print(table)
    for side, bound in (("top", "lower"), ("bottom", "upper")):
        flags = result.get(f"{side}_converged")
        if flags is not None and not all(flags):
            which = ", ".join(str(i + 1) for i, ok in enumerate(flags) if not ok)
            console.print(f"{side.capitalize()} eigenvalue(s) {which} have not converged (residual above 1e-6 of the "
                          f"largest |eigenvalue|): Ritz values, so {bound} bounds of the true ones; raise --iters.")


def landscape(
    model: str = typer.Option("gabor", help="Any two-parameter model: linear, gabor, logistic."),
    data: Optional[str] = typer.Option(None, help="Data set (default: the model's book data)."),
    range0: str = typer.Option("-10,10", "--range0", help="phi_0 range lo,hi."),
    range1: str = typer.Option("2.5,22.5", "--range1", help="phi_1 range lo,hi."),
    resolution: int = typer.Option(201, help="Grid points per axis (G: G x G evaluations of the loss)."),
    chunk: Optional[int] = typer.Option(None, help="Grid rows evaluated at once per device (default: automatic)."),
    method: str = typer.Option("auto", help="auto, direct or separable (exact factorised Gabor form)."),
    reduction: str = typer.Option("sum", help="sum (the book's eq. 6.5) or mean."),
    min_eigenvalue: bool = typer.Option(False, "--min-eigenvalue", help="Also map the smallest Hessian eigenvalue."),
    out: Optional[str] = typer.Option(None, help="Write the heatmap/contour figure to this PNG path."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object (grid axes, loss, minimum)."),
) -> None:
    """The loss of a two-parameter model on a G x G grid (chunked, split over all devices)."""
    import time

    from rich.console import Console

    from ..landscape import grid2d, min_eigenvalue_map
    from ..objective import make_objective

    if out is not None:
        from ..outputs import check_file

        check_file("--out", out)
    from ..errors import check_int
    from ..memory import refuse_printed

    resolution = check_int("--resolution", resolution, owner="losslab landscape", ge=2)
    if json_output:  # before computing: the grid (and the eigenvalue map) as JSON numbers
        refuse_printed((resolution**2) * (2 if min_eigenvalue else 1), owner="losslab landscape",
                       what=f"The JSON of a {resolution}x{resolution} grid", advice="use a smaller --resolution, or --out for a figure")
    r0 = tuple(parse_floats("--range0", range0))
    r1 = tuple(parse_floats("--range1", range1))
    obj = make_objective(model, data, reduction=reduction)
    start = time.perf_counter()
    land = grid2d(obj, r0, r1, resolution, chunk, method=method)
    seconds = time.perf_counter() - start
    p0, p1, lo = land.argmin()
    result = {"objective": repr(obj), "method": land.method, "resolution": resolution, "seconds": seconds,
              "argmin": [p0, p1], "min_loss": lo, "phi0": land.phi0, "phi1": land.phi1, "loss": land.loss}
    emap = None
    if min_eigenvalue:
        emap = min_eigenvalue_map(obj, r0, r1, resolution, chunk)
        result["min_eigenvalue"] = emap.min_eigenvalue
        result["convex_fraction"] = float(emap.convex.mean())
    if out:
        from ..outputs import save_figure
        from ..plots.landscape import plot_landscape

        save_figure(plot_landscape(land, title=f"{obj.model.name} loss, {obj.data.name}"), out, dpi=120)
        result["figure"] = out
    if json_output:
        print_json(result)
        return
    console = Console(emoji=False, highlight=False)
    console.print(land)
    console.print(f"{resolution * resolution * obj.n_examples:,} model evaluations in {seconds:.3f} s ({land.method})")
    if emap is not None:
        console.print(emap)
    if out:
        console.print(f"figure: {out}")
