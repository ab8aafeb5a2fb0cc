"""``losslab fit``: run one optimiser of Chapter 6 on a model and data set.

    losslab fit --model gabor --data book:gabor --optimizer momentum --lr 0.6 --beta 0.6 \
        --batch-size 5 --steps 81 --seed 1 --init -1.5,6.5 [--reduction sum|mean] \
        [--line-search NAME] [--json] [--plot FILE]
"""

from __future__ import annotations

from typing import Optional

import typer

from ._common import check_applies, overflow_notes, parse_floats, parse_ints, print_json, short_vector


def register(app: typer.Typer) -> None:
    app.command("fit")(fit)


def fit(
    model: str = typer.Option("linear", help="linear, gabor, logistic, shallow, mlp, or fn:6.1 / fn:6.5 (the notebooks' plain functions)."),
    data: Optional[str] = typer.Option(None, help="book:linear, book:gabor, book:shallow, logistic[:SEED], or a .csv/.npz path (default: the model's book data)."),
    optimizer: str = typer.Option("gd", help="gd, sgd, momentum, nesterov, normalized, adam (book) or heavy_ball, torch_sgd, "
                                  "torch_nesterov, torch_adam, torch_adamw, optax_* (conventions)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate alpha (> 0). Not used with --line-search."),
    beta: Optional[float] = typer.Option(None, help="Momentum / Adam's first-moment decay, in [0, 1)."),
    gamma: Optional[float] = typer.Option(None, help="Adam's second-moment decay, in [0, 1)."),
    eps: Optional[float] = typer.Option(None, help="Epsilon of normalised gradients / Adam."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Minibatch size (default: full batch)."),
    steps: int = typer.Option(100, help="Number of iterations (>= 1)."),
    seed: int = typer.Option(0, help="Seed of the minibatch sampler (and of a random init)."),
    init: Optional[str] = typer.Option(None, help="Starting parameters, e.g. -1.5,6.5 (default: the model's initialiser)."),
    reduction: str = typer.Option("sum", help="sum (the book's 6.10: batch gradient summed) or mean."),
    line_search: Optional[str] = typer.Option(None, "--line-search", help="four_point (notebook 6.1), golden, armijo or wolfe; with gd/sgd."),
    max_dist: Optional[float] = typer.Option(None, "--max-dist", help="Line search: largest/initial step (default 1.0)."),
    tol: Optional[float] = typer.Option(None, help="Stop when the full-data gradient norm is <= tol."),
    decay_every: Optional[int] = typer.Option(None, "--decay-every", help="Step decay (notebook 6.3): multiply the rate by --decay-factor every N steps."),
    decay_factor: float = typer.Option(0.5, "--decay-factor", help="Factor of the step decay, in (0, 1]."),
    replace: bool = typer.Option(False, "--replace", help="Draw minibatches with replacement."),
    drop_last: bool = typer.Option(False, "--drop-last", help="Drop the short last batch of each epoch."),
    widths: Optional[str] = typer.Option(None, help="MLP widths, e.g. 1,8,1."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write a figure (loss curve; path over the loss contours for 2 parameters)."),
) -> None:
    """Fit a model with one of the chapter's optimisers; every step is recorded."""
    import numpy as np

    from ..errors import LosslabError, check_choice, check_int, check_number, check_seed
    from ..optim.line_search import LINE_SEARCH_NAMES
    from ..optim.registry import BOUNDS, OPTIMIZER_NAMES, hyperparameters
    from ..run import run

    # -- validate at the edge, naming the option -----------------------------
    if plot is not None:
        from ..outputs import check_file

        check_file("--plot", plot)
    check_choice("--optimizer", optimizer, OPTIMIZER_NAMES)
    steps = check_int("--steps", steps, ge=1)
    seed = check_seed("--seed", seed)
    check_choice("--reduction", reduction, ("sum", "mean"))
    if line_search is not None:
        check_choice("--line-search", line_search, LINE_SEARCH_NAMES)
    if lr is not None:
        check_number("--lr", lr, **BOUNDS["learning_rate"])
    elif line_search is None:
        raise LosslabError(f"The '--lr' option is required for optimizer {optimizer!r} (a number > 0) unless --line-search is given. Got nothing instead.")
    for key, value in (("beta", beta), ("gamma", gamma), ("eps", eps)):
        if value is not None:
            check_number(f"--{key}", value, **BOUNDS[key])
    if tol is not None:
        check_number("--tol", tol, ge=0)
    accepted = hyperparameters(optimizer)
    given = {k: v for k, v in (("beta", beta), ("gamma", gamma), ("eps", eps)) if v is not None}
    for key in given:
        if key not in accepted:
            takes = ", ".join(f"--{k}" for k in accepted) or "no option besides --lr"
            raise LosslabError(f"The '--{key}' option does not apply to optimizer {optimizer!r} (it takes {takes}). Got {given[key]} instead.")

    if decay_every is not None:
        check_number("--decay-factor", decay_factor, gt=0, le=1)
    from ..models import MODEL_NAMES
    from ..presets import NOTEBOOK_FUNCTIONS, preset_objective

    check_choice("--model", model, (*MODEL_NAMES, *NOTEBOOK_FUNCTIONS))  # the notebooks' functions are models here too
    check_applies(model, data=data, widths=widths)

    if model in NOTEBOOK_FUNCTIONS:
        objective = preset_objective(model)
    else:
        from ..objective import make_objective

        objective = make_objective(model, data, reduction=reduction, widths=parse_ints("--widths", widths) if widths else None)
    from ..run import check_size

    check_size(objective, steps=steps, json=json_output)  # before the parameters exist
    n = objective.n_examples
    if batch_size is not None:
        batch_size = check_int("--batch-size", batch_size, ge=1, le=n)
    if init is not None:
        start = parse_floats("--init", init)
        if start.shape[0] != objective.n_params:
            names = ", ".join(objective.model.param_names[:12])
            raise LosslabError(f"The '--init' option must have {objective.n_params} numbers ({names}). Got {start.shape[0]} instead.")
    elif hasattr(objective.model, "init"):
        start = np.asarray(objective.model.init(seed))
    else:
        start = np.zeros(objective.n_params)

    start_loss = float(objective.value(start))
    if not np.isfinite(start_loss):
        raise LosslabError(
            f"The loss at the starting parameters overflows float64 (got {start_loss}) on data {objective.data.name!r} "
            f"(|x| up to {np.max(np.abs(objective.data.x)):.3g}, |y| up to {np.max(np.abs(objective.data.y)):.3g}); "
            "rescale the data or choose another --init."
        )

    rate = lr
    if decay_every is not None and lr is not None:
        from ..optim.schedules import step_decay

        rate = step_decay(lr, factor=decay_factor, every=check_int("--decay-every", decay_every, ge=1))
    hparams = dict(given)
    if line_search is None:
        hparams["learning_rate"] = rate
    ls_options = {"max_dist": check_number("--max-dist", max_dist, gt=0)} if max_dist is not None else None

    settings = dict(steps=steps, batch_size=batch_size, seed=seed, tol=tol, line_search=line_search,
                    line_search_options=ls_options, replace=replace, drop_last=drop_last, **hparams)
    if steps >= 5000 and not json_output:
        result = _run_with_progress(run, objective, optimizer, start, settings)
    else:
        result = run(objective, optimizer, start, **settings)

    if plot:
        _write_plot(objective, result, plot)
    if json_output:
        out = result.to_dict()
        out["objective"] = repr(objective)
        out["reduction"] = objective.reduction
        # to_dict has already made every overflowed number null: the notes say which ones they were (the last
        # record's step size is null by design: no step is taken after it)
        notes = overflow_notes({"loss": result.final_loss, "params": np.asarray(result.final_params),
                                **{f"trajectory.{k}": np.asarray(getattr(result, k)) for k in ("params", "loss", "grad_norm")},
                                "trajectory.step_size": np.asarray(result.step_size)[:-1]})
        if notes:
            out["notes"] = notes
        print_json(out)
        return
    _print_summary(objective, result, plot)


def _run_with_progress(run, objective, optimizer, start, settings):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    steps = settings["steps"]
    every = max(steps // 200, 1)
    with Progress(TextColumn("fitting"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"), TimeElapsedColumn()) as bar:
        task = bar.add_task("fit", total=steps)

        def tick(t):
            bar.update(task, completed=min(int(t), steps))

        result = run(objective, optimizer, start, progress=tick, progress_every=every, **settings)
        bar.update(task, completed=steps)
    return result


def _write_plot(objective, result, path: str) -> None:

    from ..plots.runs import plot_run

    landscape = None
    if objective.n_params == 2:
        landscape = _grid(objective, result.params)
    plot_run(result, path, landscape=landscape, title=repr(objective))


def _grid(objective, params, resolution: int = 121):
    """A loss grid around the path, for the contour plot."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    finite = params[np.all(np.isfinite(params), axis=1)]
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    pad = np.maximum((hi - lo) * 0.25, 0.5)
    phi0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    phi1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    P0, P1 = np.meshgrid(phi0, phi1)
    points = jnp.stack([P0.ravel(), P1.ravel()], axis=1)
    loss = jax.vmap(lambda p: objective.loss_on(p, objective.x, objective.y))(points)
    return phi0, phi1, np.asarray(loss).reshape(resolution, resolution)


def _print_summary(objective, result, plot) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(objective)
    console.print(f"optimizer: {result.optimizer}")
    colour = "red" if result.diverged else "green"
    console.print(f"[{colour}]{result.summary()}[/]")
    table = Table("steps", "epochs", "examples seen", "final loss", "final params")
    table.add_row(str(result.steps), str(result.epochs), str(result.examples_seen), f"{result.final_loss:.10g}",
                  short_vector(result.final_params))
    console.print(table)
    if plot:
        console.print(f"figure written to {plot}")
