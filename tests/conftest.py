import jax

# The tests compare with float64 references they compute themselves, so they run as a user who
# asked for 64 bits. losslab itself does not need it (test_precision.py runs without it).
jax.config.update("jax_enable_x64", True)


import json  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def book_run(tmp_path_factory):
    """`losslab book --small` once per test session (the book tests and the browser tests share it):
    (out_dir, results.json as a list of dicts)."""
    from typer.testing import CliRunner

    from losslab.cli import app

    out = tmp_path_factory.mktemp("book")
    result = CliRunner().invoke(app, ["book", "--out", str(out), "--small"])
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _cache_folder_as_it_was():
    """A test that runs the command line in this process turns on the user's cache folder (compile_cache.enable):
    the figures and programs kept there stay off for the tests after it, as they started (JAX's own cache
    setting is global and stays)."""
    from losslab import compile_cache

    before = compile_cache._enabled
    yield
    compile_cache._enabled = before
