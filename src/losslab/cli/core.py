"""``losslab loss``: value, gradient (autodiff and the chapter's formula) and Hessian at a point;
``losslab datasets`` / ``losslab models``: what is available by name."""

from __future__ import annotations

from typing import Optional

import typer

from ._common import check_applies, overflow_notes, parse_floats, parse_ints, print_json


def register(app: typer.Typer) -> None:
    app.command("loss")(loss)
    app.command("datasets")(datasets)
    app.command("models")(models)


def loss(
    model: str = typer.Option("linear", help="linear, gabor, logistic, shallow or mlp."),
    data: Optional[str] = typer.Option(None, help="book:linear, book:gabor, book:shallow, logistic[:SEED], or a .csv/.npz path."),
    params: str = typer.Option(..., help="Comma-separated parameters, e.g. 0.6,-0.2."),
    reduction: str = typer.Option("sum", help="sum (the book's eq. 6.5) or mean."),
    widths: Optional[str] = typer.Option(None, help="MLP widths, e.g. 1,8,1."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Loss, gradient and Hessian at one parameter vector, by autodiff and by the chapter's formulas."""
    from rich.console import Console
    from rich.table import Table

    from ..objective import make_objective

    check_applies(model, data=data, widths=widths)
    obj = make_objective(model, data, reduction=reduction, widths=parse_ints("--widths", widths) if widths else None)
    phi = obj.check_params(parse_floats("--params", params))
    result = {
        "objective": repr(obj),
        "params": phi,
        "loss": float(obj.value(phi)),
        "grad_autodiff": obj.grad(phi),
        "grad_analytic": obj.analytic_grad(phi) if obj.has_analytic_grad else None,
        "hessian_autodiff": obj.hessian(phi) if obj.n_params <= 50 else None,
        "hessian_analytic": obj.analytic_hessian(phi) if obj.has_analytic_hessian else None,
    }
    notes = overflow_notes(result)
    if json_output:
        print_json(result)
        return
    console = Console()
    err = Console(stderr=True, highlight=False)
    for note in notes:
        err.print(f"[yellow]warning:[/] {note}")
    console.print(obj)
    table = Table("quantity", "value")
    for key, value in result.items():
        if key in ("objective",) or value is None:
            continue
        table.add_row(key, str(value))
    console.print(table)


def datasets() -> None:
    """List the data sets available by name."""
    from ..data import DATASET_NAMES, load_dataset

    for name in DATASET_NAMES:
        print(repr(load_dataset(name)))


def models() -> None:
    """List the built-in models."""
    from ..models import MODEL_NAMES, get_model

    for name in MODEL_NAMES:
        print(repr(get_model(name, widths=(1, 8, 1))))
