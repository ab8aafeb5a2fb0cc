"""`losslab check SHEET [--json]`: report, JSON, exit status; bad input gives a message and exit 2."""

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losslab.cli import app, main

SHEETS = Path(__file__).parent / "sheets"
runner = CliRunner()


def test_json_on_the_seed_sheet_and_exit_1():
    result = runner.invoke(app, ["check", str(SHEETS / "seed_sheet.md"), "--json"])
    assert result.exit_code == 1, result.output
    claims = json.loads(result.stdout)
    # with sig[z] = .. (a true restatement), 6.2's prose "both positive" (two claims) and "positive definite, and
    # the function is convex" (two claims); Pr(y = 1 | x) = .. defines the model
    assert len(claims) == 32
    assert set(claims[0]) == {"problem", "line", "cell", "latex", "verdict", "reason", "convention", "mistake", "truth",
                              "correction", "steps"}
    verdicts = [c["verdict"] for c in claims]
    # 6.1 x2, 6.2's "det > 0" and "positive definite", 6.3 phi_1 wrong; 6.10's final sum right with m_0 = 0
    # (named); the \dots series not checked
    assert verdicts.count("incorrect") == 5 and verdicts.count("not checked") == 1 and verdicts.count("correct") == 26
    assert claims[0]["mistake"] == "missing sum over i"
    assert claims[0]["correction"].startswith("\\sum_{i=1}^{I}")  # the step with the sum put back
    assert any(c["convention"].startswith("m_0 = 0") for c in claims if c["problem"] == "6.10")
    first = claims[0]
    assert first["problem"] == "6.1" and first["line"] == 13 and first["verdict"] == "incorrect"


def test_judging_one_problem_at_a_time_gives_the_whole_sheets_verdicts():
    """check_sheet(problems=...) reads every section but judges the problems asked: the union over the problems
    is the whole sheet's verdicts (the book judges one problem per worker this way)."""
    from losslab.book import PROBLEMS
    from losslab.book.seed import seed_claims, seed_text
    from losslab.errors import LosslabError
    from losslab.symbolic import check_sheet

    def key(c):
        return (c.problem, c.line, c.latex, c.verdict, c.reason, c.convention, c.truth_latex, c.mistake, c.correction)

    whole = check_sheet(seed_text())
    parts = [c for p in PROBLEMS for c in seed_claims(p)]
    assert sorted(map(key, parts)) == sorted(map(key, whole))
    verdicts = [c.verdict for c in parts]
    assert len(parts) == 32 and verdicts.count("correct") == 26 and verdicts.count("incorrect") == 5
    assert verdicts.count("not checked") == 1
    assert {c.problem for c in check_sheet(seed_text(), problems={"6.3"})} == {"6.3"}
    assert check_sheet(seed_text(), problems=()) == []
    with pytest.raises(LosslabError, match=r"The 'problems' parameter of check_sheet must be a collection .* Got '6.3' instead"):
        check_sheet(seed_text(), problems="6.3")


def test_reading_stops_after_the_last_problem_judged_and_the_verdicts_do_not_change(monkeypatch):
    """Only sections before a judged one give it context: a check of one problem reads no further, and its
    verdicts are those of the whole sheet (planted mistakes in 6.1 .. 6.10, one problem at a time)."""
    import losslab.symbolic.checker as checker
    from losslab.symbolic import check_sheet

    def key(c):
        return (c.problem, c.line, c.latex, c.verdict, c.reason, c.convention, c.truth_latex, c.mistake, c.correction)

    text = (SHEETS / "planted_mistakes.md").read_text()
    whole = check_sheet(text)
    problems = sorted({c.problem for c in whole}, key=lambda p: int(p.split(".")[1]))
    assert len(problems) >= 4
    for p in problems:
        assert sorted(map(key, check_sheet(text, problems={p}))) == sorted(map(key, [c for c in whole if c.problem == p]))
    read = []
    real = checker.Context.for_problem
    monkeypatch.setattr(checker.Context, "for_problem", staticmethod(lambda problem, *a: read.append(problem) or real(problem, *a)))
    check_sheet(text, problems={problems[0]})
    assert read and read[-1] == problems[0] and not set(read) & set(problems[1:])


def test_report_on_correct_sheet_exits_0():
    result = runner.invoke(app, ["check", str(SHEETS / "equivalent_forms.md")])
    assert result.exit_code == 0, result.output
    assert "23 claims: 23 correct, 0 incorrect, 0 not checked" in result.stdout


def test_report_names_the_mistake_and_the_truth():
    result = runner.invoke(app, ["check", str(SHEETS / "planted_mistakes.md")])
    assert result.exit_code == 1
    assert "missing sum over j" in result.stdout and "truth:" in result.stdout


def run_cli(capsys, monkeypatch, *args):
    """The console script's main() in-process: (exit status, stderr)."""
    monkeypatch.setattr(sys, "argv", ["losslab", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary file"),
        (b"\xff\xfe\xfa bad", "UTF-8"),
        (b"x" * (10 * 1024 * 1024), "too large"),
    ],
    ids=["empty", "binary", "not-utf8", "10MB"],
)
def test_bad_files_exit_2_with_a_message(tmp_path, capsys, monkeypatch, content, message):
    sheet = tmp_path / "sheet.md"
    sheet.write_bytes(content)
    code, err = run_cli(capsys, monkeypatch, "check", str(sheet))
    assert code == 2
    assert message in " ".join(err.split()) and "Traceback" not in err


def test_missing_file_exits_2(tmp_path, capsys, monkeypatch):
    code, err = run_cli(capsys, monkeypatch, "check", str(tmp_path / "nope.md"))
    assert code == 2 and "must be an existing file" in " ".join(err.split())


def test_main_exit_status_1_on_incorrect_claims(capsys, monkeypatch):
    code, _ = run_cli(capsys, monkeypatch, "check", str(SHEETS / "planted_mistakes.md"), "--json")
    assert code == 1


def test_hostile_latex_is_reported_not_crashed(tmp_path, capsys, monkeypatch):
    sheet = tmp_path / "hostile.md"
    deep = "(" * 500 + "x" + ")" * 500
    sheet.write_text(
        "## Problem 1\n$$L = \\sum_i (\\phi_0 x_i - y_i)^2$$\n"
        f"$$\\frac{{\\partial L}}{{\\partial \\phi_0}} = {deep}$$\n"
        "$$\\frac{\\partial L}{\\partial \\phi_0} = \\frac{1}{2$$\n"
        "$$\\frac{\\partial L}{\\partial \\phi_0} = \\foo{x}$$\n"
        "$$\\frac{\\partial L}{\\partial \\phi_0} = __import__('os').system('true')$$\n"
    )
    result = runner.invoke(app, ["check", str(sheet), "--json"])
    claims = json.loads(result.stdout)  # every claim is reported first ...
    code, err = run_cli(capsys, monkeypatch, "check", str(sheet))  # LaTeX it cannot read is "not checked", not exit 2
    assert code == 0 and "Traceback" not in err
    assert [c["verdict"] for c in claims] == ["not checked"] * 4
    assert "nested too deeply" in claims[0]["reason"]
    assert "unknown command \\foo" in claims[2]["reason"]


def test_a_sheet_without_math_exits_2(tmp_path, capsys, monkeypatch):
    sheet = tmp_path / "prose.md"
    sheet.write_text("## Problem 6.9\nFive epochs, I think.\n")
    code, err = run_cli(capsys, monkeypatch, "check", str(sheet))
    assert code == 2 and "no math in it" in err
