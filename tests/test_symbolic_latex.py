"""The safe LaTeX parser: book notation to SymPy, and clear errors (never a crash or a hang) on bad input."""

import random

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losslab.errors import LosslabError
from losslab.symbolic.latex import ParseError, indexed_base, parse_expression, parse_relation, symbol

x, y = indexed_base("x"), indexed_base("y")
i, I = symbol("i"), symbol("I")
phi0, phi1 = symbol("phi_0"), symbol("phi_1")


def same(a, b):
    return sp.simplify(a - b) == 0


def test_least_squares_sum_with_limits():
    got = parse_expression(r"\sum_{i=1}^I (\phi_0 + \phi_1 x_i - y_i)^2")
    assert got == sp.Sum((phi0 + phi1 * x[i] - y[i]) ** 2, (i, 1, I))


def test_sum_without_limits_runs_over_one_to_I_and_binds_a_product():
    got = parse_expression(r"2 \sum_i x_i \cdot y_i - 1")
    assert got == 2 * sp.Sum(x[i] * y[i], (i, 1, I)) - 1


def test_decimals_are_exact_rationals():
    got = parse_expression(r"0.06 \cdot \phi_1 + \frac{z}{32.0}")
    assert got == sp.Rational(3, 50) * phi1 + symbol("z") / 32


def test_square_bracket_arguments_bind_only_the_bracket():
    # the trap of the ANTLR parser: \sin[a] \cdot b must not become sin(a b)
    a, b = symbol("a"), symbol("b")
    assert parse_expression(r"\sin[a] \cdot b") == sp.sin(a) * b
    assert parse_expression(r"\exp[a] b") == sp.exp(a) * b
    assert parse_expression(r"\exp \left( -a \right) b") == sp.exp(-a) * b
    assert parse_expression(r"\cos(a)") == sp.cos(a)


def test_implicit_multiplication_is_not_function_application():
    got = parse_expression(r"x_i(\phi_0 + \phi_1)")
    assert got == x[i] * (phi0 + phi1)
    assert parse_expression(r"\phi_1 (a + b)") == phi1 * (symbol("a") + symbol("b"))


def test_subscripts():
    assert parse_expression(r"\theta_{10}") == symbol("theta_10")
    assert parse_expression(r"\phi_0") == phi0
    assert parse_expression(r"\mathbf{m}_{t+1}") == indexed_base("m")[symbol("t") + 1]
    assert str(parse_expression(r"\nabla l_{t-1}")) == "Grad(l[t - 1])"  # the gradient at step t - 1: a value


def test_indicator_is_heaviside_zero_at_zero():
    z = symbol("z")
    got = parse_expression(r"\mathbb{I}[z > 0]")
    assert got == sp.Heaviside(z, 0)
    assert got.subs(z, 0) == 0
    assert parse_expression(r"\mathbb{I}[z < 1]") == sp.Heaviside(1 - z, 0)


def test_relu_sigmoid_and_user_functions_stay_applied():
    got = parse_expression(r"\phi_1 a[\theta_{10} + \theta_{11}x]")
    (app,) = [e for e in got.atoms(sp.Function) if type(e).__name__ == "a"]
    assert app.args == (symbol("theta_10") + symbol("theta_11") * symbol("x"),)
    assert type(parse_expression(r"\text{sig}[z]")).__name__ == "sig"
    assert type(parse_expression(r"\sigma(z)")).__name__ == "sig"
    assert type(parse_expression(r"f[x_i, \phi]")).__name__ == "f"


def test_partial_fractions_become_unevaluated_derivatives():
    d = parse_expression(r"\frac{\partial L}{\partial \phi_1}")
    assert isinstance(d, sp.Derivative) and d.variables == (phi1,)
    d2 = parse_expression(r"\frac{\partial^2 L}{\partial \phi \partial \theta}")
    assert d2.variables == (symbol("phi"), symbol("theta"))
    d3 = parse_expression(r"\frac{\partial^2 L}{\partial \phi_0^2}")
    assert d3.variables == (phi0, phi0)
    with pytest.raises(ParseError, match="order"):
        parse_expression(r"\frac{\partial^2 L}{\partial \phi_0}")


