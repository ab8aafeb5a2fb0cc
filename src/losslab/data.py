"""Data sets: the companion notebooks' data by name, seeded generators, files.

Every data set is a :class:`Dataset` of 1-D float64 ``x`` and ``y`` of equal
length with finite values; the constructor is the one place that checks this.
Names: ``book:linear`` (notebook 6.2, 12 points), ``book:gabor`` (notebooks
6.3/6.4, 30 points), ``book:shallow`` (notebook 3.1, 20 points) and
``logistic`` (problem 6.4: ten points from N(-1, 1) labelled 0, ten from
N(1, 1) labelled 1; ``logistic:SEED`` picks the seed).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import LosslabError, check_int, check_number, check_seed

__all__ = [
    "Dataset",
    "DATASET_NAMES",
    "load_dataset",
    "logistic_data",
    "sample_from_model",
    "from_csv",
    "from_npz",
]


@dataclass(frozen=True)
class Dataset:
    """Paired inputs and targets. ``x`` may be 1-D (one input) or 2-D (rows are points)."""

    x: np.ndarray
    y: np.ndarray
    name: str = "data"
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        x = _as_float_array("x", self.x, self.name)
        y = _as_float_array("y", self.y, self.name)
        if y.ndim != 1:
            raise LosslabError(
                f"The 'y' parameter of dataset {self.name!r} must be 1-D. Got shape {y.shape} instead."
            )
        if x.ndim not in (1, 2):
            raise LosslabError(
                f"The 'x' parameter of dataset {self.name!r} must be 1-D or 2-D. Got shape {x.shape} instead."
            )
        if x.shape[0] != y.shape[0]:
            raise LosslabError(
                f"The 'x' and 'y' parameters of dataset {self.name!r} must have the same length. "
                f"Got {x.shape[0]} x values and {y.shape[0]} y values instead."
            )
        if y.shape[0] == 0:
            raise LosslabError(f"Dataset {self.name!r} must have at least one point. Got 0 instead.")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, n={len(self)}, x in [{self.x.min():.4g}, {self.x.max():.4g}], "
            f"y in [{self.y.min():.4g}, {self.y.max():.4g}])"
        )

    def astype(self, dtype: str) -> Dataset:
        return Dataset(self.x.astype(dtype), self.y.astype(dtype), self.name, dict(self.meta))


def _as_float_array(label: str, values, dataset: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64 if np.asarray(values).dtype != np.float32 else np.float32)
    except (TypeError, ValueError):
        raise LosslabError(
            f"The {label!r} parameter of dataset {dataset!r} must contain numbers only. "
            f"Got {type(values).__name__} that cannot be converted to numbers instead."
        ) from None
    bad = ~np.isfinite(array)
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise LosslabError(
            f"The {label!r} parameter of dataset {dataset!r} must be finite (no NaN or inf). "
            f"Got {array[tuple(where)]} at index {where[0] if len(where) == 1 else tuple(where)} instead."
        )
    return array


# --- the companion notebooks' data (shared/reference/chapter6.md) ------------

_LINEAR_X = [0.03, 0.19, 0.34, 0.46, 0.78, 0.81, 1.08, 1.18, 1.39, 1.60, 1.65, 1.90]
_LINEAR_Y = [0.67, 0.85, 1.05, 1.00, 1.40, 1.50, 1.30, 1.54, 1.55, 1.68, 1.73, 1.60]

_GABOR_X = [
    -1.920e00, -1.422e01, 1.490e00, -1.940e00, -2.389e00, -5.090e00,
    -8.861e00, 3.578e00, -6.010e00, -6.995e00, 3.634e00, 8.743e-01,
    -1.096e01, 4.073e-01, -9.467e00, 8.560e00, 1.062e01, -1.729e-01,
    1.040e01, -1.261e01, 1.574e-01, -1.304e01, -2.156e00, -1.210e01,
    -1.119e01, 2.902e00, -8.220e00, -1.179e01, -8.391e00, -4.505e00,
]
_GABOR_Y = [
    -1.051e00, -2.482e-02, 8.896e-01, -4.943e-01, -9.371e-01, 4.306e-01,
    9.577e-03, -7.944e-02, 1.624e-01, -2.682e-01, -3.129e-01, 8.303e-01,
    -2.365e-02, 5.098e-01, -2.777e-01, 3.367e-01, 1.927e-01, -2.222e-01,
    6.352e-02, 6.888e-03, 3.224e-02, 1.091e-02, -5.706e-01, -5.258e-02,
    -3.666e-02, 1.709e-01, -4.805e-02, 2.008e-01, -1.904e-01, 5.952e-01,
]

_SHALLOW_X = [
    0.09291784, 0.46809093, 0.93089486, 0.67612654, 0.73441752, 0.86847339,
    0.49873225, 0.51083168, 0.18343972, 0.99380898, 0.27840809, 0.38028817,
    0.12055708, 0.56715537, 0.92005746, 0.77072270, 0.85278176, 0.05315950,
    0.87168699, 0.58858043,
]
_SHALLOW_Y = [
    -0.15934537, 0.18195445, 0.45127015, 0.13921448, 0.09366691, 0.30567674,
    0.37229117, 0.40716968, -0.08131792, 0.41187806, 0.36943738, 0.3994327,
    0.01906257, 0.35820410, 0.45256496, -0.0183121, 0.02957665, -0.24354444,
    0.14803884, 0.26824970,
]

_BOOK = {
    "book:linear": (_LINEAR_X, _LINEAR_Y, "notebook 6.2: 12 points for the 1D linear model"),
    "book:gabor": (_GABOR_X, _GABOR_Y, "notebooks 6.3/6.4: 30 points for the Gabor model"),
    "book:shallow": (_SHALLOW_X, _SHALLOW_Y, "notebook 3.1: 20 points for the shallow network"),
}

DATASET_NAMES = (*_BOOK, "logistic")


def logistic_data(seed: int = 0, n_per_class: int = 10) -> Dataset:
    """Problem 6.4's data: ``n_per_class`` points from N(-1, 1) labelled 0, as many from N(1, 1) labelled 1."""
    seed = check_seed("seed", seed, owner="logistic_data")
    n_per_class = check_int("n_per_class", n_per_class, owner="logistic_data", ge=1)
    rng = np.random.default_rng(seed)
    x0 = rng.normal(-1.0, 1.0, n_per_class)
    x1 = rng.normal(1.0, 1.0, n_per_class)
    x = np.concatenate([x0, x1])
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)])
    return Dataset(x, y, f"logistic:{seed}", {"seed": seed, "description": "problem 6.4: N(-1,1) -> 0, N(1,1) -> 1"})


