"""course_lib.checks.param_dicts: the comparisons behind notebook 04's self-checks, and their messages."""

import numpy as np
import pytest

from course_lib.checks import (
    assert_param_shapes,
    assert_params_close,
    assert_same_params,
    assert_vector_equal,
    copy_params,
    loss_by_output,
)
from course_lib.models import flatten, init_params, loss, make_dataset, param_names

PARAMS = init_params(seed=4)


def test_loss_by_output_adds_up_to_the_loss_and_each_part_depends_on_its_output_only():
    X, Y = make_dataset(9, seed=3)
    parts = loss_by_output(X, Y)
    assert list(parts) == ["output 1", "output 2"]
    assert sum(f(PARAMS) for f in parts.values()) == pytest.approx(loss(PARAMS, X, Y), rel=1e-12)
    moved = copy_params(PARAMS)
    moved["W2"][1] += 0.3  # row 2 of W2 feeds output 2 only
    assert parts["output 1"](moved) == parts["output 1"](PARAMS)
    assert parts["output 2"](moved) != parts["output 2"](PARAMS)
    with pytest.raises(ValueError, match="one row of Y per row of X"):
        loss_by_output(X, Y[:3])


def test_copy_params_is_a_float64_copy():
    copied = copy_params({"W1": np.array([[1, 2]]), "b1": [0]})
    assert copied["W1"].dtype == np.float64
    original = {"W1": np.zeros((1, 2))}
    copy_params(original)["W1"][0, 0] = 5.0
    assert original["W1"][0, 0] == 0.0


@pytest.mark.parametrize(
    ("received", "words"),
    [([1, 2], "should return a dict with the keys 'W1', 'b1', 'W2', 'b2', received list"),
     ({"W1": PARAMS["W1"]}, "with the key 'b1'"),
     ({**PARAMS, "W2": PARAMS["W2"].T}, "step['W2'] has shape (3, 2), expected (2, 3)"),
     ({**PARAMS, "b2": "two"}, "step['b2'] has shape str, expected (2,)")],
)
def test_assert_param_shapes_names_the_key_and_both_shapes(received, words):
    with pytest.raises(AssertionError) as err:
        assert_param_shapes("step", received, PARAMS)
    assert words in str(err.value)


def test_assert_params_close_names_the_worst_entry_expected_received_and_hint():
    received = copy_params(PARAMS)
    received["W1"][2, 1] += 0.5
    received["W1"][0, 0] += 1e-3
    assert_params_close("step", PARAMS, PARAMS, hint="never")
    with pytest.raises(AssertionError) as err:
        assert_params_close("step", received, PARAMS, hint="subtract the gradient")
    message = str(err.value)
    assert message.startswith(f"step['W1']: entry [2, 1] is {received['W1'][2, 1]:.8g}, expected "
                              f"{PARAMS['W1'][2, 1]:.8g}."), message
    assert message.endswith("Likely mistake: subtract the gradient")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_never_passes(bad):
    received = copy_params(PARAMS)
    received["b2"][1] = bad
    with pytest.raises(AssertionError, match=r"step\['b2'\]: entry \[1\]"):
        assert_params_close("step", received, PARAMS, hint="h")
    with pytest.raises(AssertionError, match="differs from the original"):
        assert_same_params("back", received, PARAMS, hint="h")
    vector = flatten(received)
    with pytest.raises(AssertionError, match="entry 16 should be dL/db_22"):
        assert_vector_equal("to_vector", vector, flatten(PARAMS), param_names(), hint="h")


def test_assert_vector_equal_names_the_first_wrong_entry_by_the_notes_name():
    expected = flatten(PARAMS)
    assert_vector_equal("to_vector", expected.copy(), expected, param_names(), hint="h")
    swapped = np.concatenate([expected[6:9], expected[:6], expected[9:]])  # b1 before W1
    with pytest.raises(AssertionError) as err:
        assert_vector_equal("to_vector", swapped, expected, param_names(), hint="the order is W1, b1, W2, b2.")
    assert str(err.value) == (f"to_vector: entry 0 should be dL/dw_111 = {expected[0]:.8g}, received "
                              f"{swapped[0]:.8g}. Likely mistake: the order is W1, b1, W2, b2.")
    for wrong in (list(expected), expected[:-1], expected.reshape(1, -1)):
        with pytest.raises(AssertionError, match=r"should return a numpy vector of shape \(17,\)"):
            assert_vector_equal("to_vector", wrong, expected, param_names(), hint="h")


def test_assert_same_params_accepts_equal_arrays_only():
    assert_same_params("back", copy_params(PARAMS), PARAMS, hint="h")
    changed = copy_params(PARAMS)
    changed["W2"][0, 2] += 1e-15 + abs(changed["W2"][0, 2]) * 1e-15
    with pytest.raises(AssertionError, match=r"back\['W2'\] differs from the original: read it back in order"):
        assert_same_params("back", changed, PARAMS, hint="read it back in order")
