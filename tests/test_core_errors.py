"""The validators produce scikit-learn style messages."""

import numpy as np
import pytest

from losslab.errors import LosslabError, check_choice, check_int, check_number


def test_check_number_message_names_parameter_bound_and_value():
    with pytest.raises(LosslabError, match=r"^The 'learning_rate' parameter of adam must be > 0\.0\. Got -0\.1 instead\.$"):
        check_number("learning_rate", -0.1, owner="adam", gt=0.0)
    with pytest.raises(LosslabError, match=r"'beta' parameter of momentum must be >= 0\.0 and < 1\.0\. Got 1\.0 instead"):
        check_number("beta", 1.0, owner="momentum", ge=0.0, lt=1.0)
    with pytest.raises(LosslabError, match="must be a number. Got 'abc'"):
        check_number("lr", "abc")
    with pytest.raises(LosslabError, match="must be finite"):
        check_number("lr", float("nan"))
    assert check_number("beta", 0.5, ge=0.0, lt=1.0) == 0.5


def test_check_int_accepts_integral_values_only():
    assert check_int("steps", 3.0, ge=1) == 3
    assert check_int("steps", np.int64(4), ge=1) == 4
    for bad in (2.5, True, "3", None):
        with pytest.raises(LosslabError, match="must be an integer"):
            check_int("steps", bad)
    with pytest.raises(LosslabError, match=r"'batch_size' parameter must be >= 1 and <= 30\. Got 31 instead"):
        check_int("batch_size", 31, ge=1, le=30)


def test_check_choice_lists_the_options():
    with pytest.raises(LosslabError, match=r"must be one of 'a', 'b'\. Got 'c' instead"):
        check_choice("name", "c", ["a", "b"])
