"""Traced programs kept between runs (losslab.program_store): a stored program computes what jax.jit
computes, bit for bit; a later process calls it without tracing; anything that changes the trace
(recipe, shapes, dtypes, data, JAX settings) files a new program; what cannot be stored is jitted."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from losslab import compile_cache, make_objective
from losslab.data import Dataset
from losslab.landscape import grid2d
from losslab.models import custom, gabor, stored_recipe
from losslab.objective import Objective
from losslab.program_store import StoredProgram, folder, stored_jit
from losslab.run import run, run_many

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def store(monkeypatch, tmp_path):
    """The store on in a fresh folder, as compile_cache.enable leaves it (JAX's own cache untouched)."""
    monkeypatch.setattr(compile_cache, "_enabled", tmp_path / "cache")
    return tmp_path / "cache" / "programs"


def _traced_sin():
    traces = []

    def fn(a, b):
        traces.append(1)
        return jnp.sin(a) * b["scale"] + jnp.cumsum(a)

    return fn, traces


ARGS = (np.linspace(-2.0, 3.0, 7), {"scale": np.float64(1.5)})


def test_a_stored_program_is_called_without_tracing_and_computes_what_jit_computes(store):
    fn, traces = _traced_sin()
    expected = np.asarray(jax.jit(_traced_sin()[0])(*ARGS))  # another function object: JAX keeps traces per function
    first = StoredProgram(fn, ("test", 1), "sin")
    np.testing.assert_array_equal(np.asarray(first(*ARGS)), expected)
    assert len(traces) == 1 and len(list(store.glob("*.jaxexport"))) == 1  # traced once, to export it
    again = StoredProgram(fn, ("test", 1), "sin")  # as a new process would: nothing in memory
    np.testing.assert_array_equal(np.asarray(again(*ARGS)), expected)
    np.testing.assert_array_equal(np.asarray(again(*ARGS)), expected)
    assert len(traces) == 1  # loaded from the file, never traced


def test_whatever_changes_the_trace_files_a_new_program(store, monkeypatch):
    fn, _ = _traced_sin()
    StoredProgram(fn, ("test", 1), "sin")(*ARGS)
    StoredProgram(fn, ("test", 2), "sin")(*ARGS)  # another recipe
    StoredProgram(fn, ("test", 1), "other")(*ARGS)  # another function of the same recipe
    StoredProgram(fn, ("test", 1), "sin")(np.linspace(0.0, 1.0, 8), ARGS[1])  # another shape
    StoredProgram(fn, ("test", 1), "sin")(ARGS[0], {"scale": 1.5})  # a weakly typed scalar
    StoredProgram(fn, ("test", 1), "sin")(ARGS[0].astype(np.float32), ARGS[1])  # another dtype
    StoredProgram(fn, ("test", 1), "sin")(ARGS[0], {"scale": np.float64(1.5), "x": np.float64(0.0)})  # another tree
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")  # XLA's options are part of the key
    StoredProgram(fn, ("test", 1), "sin")(*ARGS)
    assert len(list(store.glob("*.jaxexport"))) == 8


def test_a_damaged_entry_is_exported_again(store):
    fn, _ = _traced_sin()
    expected = np.asarray(StoredProgram(fn, ("test", 1), "sin")(*ARGS))
    (entry,) = store.glob("*.jaxexport")
    entry.write_bytes(entry.read_bytes()[: 40])
    np.testing.assert_array_equal(np.asarray(StoredProgram(fn, ("test", 1), "sin")(*ARGS)), expected)
    whole = entry.stat().st_size
    assert whole > 40  # filed again, whole
    np.testing.assert_array_equal(np.asarray(StoredProgram(fn, ("test", 1), "sin")(*ARGS)), expected)
    assert entry.stat().st_size == whole


def test_what_cannot_be_named_or_exported_is_jitted(store, monkeypatch):
    fn, traces = _traced_sin()
    assert not isinstance(stored_jit(fn, recipe=None), StoredProgram)
    seen = []

    def with_callback(a):
        jax.debug.callback(seen.append, a[0])  # a host callback: no serializable program
        return a * 2.0

    program = stored_jit(with_callback, recipe=("test", "callback"))
    np.testing.assert_array_equal(np.asarray(program(np.arange(3.0))), [0.0, 2.0, 4.0])
    assert len(seen) == 1 and not list(store.glob("*.jaxexport"))
    with pytest.raises(TypeError, match="abstract array"):  # what JAX cannot take: jit's own error, not ours
        StoredProgram(fn, ("test", 1), "sin")("not an array", ARGS[1])
    # the cache off: nothing is filed
    monkeypatch.setattr(compile_cache, "_enabled", None)
    assert folder() is None
    np.testing.assert_array_equal(np.asarray(StoredProgram(fn, ("test", 1), "sin")(*ARGS)), np.asarray(jax.jit(_traced_sin()[0])(*ARGS)))
    assert not store.exists() or not list(store.glob("*.jaxexport"))


def test_an_unwritable_store_still_computes(store, tmp_path):
    store.parent.mkdir(parents=True)
    store.write_text("a file where the folder would be")
    fn, _ = _traced_sin()
    np.testing.assert_array_equal(np.asarray(StoredProgram(fn, ("test", 1), "sin")(*ARGS)), np.asarray(jax.jit(fn)(*ARGS)))


def test_only_an_unaltered_built_in_model_has_a_recipe_and_the_data_are_in_the_objective_s():
    assert stored_recipe(gabor()) == ("gabor",)
    assert stored_recipe(custom(lambda p, x: p[0] * x, 1, name="gabor")) is None
    assert stored_recipe(dataclasses.replace(gabor(), fn=lambda p, x: p[0] * x)) is None
    assert stored_recipe(dataclasses.replace(gabor(), recipe=("linear",))) is None
    obj = make_objective("gabor", "book:gabor")
    assert obj.recipe is not None and obj.kernel_recipe == (("gabor",), "least_squares", "sum", True)
    y = np.asarray(obj.data.y).copy()
    y[3] = np.nextafter(y[3], np.inf)  # one ulp of one target
    moved = Objective(obj.model, Dataset(np.asarray(obj.data.x), y, "moved"))
    assert moved.recipe != obj.recipe and moved.kernel_recipe == obj.kernel_recipe
    assert make_objective("gabor", "book:gabor").recipe == obj.recipe
    assert Objective(custom(lambda p, x: p[0] * x, 1), obj.data).recipe is None


def test_the_engine_s_stored_programs_give_the_engine_s_numbers(store, monkeypatch):
    obj = make_objective("gabor", "book:gabor")
    starts = np.array([[0.15, 5.5], [-1.0, 12.0], [2.0, 20.0]])

    def compute():
        one = run(obj, "momentum", starts[0], steps=120, learning_rate=0.05, beta=0.9)
        many = run_many(obj, "gd", starts, steps=80, learning_rates=[0.02, 0.3], record="params")
        final = run_many(obj, "adam", starts, steps=60, learning_rates=[0.1], record="final")
        land = grid2d(obj, resolution=9)
        return [one.params, one.loss, many.params, many.loss, final.final_params, land.loss,
                np.asarray(obj.value_and_grad(starts[1])[1]), np.asarray(obj.hessian(starts[2])),
                np.asarray(obj.analytic_grad(starts[0]))]

    stored = compute()
    assert len(list(store.glob("*.jaxexport"))) >= 6
    monkeypatch.setattr(compile_cache, "_enabled", None)
    plain = compute()
    for a, b in zip(stored, plain):
        np.testing.assert_array_equal(a, b)


_SCRIPT = """
import json, sys
import numpy as np
from losslab import compile_cache, make_objective
from losslab import run as engine
compile_cache.enable(sys.argv[1])
obj = make_objective("gabor", "book:gabor")
result = engine.run(obj, "gd", [0.15, 5.5], steps=300, learning_rate=0.3)
print(json.dumps({"traces": engine._TRACES["count"], "end": result.params[-1].tolist(), "loss": result.loss[-1].hex()}))
"""


def test_a_second_process_runs_the_engine_without_tracing_it(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    outs = [json.loads(subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "cache")], env=env, check=True,
                                      capture_output=True, text=True).stdout) for _ in range(2)]
    assert outs[0]["traces"] == 1 and outs[1]["traces"] == 0
    assert outs[0]["end"] == outs[1]["end"] and outs[0]["loss"] == outs[1]["loss"]
    assert len(list((tmp_path / "cache" / "programs").glob("*.jaxexport"))) == 1


def test_a_formula_s_derivatives_are_stored_under_the_parsed_formula(store, monkeypatch):
    from losslab.stationary import classify_expression

    stored = classify_expression("0.1 x^4 - x^2 + 0.3 x", -4.0, 4.0).to_dict()
    assert len(list(store.glob("*.jaxexport"))) == 2  # the grid's program and the chunks' one
    classify_expression("0.1 x^4 - x^2 + 0.3 x", -4.0, 4.0)
    assert len(list(store.glob("*.jaxexport"))) == 2  # the same formula: the same programs
    classify_expression("0.1 x^4 - x^2 + 0.31 x", -4.0, 4.0)
    assert len(list(store.glob("*.jaxexport"))) == 4  # another formula: its own
    monkeypatch.setattr(compile_cache, "_enabled", None)
    assert classify_expression("0.1 x^4 - x^2 + 0.3 x", -4.0, 4.0).to_dict() == stored
