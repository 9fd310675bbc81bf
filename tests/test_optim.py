"""Tests of nn.optim: convergence, the book's update rules, both interfaces, state, dtypes and errors."""

import math

import numpy as np
import pytest

from autograd import Tensor
from nn.optim import OPTIMIZERS, SGD, AdaGrad, Adam, Momentum, Nesterov, Optimizer, RMSprop

# f(x) = ½ xᵀAx − bᵀx with A symmetric positive definite: convex, minimum at A⁻¹b.
A = np.array([[3.0, 1.0], [1.0, 2.0]])
B = np.array([1.0, -1.0])
X_MIN = np.linalg.solve(A, B)
X_START = np.array([2.0, -3.0])

# (class, hyperparameters, steps, tolerance on |x - x*|). RMSprop's step stays about lr near the
# minimum (it divides by the running gradient scale), so it only settles to within a few lr.
CONVERGENCE = [
    (SGD, {"lr": 0.1}, 300, 1e-8),
    (Momentum, {"lr": 0.05}, 300, 1e-5),
    (Nesterov, {"lr": 0.05}, 300, 1e-8),
    (AdaGrad, {"lr": 0.5}, 300, 1e-8),
    (RMSprop, {"lr": 0.01}, 300, 0.03),
    (Adam, {"lr": 0.05}, 300, 1e-5),
]
ALL = [SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam]


def quadratic_loss(x: Tensor) -> Tensor:
    return 0.5 * (x * (A @ x)).sum() - (x * B).sum()


@pytest.mark.parametrize("cls, hyper, steps, tol", CONVERGENCE, ids=lambda v: getattr(v, "__name__", ""))
def test_step_converges_on_convex_quadratic(cls, hyper, steps, tol):
    x = Tensor(X_START.copy())
    optimizer = cls([x], **hyper)
    start_loss = quadratic_loss(x).item()
    for _ in range(steps):
        optimizer.zero_grad()
        quadratic_loss(x).backward()
        optimizer.step()
    assert np.abs(x.data - X_MIN).max() < tol
    assert quadratic_loss(x).item() < start_loss


@pytest.mark.parametrize("cls, hyper, steps, tol", CONVERGENCE, ids=lambda v: getattr(v, "__name__", ""))
def test_dict_update_converges_on_convex_quadratic(cls, hyper, steps, tol):
    params = {"x": X_START.copy()}
    optimizer = cls(**hyper)
    for _ in range(steps):
        optimizer.update(params, {"x": A @ params["x"] - B})
    assert np.abs(params["x"] - X_MIN).max() < tol


@pytest.mark.parametrize("cls", ALL)
def test_dict_form_and_tensor_form_give_identical_trajectories(cls):
    rng = np.random.default_rng(1)
    w0, b0 = rng.normal(size=(4, 3)), rng.normal(size=3)
    tensors = [Tensor(w0.copy()), Tensor(b0.copy())]
    arrays = {"W": w0.copy(), "b": b0.copy()}
    by_step, by_update = cls(tensors, lr=0.05), cls(lr=0.05)
    for _ in range(20):
        x = rng.normal(size=(5, 4))
        grads = {"W": x.T @ np.tanh(x @ arrays["W"] + arrays["b"]), "b": np.cos(arrays["b"])}
        tensors[0].grad, tensors[1].grad = grads["W"].copy(), grads["b"].copy()
        by_step.step()
        by_update.update(arrays, grads)
        assert np.array_equal(tensors[0].data, arrays["W"]) and np.array_equal(tensors[1].data, arrays["b"])


# The book's chapter 6 classes (common/optimizer.py), verbatim apart from formatting: the reference.
class BookSGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class BookMomentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class BookNesterov:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():  # the book's order (common/optimizer.py): v first, then W with the new v
            self.v[key] *= self.momentum
            self.v[key] -= self.lr * grads[key]
            params[key] += self.momentum * self.momentum * self.v[key]
            params[key] -= (1 + self.momentum) * self.lr * grads[key]


class BookAdaGrad:
    def __init__(self, lr=0.01):
        self.lr, self.h = lr, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class BookRMSprop:
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay_rate, self.h = lr, decay_rate, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class BookAdam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2, self.iter, self.m, self.v = lr, beta1, beta2, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {key: np.zeros_like(val) for key, val in params.items()}
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


@pytest.mark.parametrize("ours, book", [(SGD, BookSGD), (Momentum, BookMomentum), (Nesterov, BookNesterov),
                                        (AdaGrad, BookAdaGrad), (RMSprop, BookRMSprop), (Adam, BookAdam)])
