"""Data sets by name, seeded generators and files."""

import numpy as np
import pytest

import losslab as ll


def test_book_data_sets_have_the_reference_sizes():
    sizes = {"book:linear": 12, "book:gabor": 30, "book:shallow": 20}
    for name, size in sizes.items():
        data = ll.load_dataset(name)
        assert len(data) == size and data.x.dtype == np.float64
    assert ll.load_dataset("book:linear").x[-1] == 1.90
    assert ll.load_dataset("book:gabor").y[0] == -1.051


def test_logistic_data_is_seeded_and_has_the_problem_6_4_design():
    a, b, c = ll.logistic_data(7), ll.load_dataset("logistic:7"), ll.logistic_data(8)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    np.testing.assert_array_equal(a.y, [0.0] * 10 + [1.0] * 10)
    many = ll.logistic_data(0, n_per_class=20000)
    assert many.x[:20000].mean() == pytest.approx(-1.0, abs=0.03)
    assert many.x[20000:].std() == pytest.approx(1.0, abs=0.03)


def test_samples_from_any_model_are_the_model_plus_noise():
    x = np.linspace(-10, 10, 2000)
    data = ll.sample_from_model(ll.gabor(), [0.2, 12.0], x, noise_std=0.1, seed=4)
    residual = data.y - np.asarray(ll.gabor()(np.array([0.2, 12.0]), x))
    assert residual.std() == pytest.approx(0.1, rel=0.05)
    noiseless = ll.sample_from_model(ll.linear(), [1.0, 2.0], x)
    np.testing.assert_allclose(noiseless.y, 1.0 + 2.0 * x)


def test_csv_and_npz_round_trip(tmp_path):
    book = ll.load_dataset("book:linear")
    csv_path = tmp_path / "d.csv"
    csv_path.write_text("x,y\n" + "\n".join(f"{a!r},{b!r}" for a, b in zip(book.x.tolist(), book.y.tolist())))
    np.testing.assert_array_equal(ll.load_dataset(str(csv_path)).y, book.y)
    npz_path = tmp_path / "d.npz"
    np.savez(npz_path, x=book.x, y=book.y)
    np.testing.assert_array_equal(ll.load_dataset(str(npz_path)).x, book.x)


def test_repr_is_useful():
    assert "book:gabor" in repr(ll.load_dataset("book:gabor")) and "n=30" in repr(ll.load_dataset("book:gabor"))
    assert "theta_31" in repr(ll.shallow())
    assert "reduction='sum'" in repr(ll.make_objective("linear"))


def test_a_data_path_that_is_not_a_regular_file_is_named(tmp_path):
    import os

    import pytest

    from losslab.data import load_dataset
    from losslab.errors import LosslabError

    (tmp_path / "folder.csv").mkdir()
    os.mkfifo(tmp_path / "pipe.csv")  # opening it would wait for a writer forever
    for name, what in (("folder.csv", "a folder"), ("pipe.csv", "not a regular file"), ("none.npz", "which does not exist")):
        kind = "NPZ" if name.endswith(".npz") else "CSV"
        with pytest.raises(LosslabError, match=rf"^The 'data' parameter must name an existing {kind} file\. Got '.*{name}', {what}"):
            load_dataset(str(tmp_path / name))
