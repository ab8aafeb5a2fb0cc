"""docs/notebook.ipynb runs top to bottom in a real Jupyter kernel and shows what it says it shows."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebook.ipynb"


@pytest.fixture(scope="module")
def executed():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return [c for c in nb.cells if c.cell_type == "code"]


def _outputs(cell) -> dict:
    data: dict = {}
    for out in cell.outputs:
        assert out.output_type != "error", f"{out.ename}: {out.evalue}"
        data.update(out.get("data", {}))
    return data


def test_notebook_checks_a_sheet(executed):
    from losslab.check_view import check_text

    report = _outputs(executed[0])
    assert "CheckReport('my_sheet.md', 2 claims: 1 correct, 1 incorrect" in report["text/plain"]
    assert report["text/html"].count("ll-claim correct") == 1 and "ll-claim incorrect" in report["text/html"]
    assert "<math" in report["text/html"] and 'class="math-error"' not in report["text/html"]
    # the verdicts the notebook shows are the checker's on the same sheet, run here
    source = executed[0].source
    sheet = ast.literal_eval(source[source.index('r"""'):source.index('"""\n', source.index('r"""') + 4) + 3])
    shown = ast.literal_eval(_outputs(executed[1])["text/plain"])
    assert shown == [(c["line"], c["verdict"]) for c in check_text(sheet).to_dicts()] == [(5, "correct"), (7, "incorrect")]


def test_notebook_objective_and_runs(executed):
    from losslab import make_objective
    from losslab.run import run

    objective = _outputs(executed[2])
    assert objective["text/latex"].startswith("$$L[\\boldsymbol\\phi]") and "<math" in objective["text/html"]
    assert "RunResult(momentum" in _outputs(executed[3])["text/plain"] and "<polyline" in _outputs(executed[3])["text/html"]
    finals = ast.literal_eval(_outputs(executed[4])["text/plain"])
    # the same runs outside the kernel give the same losses; both went down from the start
    gabor = make_objective("gabor")
    start = np.array([-1.5, 6.5])
    for name, kwargs in (("gradient descent", {"optimizer": "gd"}), ("momentum", {"optimizer": "momentum", "beta": 0.9})):
        reference = run(gabor, init=start, steps=200, learning_rate=0.01, **kwargs)
        assert finals[name] == pytest.approx(round(reference.final_loss, 6), abs=1e-6)
        assert finals[name] < float(gabor.value(start))


def test_notebook_draws_the_landscape(executed):
    import base64

    figure = _outputs(executed[5])
    png = base64.b64decode(figure["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_notebook_shows_a_solved_problem_with_its_matrix_in_brackets(executed):
    import xml.etree.ElementTree as ET

    from losslab.book import solve
    from losslab.mathml import latex_to_mathml

    shown = _outputs(executed[6])
    assert shown["text/plain"].startswith("ProblemResult('6.2'") and 'class="math-error"' not in shown["text/html"]
    # the answer's Hessian, computed here outside the kernel, is the MathML the notebook shows
    hessian = latex_to_mathml(solve("6.2").answer["hessian"], display=True)
    row = ET.fromstring(hessian).find(".//mrow[mtable]")
    kids = list(row)
    k = [kid.tag for kid in kids].index("mtable")
    assert (kids[k - 1].text, kids[k + 1].text) == ("[", "]")  # brackets around the matrix, not bars
    assert hessian in shown["text/html"]