def test_update_matches_book_chapter6_with_default_hyperparameters(ours, book):
    rng = np.random.default_rng(2)
    start = {"W1": rng.normal(size=(6, 4)), "b1": rng.normal(size=4)}
    mine, theirs = {k: v.copy() for k, v in start.items()}, {k: v.copy() for k, v in start.items()}
    optimizer, reference = ours(), book()
    for _ in range(30):
        grads = {k: rng.normal(size=v.shape) for k, v in start.items()}
        optimizer.update(mine, grads)
        reference.update(theirs, grads)
    for key in start:
        np.testing.assert_allclose(mine[key], theirs[key], rtol=1e-13, atol=1e-15)
        assert not np.array_equal(mine[key], start[key])


def test_book_default_hyperparameters():
    assert SGD().lr == 0.01
    assert (Momentum().lr, Momentum().momentum) == (0.01, 0.9)
    assert (Nesterov().lr, Nesterov().momentum) == (0.01, 0.9)
    assert (AdaGrad().lr, AdaGrad().eps) == (0.01, 1e-7)
    assert (RMSprop().lr, RMSprop().decay_rate, RMSprop().eps) == (0.01, 0.99, 1e-7)
    assert (Adam().lr, Adam().beta1, Adam().beta2, Adam().eps) == (0.001, 0.9, 0.999, 1e-7)


@pytest.mark.parametrize("cls", ALL)
def test_step_skips_parameters_whose_grad_is_none(cls):
    used, unused = Tensor(np.ones(3)), Tensor(np.full(2, 5.0))
    optimizer = cls([used, unused], lr=0.1)
    used.grad = np.ones(3)
    optimizer.step()
    assert np.array_equal(unused.data, np.full(2, 5.0))
    assert optimizer.state[1] == {}
    assert not np.array_equal(used.data, np.ones(3))


def test_adam_step_count_is_per_parameter_and_skipped_steps_do_not_count():
    first, second = Tensor(np.zeros(2)), Tensor(np.zeros(2))
    optimizer = Adam([first, second], lr=0.1)
    for step in range(3):
        first.grad = np.ones(2)
        second.grad = np.ones(2) if step == 2 else None
        optimizer.step()
    assert int(optimizer.state[0]["step"]) == 3 and int(optimizer.state[1]["step"]) == 1
    # A first Adam step moves by lr whatever the gradient's scale.
    np.testing.assert_allclose(second.data, -0.1, rtol=1e-5)


@pytest.mark.parametrize("cls", [Momentum, Nesterov, AdaGrad, RMSprop, Adam])
def test_state_is_kept_per_parameter(cls):
    small, large = Tensor(np.zeros(3)), Tensor(np.zeros(3))
    optimizer = cls([small, large], lr=0.1)
    small.grad, large.grad = np.full(3, 0.5), np.full(3, -4.0)
    optimizer.step()
    first, second = optimizer.state
    assert first.keys() == second.keys() and first
    for key in first:
        if key != "step":
            assert first[key] is not second[key]
            assert not np.array_equal(first[key], second[key])
    # The same gradient given to a fresh single-parameter optimizer produces the same state.
    alone = Tensor(np.zeros(3))
    reference = cls([alone], lr=0.1)
    alone.grad = np.full(3, -4.0)
    reference.step()
    assert np.array_equal(alone.data, large.data)


@pytest.mark.parametrize("cls", ALL)
def test_float32_parameters_and_state_stay_float32_and_are_updated_in_place(cls):
    weight = Tensor(np.ones((3, 2), dtype=np.float32))
    array = weight.data
    optimizer = cls([weight], lr=0.1)
    for _ in range(3):
        weight.grad = np.full((3, 2), 0.3, dtype=np.float32)
        optimizer.step()
    assert weight.data is array and weight.data.dtype == np.float32
    assert all(s.dtype == np.float32 for k, s in optimizer.state[0].items() if k != "step")
    params = {"W": np.ones(4, dtype=np.float32)}
    alias = params["W"]
    cls(lr=0.1).update(params, {"W": np.full(4, 0.3, dtype=np.float32)})
    assert params["W"] is alias and alias.dtype == np.float32 and not np.all(alias == 1)


def test_update_accepts_tensors_and_skips_none_gradients():
    weight, bias = Tensor(np.ones(2)), Tensor(np.ones(1))
    SGD(lr=0.5).update({"W": weight, "b": bias}, {"W": Tensor(np.ones(2)), "b": None})
    assert np.array_equal(weight.data, [0.5, 0.5]) and np.array_equal(bias.data, [1.0])