def test_bmatrix_and_relation_chain():
    m = parse_expression(r"\begin{bmatrix} 2I & 2 \\ 3 & x_i \end{bmatrix}")
    assert m == sp.ImmutableMatrix([[2 * I, 2], [3, x[i]]])
    sides, ops = parse_relation(r"\frac{\partial^2 L}{\partial \phi^2} = 2 \sum_{i=1}^I 1 = 2I")
    assert ops == ["=", "="] and sides[2] == 2 * I and sides[1].doit() == 2 * I


def test_left_right_dot_delimiters_spanning_rows():
    got = parse_expression(r"\left( a \right. \left. - b \right)")
    assert got == symbol("a") - symbol("b")


@pytest.mark.parametrize(
    "text, message",
    [
        (r"\frac{1}{2", "expected"),
        (r"(a + b", "expected"),
        (r"a + b)", "unexpected"),
        (r"\foo{x}", "unknown command"),
        ("", "empty"),
        ("a $ b", "unexpected character"),
        ("(" * 200 + "x" + ")" * 200, "nested too deeply"),
        (r"\frac{" * 80 + "1" + "}{2}" * 80, "nested too deeply"),
        ("x + " * 3000 + "x", "too long"),
        ("(a+b)^{1000}", "exponent too large"),
        (r"\mathbb{I}[z]", "unsupported condition|expected|unexpected"),
        (r"\partial x", "partial"),
    ],
)
def test_bad_input_gives_a_clear_parse_error(text, message):
    with pytest.raises(ParseError, match=message):
        parse_expression(text)


def test_parse_error_is_a_losslab_error():
    assert issubclass(ParseError, LosslabError)


_PIECES = [
    r"\frac{", "}{", "}", "{", "(", ")", "[", "]", r"\left(", r"\right)", r"\sum_{i=1}^I", r"\sum_i", "x_i", "y_i",
    r"\phi_0", r"\theta_{10}", "^2", "^", "_", "+", "-", r"\cdot", r"\times", "=", "0.06", "32.0", "2", r"\sin[",
    r"\exp", r"\text{sig}[", "a[", r"\mathbb{I}[", " > 0]", r"\partial", "L", "f[x_i, \\phi]", r"\begin{bmatrix}",
    r"\end{bmatrix}", "&", r"\\", r"\beta", r"\nabla l_t", r"\mathbf{m}_{t+1}", r"\dots", ",", "\\", "$", "'",
    r"\sigma(", r"\log", r"\mathbf{H}[\phi]", r"\text{Tr}(", r"\text{", "}", "\x00", "é",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_random_latex_never_crashes(pieces):
    text = " ".join(pieces)
    try:
        parse_relation(text)
    except LosslabError:
        pass


_SEED_EQUATIONS = [
    r"\frac{\partial L}{\partial \phi_1} = 2x_i(\phi_0 + \phi_1 x_i - y_i)",
    r"\text{Det}(\mathbf{H}[\phi]) = 4I \sum_{i=1}^I x_i^2 - 4 \left( \sum_{i=1}^I x_i \right)^2",
    r"f[x, \phi] = \sin[\phi_0 + 0.06 \cdot \phi_1 x] \cdot \exp \left( -\frac{(\phi_0 + 0.06 \cdot \phi_1 x)^2}{32.0} \right)",
    r"\frac{\partial f[x_i, \phi]}{\partial \theta_{11}} = \phi_1 \cdot x_i \cdot \mathbb{I}[\theta_{10} + \theta_{11}x_i > 0]",
    r"\mathbf{m}_{t+1} = (1 - \beta) \sum_{i=0}^t \beta^i \cdot \nabla l_{t-i}",
    r"\mathbf{H}[\phi] = \begin{bmatrix} 2I & 2 \sum_{i=1}^I x_i \\ 2 \sum_{i=1}^I x_i & 2 \sum_{i=1}^I x_i^2 \end{bmatrix}",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_SEED_EQUATIONS), st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.sampled_from(_PIECES)), min_size=1, max_size=6))
