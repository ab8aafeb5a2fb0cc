"""How fast `losslab check` judges a long sheet (issue 11: 200 claims in under 15 s on two cores).

    python benchmarks/check_speed.py [--copies N]

Builds one sheet from the project's own test sheets (tests/sheets/own, repeated until it holds at least
200 claims), checks it in this process and prints claims, seconds and claims per second, with the slowest
claims. Not a timed test: the number depends on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=0, help="repeat the own sheets this often (0: until >= 200 claims)")
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


if __name__ == "__main__":
    main()