def load_dataset(name: str) -> Dataset:
    """A data set by name: ``book:linear``, ``book:gabor``, ``book:shallow``, ``logistic[:SEED]``,
    or a path ``file:PATH`` / a path ending in ``.csv`` or ``.npz``."""
    if not isinstance(name, str):
        raise LosslabError(f"The 'data' parameter must be a data-set name. Got {name!r} instead.")
    if name in _BOOK:
        x, y, description = _BOOK[name]
        return Dataset(np.array(x), np.array(y), name, {"description": description})
    if name == "logistic" or name.startswith("logistic:"):
        _, _, seed_text = name.partition(":")
        if not seed_text:
            return logistic_data(0)
        try:
            seed = int(seed_text)
        except ValueError:
            raise LosslabError(
                f"The seed in data set name {name!r} must be a non-negative integer. Got {seed_text!r} instead."
            ) from None
        return logistic_data(seed)
    path_text = name[5:] if name.startswith("file:") else name
    if path_text.endswith((".csv", ".npz")):
        path = Path(path_text)
        kind = "NPZ" if path.suffix == ".npz" else "CSV"
        if not path.is_file():
            what = ("a folder" if path.is_dir() else "not a regular file (a pipe, socket or device)" if path.exists()
                    else "which does not exist")
            raise LosslabError(f"The 'data' parameter must name an existing {kind} file. Got {path_text!r}, {what}, instead.")
        return from_npz(path) if kind == "NPZ" else from_csv(path)
    known = ", ".join(repr(n) for n in DATASET_NAMES)
    raise LosslabError(
        f"The 'data' parameter must be one of {known}, 'logistic:SEED', or a .csv/.npz path. Got {name!r} instead."
    )