def test_mutated_seed_latex_never_crashes(text, edits):
    chars = list(text)
    for kind, where, piece in edits:
        k = where % (len(chars) + 1)
        if kind == 0 and chars:
            del chars[min(k, len(chars) - 1)]
        elif kind == 1:
            chars.insert(k, piece)
        elif chars:
            j = random.Random(where).randrange(len(chars))
            chars[min(k, len(chars) - 1)], chars[j] = chars[j], chars[min(k, len(chars) - 1)]
    try:
        parse_relation("".join(chars))
    except LosslabError:
        pass


def test_ordinary_d_notation_is_a_derivative_only_when_both_parts_start_with_d():
    assert parse_expression(r"\frac{dL}{d\phi_0}") == sp.Derivative(symbol("L"), phi0, evaluate=False)
    assert parse_expression(r"\frac{\mathrm{d} L}{\mathrm{d} \phi_1}").variables == (phi1,)
    assert parse_expression(r"\frac{d}{2}") == symbol("d") / 2
    assert parse_expression(r"\frac{d x}{y}") == symbol("d") * symbol("x") / symbol("y")


def test_single_token_arguments_of_scripts_and_frac():
    x, beta = symbol("x"), symbol("beta")
    assert parse_expression(r"\frac12") == sp.Rational(1, 2)
    assert parse_expression(r"x^23") == 3 * x**2  # only the first digit is the superscript
    assert parse_expression(r"\frac{1}{x}") == 1 / x
    assert parse_expression(r"\beta^\beta") == beta**beta
    with pytest.raises(ParseError, match=r"expected \{\.\.\}"):
        parse_expression(r"\frac\beta2")
    with pytest.raises(ParseError, match="expected a superscript or subscript"):
        parse_expression(r"x^+")


@pytest.mark.parametrize("text", [r"x_{1 2}", r"x_{1\,2}"])
def test_juxtaposed_numbers_in_a_subscript_are_refused_not_multiplied(text):
    # x_{1 2} once parsed as x[1*2] = x[2]: a silent mis-parse. Never guess.
    with pytest.raises(ParseError, match="ambiguous"):
        parse_expression(text)


@pytest.mark.parametrize("text, indices", [(r"x_{ij}", "i, j"), (r"x_{i j}", "i, j"), (r"x_{2i}", "2, i"),
                                            (r"x_{i1}", "i, 1"), (r"z_{1,n}", "1, n"), (r"H_{1,1}", "1, 1")])
def test_several_indices_in_a_subscript(text, indices):
    # x_{ij}: component j of x_i, as students write it; comma subscripts the same
    assert str(parse_expression(text)).endswith(f"[{indices}]")


def test_subscript_products_and_sums_written_out_still_parse():
    assert str(parse_expression(r"x_{2 \cdot i}")) == "x[2*i]"
    assert str(parse_expression(r"m_{t+1}")) == "m[t + 1]"
    assert str(parse_expression(r"x_{12}")) == "x[12]"


@pytest.mark.parametrize("text, says", [
    (r"\exp \begin{bmatrix} \end{bmatrix}", "empty matrix"),  # found by test_random_latex_never_crashes
    (r"\begin{bmatrix} \end{bmatrix}", "empty matrix"),
    (r"\exp[\begin{bmatrix} 1 & 2 \end{bmatrix}]", r"\\exp of a matrix"),  # SymPy: NonSquareMatrixError
    (r"\exp \begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}", r"\\exp of a matrix"),  # SymPy: a symbolic matrix exponential
    (r"\sin \begin{bmatrix} x_i & 2 \end{bmatrix}", r"\\sin of a matrix"),
])
def test_a_function_of_a_matrix_and_an_empty_matrix_are_parse_errors(text, says):
    with pytest.raises(ParseError, match=says):
        parse_relation(text)
