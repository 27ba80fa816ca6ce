"""The computation graph: every operation's derivative, the notes' examples, determinism, idempotence."""

import math

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from course_lib import graph, models
from course_lib.graph import GraphCycleError, Node, NonFiniteError, topological_order
from course_lib.trace import format_trace, trace

finite = st.floats(-3.0, 3.0, allow_nan=False)
positive = st.floats(0.05, 5.0)
nonzero = finite.filter(lambda v: abs(v) > 0.05)


def close(a: float, b: float, rel: float = 1e-12, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def grad_of(build, *values: float) -> tuple[float, list[float]]:
    nodes = [Node(v, f"x{i}") for i, v in enumerate(values)]
    out = build(*nodes)
    out.backward()
    return out.value, [n.grad for n in nodes]


# Each operation against its exact partial derivatives (closed forms).
@given(finite, finite)
def test_binary_arithmetic_derivatives(a, b):
    assert grad_of(lambda x, y: x + y, a, b)[1] == [1.0, 1.0]
    assert grad_of(lambda x, y: x - y, a, b)[1] == [1.0, -1.0]
    assert grad_of(lambda x, y: x * y, a, b)[1] == [b, a]


@given(finite, nonzero)
def test_division_derivatives(a, b):
    value, (da, db) = grad_of(lambda x, y: x / y, a, b)
    assert close(value, a / b) and close(da, 1 / b) and close(db, -a / b**2)


@given(nonzero, st.sampled_from([2, 3, -1, 0.5, -2.5]))
def test_power_derivative(x, k):
    x = abs(x) if not float(k).is_integer() else x
    value, (dx,) = grad_of(lambda n: n**k, x)
    assert close(value, x**k) and close(dx, k * x ** (k - 1))


@given(finite)
def test_unary_derivatives(x):
    s = 1 / (1 + math.exp(-x))
    cases = {
        "neg": (lambda n: -n, -1.0),
        "square": (lambda n: n.square(), 2 * x),
        "exp": (lambda n: n.exp(), math.exp(x)),
        "sigmoid": (lambda n: n.sigmoid(), s * (1 - s)),
        "tanh": (lambda n: n.tanh(), 1 - math.tanh(x) ** 2),
    }
    for name, (build, expected) in cases.items():
        assert close(grad_of(build, x)[1][0], expected), name


@given(positive)
def test_log_and_reciprocal_derivatives(x):
    assert close(grad_of(lambda n: n.log(), x)[1][0], 1 / x)
    assert close(grad_of(lambda n: n.reciprocal(), x)[1][0], -1 / x**2)


@given(nonzero)
def test_relu_derivative_away_from_the_kink(x):
    assert grad_of(lambda n: n.relu(), x)[1][0] == (1.0 if x > 0 else 0.0)


@given(finite, finite)
def test_python_numbers_mix_in(a, c):
    value, (dx,) = grad_of(lambda n: 2 * n + 1 - c * n + n / 4 - (3 - n), a)
    assert close(value, 2 * a + 1 - c * a + a / 4 - (3 - a), abs_=1e-9)
    assert close(dx, 2 - c + 0.25 + 1, abs_=1e-12)


# The notes' examples and their closed forms.
@given(st.floats(-2.5, 2.5))
def test_notes_example_1_exp_exp(x):
    nodes = models.exp_exp_chain(x)
    nodes["y"].backward()
    expected = math.exp(math.exp(x * x)) * math.exp(x * x) * 2 * x
    assert [nodes[k].label for k in ("h1", "h2", "y")] == ["h1", "h2", "y"]
    assert close(nodes["h1"].value, x * x) and close(nodes["h2"].value, math.exp(x * x))
    assert close(nodes["x"].grad, expected, rel=1e-12, abs_=1e-300)


@given(st.floats(-4.0, 4.0))
def test_notes_example_2_reciprocal_exp(x):
    nodes = models.inv_exp_chain(x)
    nodes["y"].backward()
    assert close(nodes["y"].value, 1 / math.exp(x * x))
    assert close(nodes["x"].grad, -2 * x / math.exp(x * x), abs_=1e-15)
    # the notes' local derivatives: dy/dh2 = -1/h2², dh2/dh1 = e^{h1}, dh1/dx = 2x
    assert close(nodes["y"].local_grads[0], -1 / math.exp(x * x) ** 2, abs_=1e-300)
    assert close(nodes["h2"].local_grads[0], math.exp(x * x))


X_, W1_, W2_, W3_ = sp.symbols("x w1 w2 w3")
_sig = lambda z: 1 / (1 + sp.exp(-z))  # noqa: E731
_L = -sp.log(_sig(W3_ * _sig(W2_ * _sig(W1_ * X_))))
_DL = {name: sp.lambdify((X_, W1_, W2_, W3_), sp.diff(_L, s)) for name, s in
       (("w1", W1_), ("w2", W2_), ("w3", W3_), ("x", X_))}


@given(finite, finite, finite, finite)
def test_sigmoid_chain_gradients_match_sympy(x, w1, w2, w3):
    nodes = models.sigmoid_chain(x, w1, w2, w3)
    nodes["L"].backward()
    assert close(nodes["L"].value, models.sigmoid_chain_loss({"w1": w1, "w2": w2, "w3": w3}, x), rel=1e-13)
    for name, dl in _DL.items():
        assert close(nodes[name].grad, float(dl(x, w1, w2, w3)), rel=1e-10, abs_=1e-13), name


def test_sigmoid_chain_loss_is_finite_when_saturated():
    nodes = models.sigmoid_chain(1.0, 5.0, 10.0, -60.0)  # a3 ≈ -60: -log(σ(a3)) computed as softplus(60)
    assert nodes["y"].value < 1e-25
    assert math.isclose(nodes["L"].value, -nodes["a3"].value + math.log1p(math.exp(nodes["a3"].value)))
    nodes["L"].backward()
    assert math.isclose(nodes["a3"].grad, -(1 - nodes["y"].value), rel_tol=1e-12)
    with pytest.raises(NonFiniteError, match="saturated"):  # 1/σ(-800) is beyond float64
        models.sigmoid_chain(1.0, 5.0, 10.0, -800.0)


# Determinism and idempotence.
def test_same_graph_same_order_and_trace():
    def build():
        nodes = models.network_graph(models.init_params(3), [0.3, -1.2], [1.0, 0.0])
        nodes["L"].backward()
        return nodes["L"]

    a, b = build(), build()
    assert [n.name for n in topological_order(a)] == [n.name for n in topological_order(b)]
    assert format_trace(a) == format_trace(b)


def test_order_is_forward_order_and_parents_come_first():
    L = models.network_graph(models.init_params(1), [1.0, 2.0], [0.0, 1.0])["L"]
    order = topological_order(L)
    seen = set()
    for node in order:
        assert all(id(p) in seen for p in node.parents)
        seen.add(id(node))
    assert order[-1] is L


def test_backward_is_idempotent_and_zero_grad_resets():
    nodes = models.network_graph(models.init_params(2), [0.5, -0.5], [1.0, 1.0])
    nodes["L"].backward()
    first = {k: n.grad for k, n in nodes.items()}
    nodes["L"].backward()
    assert {k: n.grad for k, n in nodes.items()} == first
    assert any(g != 0 for g in first.values())
    nodes["L"].zero_grad()
    assert all(n.grad == 0.0 for n in nodes.values())


def test_a_node_used_twice_gets_both_contributions():
    x = Node(3.0, "x")
    y = x * x + x  # three edges leave x
    y.backward()
    assert x.grad == 2 * 3.0 + 1


def test_deep_chain_does_not_hit_the_recursion_limit():
    x = Node(0.1, "x")
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_trace_records():
    nodes = models.exp_exp_chain(0.5)
    nodes["y"].backward()
    rows = trace(nodes["y"])
    assert [r.label for r in rows] == ["x", "h1", "h2", "y"]
    assert rows[1].op == "**2" and rows[1].inputs == ("x",) and rows[1].local_grads == (1.0,)
    assert rows[-1].grad == 1.0 and rows[0].as_dict()["grad"] == nodes["x"].grad
    text = format_trace(nodes["y"])
    assert "h2" in text.splitlines()[4] and f"{nodes['x'].grad:.6g}" in text


# Bad input: each gets its own clear error.
@pytest.mark.parametrize("bad", ["1.0", None, [1.0], 1 + 2j, True])
def test_non_numeric_values_are_refused(bad):
    with pytest.raises(TypeError, match="must be a real number"):
        Node(bad, "w")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_are_refused(bad):
    with pytest.raises(NonFiniteError, match="finite"):
        Node(bad, "w")
    with pytest.raises(NonFiniteError):
        Node(1.0) * bad


def test_overflow_and_domain_errors_say_what_happened():
    with pytest.raises(NonFiniteError, match="overflows"):
        Node(800.0).exp()
    with pytest.raises(ValueError, match="positive"):
        Node(-1.0).log()
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        Node(1.0) / Node(0.0, "z")
    with pytest.raises(TypeError, match="exp"):
        Node(2.0) ** Node(3.0)


def test_a_cycle_is_reported():
    a = Node(1.0, "a")
    b = (a * 2).named("b")
    c = (b + 1).named("c")
    a.parents, a.local_grads = (c,), (1.0,)  # tamper: a now depends on c
    with pytest.raises(GraphCycleError, match="cycle") as err:
        c.backward()
    assert "a" in str(err.value) and "c" in str(err.value)


def test_function_forms_accept_numbers():
    assert graph.exp(0.0).value == 1.0 and graph.log(1.0).value == 0.0
    assert graph.sigmoid(0.0).value == 0.5 and graph.tanh(0.0).value == 0.0
    assert graph.relu(-1.0).value == 0.0 and graph.reciprocal(4.0).value == 0.25
    with pytest.raises(ValueError, match="at least one"):
        graph.total([])


def test_local_derivatives_are_switched_off_while_graded_code_runs():
    """ops.*_back are answers of graded exercises (d_exp, d_reciprocal, d_sigmoid): off inside the guard."""
    from course_lib import ops
    from course_lib.guard import AutodiffDisabledError, hand_written_only

    assert ops.sigmoid_back(0.0) == 0.25
    with hand_written_only("d_sigmoid"):
        for back in (ops.exp_back, ops.log_back, ops.reciprocal_back, ops.sigmoid_back, ops.tanh_back,
                     ops.relu_back):
            with pytest.raises(AutodiffDisabledError, match=back.__name__):
                back(0.5)
    assert Node(0.5).sigmoid().local_grads == (ops.sigmoid_back(0.5),)  # the graph's own use is unchanged


def test_forward_order_refuses_a_graph_that_is_not_course_libs_own():
    """Exercise 5.1's order over the notebook's own Value class is the student's to write: course_lib's
    unguarded order walks only course_lib's Node graphs (a duck-typed node with parents is refused)."""
    from course_lib.graph import forward_order

    class Value:
        def __init__(self, *parents):
            self.parents, self.name, self.serial = list(parents), "v", 0

    with pytest.raises(TypeError, match="your own Value class"):
        forward_order(Value(Value(), Value()))
