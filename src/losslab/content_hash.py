"""Exact content hashing of plain values, for what losslab keeps between runs by content (drawn figures,
traced programs): two values feed the same bytes only if they are the same value.

Each value is tagged by its kind and length before its content, so that no two different values
encode alike (``"ab", "c"`` differs from ``"a", "bc"``; ``1`` from ``1.0`` from ``True``):

* ``None``, bools, strings and bytes by their text or bytes;
* integers by their decimal digits, floats by their hex form (every bit, NaNs and signed zeros included);
* arrays by dtype, shape and bytes (a masked array's mask too; an array of Python objects is refused);
* lists and tuples item by item, mappings key and value in their order.

Anything else raises :class:`Unhashable`: the caller then keeps nothing rather than guess.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["Unhashable", "feed"]


class Unhashable(TypeError):
    """A value whose content this module does not know how to encode exactly."""


def feed(h, value) -> None:
    """Add ``value`` to the hash ``h`` (a :mod:`hashlib` object)."""
    if value is None or isinstance(value, (bool, str, bytes)):
        h.update(f"{type(value).__name__}:{len(value) if isinstance(value, (str, bytes)) else ''}:".encode())
        h.update(value if isinstance(value, bytes) else str(value).encode())
    elif isinstance(value, (int, np.integer)):
        h.update(f"int:{int(value)};".encode())
    elif isinstance(value, (float, np.floating)):
        h.update(f"float:{float(value).hex()};".encode())
    elif isinstance(value, np.ma.MaskedArray):
        h.update(b"masked:")
        feed(h, np.ma.getdata(value))
        feed(h, np.ma.getmaskarray(value))
    elif isinstance(value, np.ndarray) or (hasattr(value, "__array__") and hasattr(value, "shape") and hasattr(value, "dtype")):
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise Unhashable(f"an array of Python objects ({arr.dtype})")
        h.update(f"array:{arr.dtype.str}:{arr.shape};".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}:{len(value)};".encode())
        for item in value:
            feed(h, item)
    elif isinstance(value, Mapping):
        h.update(f"mapping:{len(value)};".encode())
        for key, item in value.items():  # in order: a legend lists its entries as given
            feed(h, key)
            feed(h, item)
    else:
        raise Unhashable(type(value).__name__)
