"""course_lib.gates: the gate patterns (add distributes, multiply swaps, max routes) and their widget."""

from __future__ import annotations

import math

import pytest

from course_lib.gates import GATES, gate_explorer, gate_gradients


@pytest.mark.parametrize(("gate", "expected"), [
    ("add", (-1.0, 1.5, 1.5)),  # distributes: both inputs get the upstream gradient
    ("multiply", (-6.0, -4.5, 3.0)),  # swaps: upstream × the other input
    ("max", (2.0, 1.5, 0.0)),  # routes: all to the larger input
])
def test_gate_gradients_follow_the_patterns(gate, expected):
    assert gate_gradients(gate, 2.0, -3.0, 1.5) == expected


@pytest.mark.parametrize("gate", list(GATES))
def test_gate_gradients_match_finite_differences(gate):
    a, b, g, h = 0.7, -1.3, -2.0, 1e-6
    _, da, db = gate_gradients(gate, a, b, g)
    num_a = g * (gate_gradients(gate, a + h, b, 0)[0] - gate_gradients(gate, a - h, b, 0)[0]) / (2 * h)
    num_b = g * (gate_gradients(gate, a, b + h, 0)[0] - gate_gradients(gate, a, b - h, 0)[0]) / (2 * h)
    assert math.isclose(da, num_a, rel_tol=1e-6, abs_tol=1e-9) and math.isclose(db, num_b, rel_tol=1e-6, abs_tol=1e-9)


def test_max_routes_to_the_winner_either_way():
    assert gate_gradients("max", -1.0, 4.0, 2.0) == (4.0, 0.0, 2.0)


def test_unknown_gate_says_which_exist():
    with pytest.raises(ValueError, match="add, multiply, max"):
        gate_gradients("divide", 1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="unknown gate"):
        gate_explorer("divide")


def test_explorer_text_follows_the_controls():
    w = gate_explorer("multiply", a=2.0, b=-3.0, upstream=1.5)
    assert "swaps" in w.state_text and "dL/da = upstream × dz/da = -4.5" in w.state_text
    w.controls["gate"].value = "add"
    assert "distributes" in w.state_text and "dL/db = upstream × dz/db = 1.5" in w.state_text
    w.controls["gate"].value = "max"
    w.controls["b"].value = 3.0
    assert "routes" in w.state_text and "dL/da = upstream × dz/da = 0" in w.state_text
    assert "-&gt;" in w.text.value  # the HTML shows the same text, escaped
