"""course_lib.params: the notes' parameter names in the network's arrays; course_lib.checks' held-out test points."""

import numpy as np
import pytest

from course_lib import models
from course_lib.checks import random_example
from course_lib.params import entry, parse_name, with_entry


@pytest.mark.parametrize(
    ("name", "parts"),
    [("w_131", ("w", 1, 3, 1)), ("w_212", ("w", 2, 1, 2)), ("b_21", ("b", 2, 1, None)), ("b_13", ("b", 1, 3, None))],
)
def test_parse_name_follows_the_notes(name, parts):
    assert parse_name(name) == parts


@pytest.mark.parametrize("name", ["w_13", "b_211", "w131", "W_131", "w_031", "x_1", "", "w_1311"])
def test_a_name_of_another_form_says_which_forms_are_valid(name):
    with pytest.raises(ValueError, match="use w_lij .* or b_li"):
        parse_name(name)


def test_entry_and_with_entry_address_the_same_array_element_as_the_notes():
    params = models.init_params(seed=1)
    assert entry(params, "w_131") == params["W1"][2, 0]
    assert entry(params, "w_212") == params["W2"][0, 1]
    assert entry(params, "b_22") == params["b2"][1]
    changed = with_entry(params, "w_131", 7.5)
    assert changed["W1"][2, 0] == 7.5 and entry(changed, "w_131") == 7.5
    assert params["W1"][2, 0] != 7.5, "the original is left unchanged"
    others = [(k, idx) for k in models.PARAM_KEYS for idx in np.ndindex(params[k].shape) if (k, idx) != ("W1", (2, 0))]
    assert all(changed[k][idx] == params[k][idx] for k, idx in others)
    assert all(changed[k].dtype == np.float64 for k in changed)
    # every named parameter is a distinct entry: setting each one changes exactly that element
    for name, flat_index in zip(models.param_names(), range(len(models.flatten(params))), strict=True):
        diff = models.flatten(with_entry(params, name, 100.0)) - models.flatten(params)
        assert np.flatnonzero(diff).tolist() == [flat_index], name


def test_a_parameter_the_network_does_not_have_is_named_in_the_error():
    params = models.init_params(seed=1)
    with pytest.raises(IndexError, match=r"w_141: W1 has shape \(3, 2\), so it has no entry \(4, 1\)"):
        entry(params, "w_141")
    with pytest.raises(KeyError, match="the network has no W3"):
        with_entry(params, "w_311", 1.0)


def test_random_example_is_reproducible_and_has_the_requested_sizes():
    a = random_example(np.random.default_rng(5), (4, 5, 3))
    b = random_example(np.random.default_rng(5), (4, 5, 3))
    params, x, y = a
    assert {k: v.shape for k, v in params.items()} == models.param_shapes((4, 5, 3))
    assert x.shape == (4,) and np.all(np.abs(x) <= 2)
    assert y.shape == (3,) and set(y.tolist()) <= {0.0, 1.0} and y.dtype == np.float64
    assert all(np.array_equal(a[0][k], b[0][k]) for k in params) and np.array_equal(a[1], b[1])
    assert not np.array_equal(random_example(np.random.default_rng(6))[1], random_example(np.random.default_rng(5))[1])