def test_zero_grad_forgets_every_gradient():
    params = [Tensor(np.ones(2)), Tensor(np.ones(3))]
    for p in params:
        p.grad = np.ones_like(p.data)
    Momentum(params).zero_grad()
    assert all(p.grad is None for p in params)


def test_optimizers_by_name():
    assert OPTIMIZERS == {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
                          "rmsprop": RMSprop, "adam": Adam}
    assert all(issubclass(cls, Optimizer) for cls in OPTIMIZERS.values())


@pytest.mark.parametrize("cls, kwargs, error, match", [
    (SGD, {"lr": 0.0}, ValueError, r"SGD: lr must be in \(0, inf\), got 0.0"),
    (SGD, {"lr": -0.1}, ValueError, r"SGD: lr must be in \(0, inf\), got -0.1"),
    (SGD, {"lr": math.nan}, ValueError, r"SGD: lr must be .*got nan"),
    (SGD, {"lr": "0.1"}, TypeError, r"SGD: lr must be a real number, got str '0.1'"),
    (Momentum, {"momentum": 1.0}, ValueError, r"Momentum: momentum must be in \[0, 1\), got 1.0"),
    (Nesterov, {"momentum": -0.5}, ValueError, r"Nesterov: momentum must be in \[0, 1\), got -0.5"),
    (AdaGrad, {"eps": 0.0}, ValueError, r"AdaGrad: eps must be in \(0, inf\), got 0.0"),
    (RMSprop, {"decay_rate": 1.5}, ValueError, r"RMSprop: decay_rate must be in \[0, 1\), got 1.5"),
    (Adam, {"beta1": 1.0}, ValueError, r"Adam: beta1 must be in \[0, 1\), got 1.0"),
    (Adam, {"beta2": -1e-3}, ValueError, r"Adam: beta2 must be in \[0, 1\), got -0.001"),
    (Adam, {"lr": True}, TypeError, r"Adam: lr must be a real number, got bool True"),
])
def test_bad_hyperparameters_raise_naming_them(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(TypeError, match=r"SGD: params must be an iterable of Tensors .* got float"):
        SGD(0.1)
    with pytest.raises(TypeError, match=r"Adam: params must be an iterable .* got dict; .*update\(params, grads\)"):
        Adam({"W": np.ones(2)})
    with pytest.raises(TypeError, match=r"Momentum: params\[1\] is a ndarray, not a Tensor"):
        Momentum([Tensor(np.ones(2)), np.ones(2)])
    shared = Tensor(np.ones(2))
    with pytest.raises(ValueError, match=r"SGD: params\[1\] is the same Tensor as params\[0\]"):
        SGD([shared, shared])
    with pytest.raises(ValueError, match=r"RMSprop: params is empty"):
        RMSprop([])


def test_step_and_update_errors_name_the_parameter_and_shapes():
    with pytest.raises(RuntimeError, match=r"SGD: built without parameters, so step\(\) has nothing"):
        SGD(lr=0.1).step()
    weight = Tensor(np.ones((2, 3)), name="W1")
    with pytest.raises(ValueError, match=r"Tensor.grad: a gradient of shape \(3, 2\) for a Tensor of shape \(2, 3\)"):
        weight.grad = np.ones((3, 2))
    weight._grad = np.ones((3, 2))  # past the setter's check, as a buggy custom op could leave it
    with pytest.raises(ValueError, match=r"Adam: gradient of W1 has shape \(3, 2\), but the parameter has "
                                         r"shape \(2, 3\)"):
        Adam([weight]).step()
    with pytest.raises(ValueError, match=r"SGD.update: grads has no entry 'b1' \(it has \['W1'\]\)"):
        SGD().update({"W1": np.ones(2), "b1": np.ones(2)}, {"W1": np.ones(2)})
    with pytest.raises(TypeError, match=r"SGD: params\['W1'\] must be a float ndarray or Tensor updated in "
                                        r"place, got list"):
        SGD().update({"W1": [1.0, 2.0]}, {"W1": np.ones(2)})


# --- the book's optimizer_compare_naive.py: params hold Python floats ----------------------------------------

def _book_rule(name, lr):
    """The book's update rules (common/optimizer.py) over a dict of numbers, as a reference."""
    state = {"v": {}, "h": {}, "m": {}, "iter": 0}

    def update(params, grads):
        if name == "adam":
            state["iter"] += 1
            lr_t = lr * np.sqrt(1.0 - 0.999 ** state["iter"]) / (1.0 - 0.9 ** state["iter"])
        for key in params:
            g = grads[key]
            if name == "sgd":
                params[key] -= lr * g
            elif name == "momentum":
                state["v"][key] = 0.9 * state["v"].get(key, 0.0) - lr * g
                params[key] += state["v"][key]
            elif name == "adagrad":
                state["h"][key] = state["h"].get(key, 0.0) + g * g
                params[key] -= lr * g / (np.sqrt(state["h"][key]) + 1e-7)
            else:
                m = state["m"].get(key, 0.0)
                m += (1 - 0.9) * (g - m)
                state["m"][key] = m
                v = state["v"].get(key, 0.0)
                v += (1 - 0.999) * (g ** 2 - v)
                state["v"][key] = v
                params[key] -= lr_t * m / (np.sqrt(v) + 1e-7)
    return update


@pytest.mark.parametrize("name, cls, lr", [("sgd", SGD, 0.95), ("momentum", Momentum, 0.1),
                                           ("adagrad", AdaGrad, 1.5), ("adam", Adam, 0.3)])
def test_update_takes_python_floats_and_follows_the_book_step_for_step(name, cls, lr):
    def df(x, y):  # the gradient of the book's f(x, y) = x²/20 + y²
        return x / 10.0, 2.0 * y

    ours, book = {"x": -7.0, "y": 2.0}, {"x": -7.0, "y": 2.0}
    optimizer, book_update = cls(lr=lr), _book_rule(name, lr)
    for _ in range(30):
        grads = dict(zip("xy", df(ours["x"], ours["y"])))
        optimizer.update(ours, grads)
        book_update(book, dict(zip("xy", df(book["x"], book["y"]))))
        assert type(ours["x"]) is float
        assert (ours["x"], ours["y"]) == (book["x"], book["y"])
    assert abs(ours["y"]) < 2.0


def test_update_keeps_a_numpy_scalars_dtype():
    params = {"w": np.float32(1.0)}
    SGD(lr=0.5).update(params, {"w": 1})
    assert params["w"] == np.float32(0.5) and params["w"].dtype == np.float32


# --- weight decay --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", ALL)
def test_weight_decay_adds_decay_times_w_to_the_gradient_in_both_forms(cls):
    rng = np.random.default_rng(3)
    start, grad = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    decayed, plain = {"W": start.copy()}, {"W": start.copy()}
    cls(lr=0.1, weight_decay=0.01).update(decayed, {"W": grad})
    cls(lr=0.1).update(plain, {"W": grad + 0.01 * start})
    np.testing.assert_array_equal(decayed["W"], plain["W"])
    tensor = Tensor(start.copy())
    tensor.grad = grad.copy()
    cls([tensor], lr=0.1, weight_decay=0.01).step()
    np.testing.assert_array_equal(tensor.data, plain["W"])
    np.testing.assert_array_equal(tensor.grad, grad)  # the gradient itself is left alone


def test_weight_decay_is_the_gradient_of_the_books_half_lambda_w_squared_loss_term():
    from autograd import grad as graph_grad, sum as graph_sum

    rng = np.random.default_rng(4)
    W, x = Tensor(rng.standard_normal((3, 2))), rng.standard_normal((5, 3))
    decay = 0.1  # the book's weight_decay_lambda
    data_loss = lambda W: graph_sum((Tensor(x) @ W) ** 2)  # noqa: E731
    (with_term,) = graph_grad(data_loss(W) + 0.5 * decay * graph_sum(W ** 2), [W])
    (without,) = graph_grad(data_loss(W), [W])
    by_term, by_decay = {"W": W.data.copy()}, {"W": W.data.copy()}
    SGD(lr=0.01).update(by_term, {"W": with_term.data})
    SGD(lr=0.01, weight_decay=decay).update(by_decay, {"W": without.data})
    np.testing.assert_allclose(by_decay["W"], by_term["W"], rtol=1e-14)


def test_weight_decay_must_be_a_number_at_least_zero():
    with pytest.raises(ValueError, match=r"Adam: weight_decay must be in \[0, inf\), got -0.1"):
        Adam(weight_decay=-0.1)
    with pytest.raises(TypeError, match=r"SGD: weight_decay must be a real number, got str '0'"):
        SGD(weight_decay="0")


def test_nesterov_takes_the_books_first_step():
    # Found this session (adversarial hunt): the reference above had copied graphgrad's order, not the
    # book's, so the comparison passed while every step differed from the book's (0.81 here, not 0.729).
    params, grads = {"W": np.array([1.0])}, {"W": np.array([1.0])}
    Nesterov(lr=0.1, momentum=0.9).update(params, grads)
    # v = 0.9 * 0 - 0.1 * 1 = -0.1; W = 1 + 0.81 * (-0.1) - 1.9 * 0.1 * 1 = 0.729
    np.testing.assert_allclose(params["W"], [0.729])