def sample_from_model(
    model,
    params,
    x,
    *,
    noise_std: float = 0.0,
    seed: int = 0,
    name: str | None = None,
) -> Dataset:
    """Noisy samples y = f[x, params] + N(0, noise_std^2) of any model (for a logit
    model, y ~ Bernoulli(sig(f)) and ``noise_std`` is ignored)."""
    noise_std = check_number("noise_std", noise_std, owner="sample_from_model", ge=0.0)
    seed = check_seed("seed", seed, owner="sample_from_model")
    params = model.check_params(params)
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    f = np.asarray(model(params, x), dtype=np.float64)
    if getattr(model, "output", "real") == "logit":
        y = (rng.random(f.shape) < 1.0 / (1.0 + np.exp(-f))).astype(np.float64)
    else:
        y = f + noise_std * rng.standard_normal(f.shape)
    return Dataset(x, y, name or f"samples:{model.name}", {"seed": seed, "noise_std": noise_std})


def from_csv(path: str | Path, *, max_bytes: int = 50_000_000) -> Dataset:
    """Read ``x,y`` rows (an optional header line of non-numbers is skipped). Numbers only."""
    path = Path(path)
    if not path.is_file():
        raise LosslabError(f"The 'path' parameter must name an existing CSV file. Got {str(path)!r} instead.")
    if path.stat().st_size > max_bytes:
        raise LosslabError(
            f"The CSV file {str(path)!r} must be at most {max_bytes} bytes. Got {path.stat().st_size} bytes instead."
        )
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:  # permission, a vanished file, an I/O error: said as such, naming the file
        raise LosslabError(f"The CSV file {str(path)!r} cannot be read: {err.strerror or err}.") from None
    return parse_csv_text(text, name=path.name)


def parse_csv_text(text: str, *, name: str = "upload.csv") -> Dataset:
    """Parse CSV text of two numeric columns (x, y). Numbers are parsed with float(), nothing is evaluated."""
    rows = [r for r in csv.reader(text.splitlines()) if any(cell.strip() for cell in r)]
    if not rows:
        raise LosslabError(f"The CSV data {name!r} must have at least one row of two numbers. Got an empty file instead.")
    xs: list[float] = []
    ys: list[float] = []
    for line_number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if len(cells) == 3 and not cells[2]:
            cells = cells[:2]  # a trailing comma
        if len(cells) != 2:  # a third column would otherwise be dropped without a word
            raise LosslabError(
                f"Row {line_number} of CSV data {name!r} must have two columns (x, y). Got {len(cells)} instead."
            )
        try:
            xv, yv = float(cells[0]), float(cells[1])
        except ValueError:
            if line_number == 1:
                continue  # a header
            raise LosslabError(
                f"Row {line_number} of CSV data {name!r} must hold two numbers. Got {cells[:2]!r} instead."
            ) from None
        xs.append(xv)
        ys.append(yv)
    return Dataset(np.array(xs), np.array(ys), name)


def from_npz(path: str | Path, *, memory_limit: float | None = None) -> Dataset:
    """Read arrays ``x`` and ``y`` from an ``.npz`` file (pickles are refused).

    The arrays' sizes are read from the archive's directory first: a small file that would
    decompress to more than the memory limit is refused before anything is decompressed.
    """
    import zipfile

    from .memory import refuse_if_over

    path = Path(path)
    if not path.is_file():
        raise LosslabError(f"The 'path' parameter must name an existing NPZ file. Got {str(path)!r} instead.")
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        refuse_if_over(2 * unpacked, memory_limit, owner="from_npz", what=f"The NPZ file {str(path)!r} (decompressed)",
                       advice="use a smaller file")
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("x", "y") if k not in npz.files]
            if missing:
                raise LosslabError(
                    f"The NPZ file {str(path)!r} must contain arrays 'x' and 'y'. Got {npz.files} instead."
                )
            return Dataset(npz["x"], npz["y"], path.name)
    except LosslabError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise LosslabError(f"The file {str(path)!r} must be a valid NPZ archive. Got an unreadable file ({reason}) instead.") from None


from .precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
