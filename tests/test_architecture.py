"""No layer recognises a model by its name, identity or constants (docs/architecture.md).

A model's abilities are data on it (``model.capabilities``, ``model.output``); a grep over the
source keeps it so. The patterns are the forms such tests took before issue 13: a comparison of
a model's name with a built-in's, an identity test of a model function, a check of the Gabor
constants.
"""

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "losslab"
BUILTIN = r"(linear|gabor|logistic|shallow|mlp)"
PATTERNS = [
    re.compile(rf"""(model|\.name|model_name)\s*(==|!=)\s*["']{BUILTIN}["']"""),  # entry.model != "logistic"
    re.compile(rf"""["']{BUILTIN}["']\s*(==|!=)\s*\w*(model|name)"""),
    re.compile(r"""\bis\s+(not\s+)?_?(gabor_fn|gabor|linear_fn|_linear_fn|_shallow_fn)\b"""),  # fn is gabor_fn
    re.compile(r"""(FREQUENCY|WIDTH|0\.06|32\.0)\s*(==|!=)"""),  # GABOR_FREQUENCY == 0.06
    re.compile(r"""ANALYTIC\.get\(\(.*name"""),  # a formula table keyed by the model's name
]
# where a model is defined (its own constructor may name itself), and the symbolic layer (owned elsewhere)
OWN = {"models.py", "gabor.py", "derivatives.py", "backprop.py"}


def test_no_layer_tests_a_model_by_name_identity_or_constants():
    hits = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.name in OWN and len(rel.parts) == 1 or rel.parts[0] == "symbolic":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(p.search(line) for p in PATTERNS):
                hits.append(f"{rel}:{number}: {line.strip()}")
    assert not hits, "a layer recognises a model by name, identity or constants:\n" + "\n".join(hits)


def test_the_grep_finds_the_forms_it_forbids():
    forbidden = ['if entry.model != "logistic":', "if model.name == 'gabor':", "if obj.model.fn is gabor_fn:",
                 "if GABOR_FREQUENCY == 0.06 and GABOR_WIDTH == 32.0:", "f = ANALYTIC.get((model.name, loss))"]
    assert all(any(p.search(line) for p in PATTERNS) for line in forbidden)
    allowed = ['obj = make_objective("gabor", "book:gabor")', 'if output != "logit":', "if model in SIZED_MODELS:"]
    assert not any(p.search(line) for p in PATTERNS for line in allowed)
