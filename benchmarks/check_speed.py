"""How fast `losslab check` judges a long sheet (200 claims in under 15 s on two cores) and a long
derivation (one `align` block of 200 steps in under 15 s).

    python benchmarks/check_speed.py [--copies N] [--chain STEPS]

Builds one sheet from the project's own test sheets (tests/sheets/own, repeated until it holds at least
200 claims), checks it in this process and prints claims, seconds and claims per second. Then one
derivation of STEPS rows (four equivalent forms of dL/dphi_0 in turn, one row with a planted slip) is
checked step by step. Not a timed test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=0, help="repeat the own sheets this often (0: until >= 200 claims)")
    ap.add_argument("--chain", type=int, default=200, help="steps of the long derivation")
    args = ap.parse_args()
    from losslab.symbolic import check_sheet

    sheets = sorted((ROOT / "tests" / "sheets" / "own").glob("*.md"))
    sheets = [p for p in sheets if p.name != "EXPECTED.md"]
    one = "\n\n".join(p.read_text() for p in sheets)
    t0 = time.perf_counter()
    n_one = len(check_sheet(one))
    warm = time.perf_counter() - t0
    copies = args.copies or max(1, -(-200 // n_one))
    text = "\n\n".join([one] * copies)
    t0 = time.perf_counter()
    results = check_sheet(text)
    seconds = time.perf_counter() - t0
    verdicts = {v: sum(r.verdict == v for r in results) for v in ("correct", "incorrect", "not checked")}
    print(f"first pass (imports, caches): {n_one} claims in {warm:.1f} s")
    print(f"{len(results)} claims ({copies} copies of {len(sheets)} sheets) in {seconds:.1f} s: "
          f"{len(results) / seconds:.1f} claims/s; {verdicts}")
    per_200 = 200 * seconds / len(results)
    print(f"200 claims take {per_200:.1f} s at this rate; goal: under 15 s on two cores ->",
          "met" if per_200 < 15 else "missed")
    chain(args.chain)


FORMS = [r"2\sum_{i=1}^{I} (\phi_0 + \phi_1 x_i - y_i)",
         r"2\sum_{i=1}^{I} \phi_0 + 2\sum_{i=1}^{I}(\phi_1 x_i - y_i)",
         r"2 I \phi_0 + 2\phi_1\sum_{i=1}^{I} x_i - 2\sum_{i=1}^{I} y_i",
         r"-2\sum_{i=1}^{I} (y_i - \phi_0 - \phi_1 x_i)"]


def chain(steps: int) -> None:
    from losslab.symbolic import check_sheet

    rows = [r"\frac{\partial L}{\partial \phi_0} &= " + FORMS[0] + r" \\"]
    rows += [r"&= " + FORMS[k % len(FORMS)] + r" \\" for k in range(1, steps)]
    rows[steps // 2] = r"&= 2\sum_{i=1}^{I} (\phi_0 + \phi_1 x_i + y_i) \\"  # the planted slip
    text = "## Problem 6.1\n\n$$\n\\begin{aligned}\n" + "\n".join(rows) + "\n\\end{aligned}\n$$\n"
    t0 = time.perf_counter()
    results = check_sheet(text)
    seconds = time.perf_counter() - t0
    wrong = [r.line for r in results if r.verdict == "incorrect"]
    print(f"a derivation of {steps} steps in {seconds:.1f} s ({len(results)} lines judged, wrong at line(s) {wrong}); "
          "goal: 200 steps under 15 s on two cores ->", "met" if seconds * 200 / steps < 15 else "missed")


if __name__ == "__main__":
    main()
