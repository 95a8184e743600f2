"""Keras 3 activation functions: metadata, NumPy references and C names.

Every activation that ``keras.activations.get(<string>)`` accepts is described
here by an :class:`Activation`.  The matching C code lives in
``templates/activations.c.j2``.

Semantics are those of ``keras.activations.<name>`` called with its default
arguments (that is what a string resolves to), as computed by the Keras torch
backend (Keras 3.15).  The reference forwards below follow the order of
floating point operations of the torch kernels, and they compute in the dtype
of their input: a float32 array is computed in float32 (like Keras with
floatx=float32), a float64 array in float64 (use that for finite differences).

Gradients follow torch autograd of the very composition Keras uses, including
the value chosen at kinks (e.g. relu'(0) = 0, leaky_relu'(0) = 0.2,
hard_silu'(-3) = 0, hard_silu'(3) = 1, selu'(0) = alpha*scale).  ``vjp`` holds
a NumPy reference of that backward pass: ``vjp(x, y, dy) -> dx``.

Keras quirks that are reproduced on purpose (see ``_sparsemax``):

* ``sparsemax``: every Keras backend (3.15 and master at the time of writing)
  computes the threshold as ``(sum of the cumulative sums over the support - 1)
  / k`` instead of ``(cumsum[k-1] - 1) / k``, so the output does not sum to one
  whenever more than one logit is in the support (keras-team/keras#23425).  We
  reproduce Keras, not the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "ALIASES",
    "KERAS_NAMES",
    "get",
    "c_forward",
    "c_backward",
]


@dataclass(frozen=True)
class Activation:
    """One Keras activation.

    name:       canonical Keras name.
    kind:       'elementwise' (C: act_NAME / act_NAME_grad) or 'rowwise'
                (C: act_NAME_row / act_NAME_row_grad, over the last axis).
    grad_needs: saved values the backward needs: 'y' (output), 'x'
                (pre-activation) or 'xy'.  For 'y' activations the C grad
                ignores x; for 'x' ones it ignores y.
    out_dim:    last-dimension mapping (identity except glu: n -> n // 2).
    reference:  NumPy forward on (..., n) arrays, Keras formula, computed in the
                input dtype (float32 or float64).
    vjp:        NumPy backward reference, (x, y, dy) -> dx, with torch autograd's
                conventions at kinks.
    kinks:      points where the derivative is discontinuous (elementwise only);
                finite differences are meaningless there.
    """

    name: str
    kind: str
    grad_needs: str
    out_dim: Callable[[int], int]
    reference: Callable[[np.ndarray], np.ndarray]
    vjp: Optional[Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = None
    kinks: Tuple[float, ...] = ()


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _arr(x) -> np.ndarray:
    """Float array in the dtype Keras would compute in (floats kept as is)."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        # ints/bools -> floatx (float32), like keras' convert_to_tensor;
        # float16 is promoted too (torch computes these on CPU in float).
        x = x.astype(np.float32)
    return x


def _quiet(fn):
    """Run a reference with floating point warnings silenced (np.where evaluates
    both branches, so overflow in the unused one is expected)."""

    def wrapped(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


def _c(x: np.ndarray, v: float):
    """Scalar constant in x's dtype (float(v) rounded once, like torch's
    Scalar.to<scalar_t>())."""
    return x.dtype.type(v)


def _identity_dim(n: int) -> int:
    return n


def _half_dim(n: int) -> int:
    return n // 2


def _clamp(x, lo, hi):
    # NaN-propagating clamp, like torch's min(max(.)) kernels.
    return np.minimum(np.maximum(x, lo), hi)


_erf_vec = np.vectorize(math.erf, otypes=[np.float64])


def _erf(x: np.ndarray) -> np.ndarray:
    # Evaluated in float64 then rounded to x's dtype (a correctly rounded
    # float32 erf for float32 input).
    return _erf_vec(x.astype(np.float64)).astype(x.dtype)


def _sigmoid(x):
    one = _c(x, 1.0)
    return one / (one + np.exp(-x))


def _softplus(x):
    # torch.nn.functional.softplus(beta=1, threshold=20)
    return np.where(x > _c(x, 20.0), x, np.log1p(np.exp(x)))


def _softplus_grad(x):
    z = np.exp(x)
    return np.where(x > _c(x, 20.0), _c(x, 1.0), z / (z + _c(x, 1.0)))


# SELU constants (torch's SELU_ALPHA / SELU_SCALE; Keras docs give the same
# values rounded to 1.67326324 / 1.05070098).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# 1/sqrt(2) and 1/sqrt(2*pi) (gelu)
_SQRT1_2 = 0.70710678118654752440
_INV_SQRT_2PI = 0.39894228040143267794


def _selu_negcoef(x):
    # torch: negcoef = alpha.to<scalar_t>() * scale.to<scalar_t>()
    return _c(x, SELU_ALPHA) * _c(x, SELU_SCALE)


# --------------------------------------------------------------------------
# forward references (input dtype preserved)
# --------------------------------------------------------------------------

@_quiet
def _relu(x):
    x = _arr(x)
    return np.maximum(x, _c(x, 0.0))


@_quiet
def _leaky_relu(x):
    x = _arr(x)
    return np.where(x > _c(x, 0.0), x, x * _c(x, 0.2))


@_quiet
def _relu6(x):
    x = _arr(x)
    return _clamp(x, _c(x, 0.0), _c(x, 6.0))


@_quiet
def _softmax(x):
    x = _arr(x)
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - m)
    s = np.sum(e, axis=-1, keepdims=True)
    return e * (_c(x, 1.0) / s)


@_quiet
def _elu(x):
    # torch elu with alpha=1, scale=1, input_scale=1:  x < 0 ? expm1(x) : x
    x = _arr(x)
    return np.where(x < _c(x, 0.0), np.expm1(x), x)


@_quiet
def _celu(x):
    # celu(alpha=1) == elu(x, alpha=1, scale=1, input_scale=1/alpha) == elu
    return _elu(x)


@_quiet
def _selu(x):
    x = _arr(x)
    return np.where(x < _c(x, 0.0), np.expm1(x) * _selu_negcoef(x), x * _c(x, SELU_SCALE))


@_quiet
def _softplus_ref(x):
    x = _arr(x)
    return _softplus(x)


@_quiet
def _softsign(x):
    x = _arr(x)
    return x / (np.abs(x) + _c(x, 1.0))


@_quiet
def _squareplus(x):
    # torch backend: y = x + sqrt(x**2 + b); y / 2   with b = 4
    x = _arr(x)
    return (x + np.sqrt(x * x + _c(x, 4.0))) / _c(x, 2.0)


@_quiet
def _soft_shrink(x):
    x = _arr(x)
    lam = _c(x, 0.5)
    return np.where(x > lam, x - lam, np.where(x < -lam, x + lam, x * _c(x, 0.0)))


@_quiet
def _sparse_plus(x):
    x = _arr(x)
    one = _c(x, 1.0)
    xp1 = x + one
    return np.where(x <= -one, _c(x, 0.0),
                    np.where(x < one, _c(x, 0.25) * (xp1 * xp1), x))


@_quiet
def _silu(x):
    x = _arr(x)
    return x / (_c(x, 1.0) + np.exp(-x))


@_quiet
def _gelu(x):
    # keras.activations.gelu defaults to approximate=False (exact erf form),
    # unlike keras.ops.gelu whose default is approximate=True.
    x = _arr(x)
    return x * _c(x, 0.5) * (_c(x, 1.0) + _erf(x * _c(x, _SQRT1_2)))


@_quiet
def _glu(x):
    x = _arr(x)
    n = x.shape[-1]
    if n % 2:
        raise ValueError(f"glu needs an even last dimension, got {n}")
    a, b = x[..., : n // 2], x[..., n // 2:]
    return a * _sigmoid(b)


@_quiet
def _tanh(x):
    x = _arr(x)
    return np.tanh(x)


@_quiet
def _tanh_shrink(x):
    x = _arr(x)
    return x - np.tanh(x)


@_quiet
def _sigmoid_ref(x):
    x = _arr(x)
    return _sigmoid(x)


@_quiet
def _sparse_sigmoid(x):
    x = _arr(x)
    one = _c(x, 1.0)
    return np.where(x <= -one, _c(x, 0.0),
                    np.where(x >= one, one, _c(x, 0.5) * (x + one)))


@_quiet
def _exponential(x):
    x = _arr(x)
    return np.exp(x)


@_quiet
def _hard_sigmoid(x):
    # torch hardsigmoid: min(max(x + 3, 0), 6) / 6   (Keras docs: x/6 + 0.5)
    x = _arr(x)
    return _clamp(x + _c(x, 3.0), _c(x, 0.0), _c(x, 6.0)) / _c(x, 6.0)


@_quiet
def _hard_silu(x):
    # torch hardswish: x * min(max(x + 3, 0), 6) / 6
    x = _arr(x)
    return x * _clamp(x + _c(x, 3.0), _c(x, 0.0), _c(x, 6.0)) / _c(x, 6.0)


@_quiet
def _hard_tanh(x):
    x = _arr(x)
    return _clamp(x, _c(x, -1.0), _c(x, 1.0))


@_quiet
def _hard_shrink(x):
    x = _arr(x)
    lam = _c(x, 0.5)
    return np.where((x >= -lam) & (x <= lam), _c(x, 0.0), x)


@_quiet
def _linear(x):
    return np.array(_arr(x), copy=True)


@_quiet
def _mish(x):
    # Keras: x * tanh(softplus(x)) with the backend's softplus (threshold 20),
    # not torch's native mish kernel.
    x = _arr(x)
    return x * np.tanh(_softplus(x))


@_quiet
def _log_softmax(x):
    x = _arr(x)
    m = np.max(x, axis=-1, keepdims=True)
    s = np.sum(np.exp(x - m), axis=-1, keepdims=True)
    return x - m - np.log(s)


@_quiet
def _log_sigmoid(x):
    # torch log_sigmoid: min(x, 0) - log1p(exp(-|x|))
    x = _arr(x)
    return np.minimum(x, _c(x, 0.0)) - np.log1p(np.exp(-np.abs(x)))


def _sparsemax_parts(x):
    """Keras's sparsemax intermediates along the last axis.

    Returns (support_sorted, order, k, tau): ``order`` sorts each row
    descending (ties keep index order, like torch's CPU sort), ``support_sorted``
    is the boolean support in sorted order, k its count, tau the threshold.
    """
    order = np.argsort(-x, axis=-1, kind="stable")
    z = np.take_along_axis(x, order, axis=-1)
    # torch's CPU cumsum accumulates float32 in double and rounds each output.
    csum = np.cumsum(z.astype(np.float64), axis=-1).astype(x.dtype)
    n = x.shape[-1]
    r = np.arange(1, n + 1, dtype=x.dtype)
    support = z - (csum - _c(x, 1.0)) / r > 0
    k = np.sum(support, axis=-1, keepdims=True).astype(x.dtype)
    # The Keras formula (sum of the *cumulative* sums over the support):
    s = np.sum(np.where(support, csum, _c(x, 0.0)).astype(np.float64),
               axis=-1, keepdims=True).astype(x.dtype)
    tau = (s - _c(x, 1.0)) / k
    return support, order, k, tau


@_quiet
def _sparsemax(x):
    """Keras's sparsemax, bug included (see module docstring).

    For a support of size 1 it agrees with true sparsemax (one-hot); for a
    larger support tau is too large and the row sums to less than one.
    """
    x = _arr(x)
    _, _, _, tau = _sparsemax_parts(x)
    return np.maximum(x - tau, _c(x, 0.0))


# --------------------------------------------------------------------------
# backward references (torch autograd conventions)
# --------------------------------------------------------------------------

def _ew(grad_fn):
    """Elementwise vjp from a local-derivative function d(x, y)."""

    @_quiet
    def vjp(x, y, dy):
        x = _arr(x)
        y = np.asarray(y, dtype=x.dtype)
        dy = np.asarray(dy, dtype=x.dtype)
        return dy * grad_fn(x, y)

    return vjp


def _where(cond, a, b, x):
    return np.where(cond, _c(x, a), _c(x, b))


_d = {
    # threshold_backward(grad, result, 0): result > 0
    "relu": lambda x, y: _where(y > 0, 1.0, 0.0, x),
    # leaky_relu_backward: x > 0 ? 1 : slope   (so 0.2 at x == 0)
    "leaky_relu": lambda x, y: np.where(x > 0, _c(x, 1.0), _c(x, 0.2)),
    # relu6 = hardtanh(x, 0, 6): hardtanh_backward zero at x <= 0 or x >= 6
    "relu6": lambda x, y: _where((x > 0) & (x < 6), 1.0, 0.0, x),
    # elu_backward(is_result=False): x <= 0 ? alpha*exp(x) : 1
    "elu": lambda x, y: np.where(x <= 0, np.exp(x), _c(x, 1.0)),
    "celu": lambda x, y: np.where(x <= 0, np.exp(x), _c(x, 1.0)),
    "selu": lambda x, y: np.where(x <= 0, _selu_negcoef(x) * np.exp(x), _c(x, SELU_SCALE)),
    # softplus_backward: x > 20 ? 1 : z / (z + 1), z = exp(x)
    "softplus": lambda x, y: _softplus_grad(x),
    # autograd of x / (|x| + 1)  (abs'(0) = sgn(0) = 0)  ==  1 / (1 + |x|)^2
    "softsign": lambda x, y: _c(x, 1.0) / ((np.abs(x) + _c(x, 1.0)) ** 2),
    # autograd of (x + sqrt(x^2 + 4)) / 2
    "squareplus": lambda x, y: _c(x, 0.5) * (_c(x, 1.0) + x / np.sqrt(x * x + _c(x, 4.0))),
    # shrink_backward: zero for -0.5 <= x <= 0.5
    "soft_shrink": lambda x, y: _where((x < -0.5) | (x > 0.5), 1.0, 0.0, x),
    "hard_shrink": lambda x, y: _where((x < -0.5) | (x > 0.5), 1.0, 0.0, x),
    # where(x <= -1, 0, where(x < 1, (x+1)^2/4, x))
    "sparse_plus": lambda x, y: np.where(x <= -1, _c(x, 0.0),
                                         np.where(x < 1, _c(x, 0.5) * (x + _c(x, 1.0)), _c(x, 1.0))),
    # silu_backward: s * (1 + x * (1 - s))
    "silu": lambda x, y: _sigmoid(x) * (_c(x, 1.0) + x * (_c(x, 1.0) - _sigmoid(x))),
    # gelu_backward (approximate='none'): cdf + x * pdf
    "gelu": lambda x, y: (_c(x, 0.5) * (_c(x, 1.0) + _erf(x * _c(x, _SQRT1_2)))
                          + x * _c(x, _INV_SQRT_2PI) * np.exp(x * x * _c(x, -0.5))),
    "tanh": lambda x, y: _c(x, 1.0) - np.tanh(x) ** 2,
    # autograd of x - tanh(x)
    "tanh_shrink": lambda x, y: np.tanh(x) ** 2,
    "sigmoid": lambda x, y: _sigmoid(x) * (_c(x, 1.0) - _sigmoid(x)),
    # where(x <= -1, 0, where(x >= 1, 1, (x+1)/2))
    "sparse_sigmoid": lambda x, y: _where((x > -1) & (x < 1), 0.5, 0.0, x),
    "exponential": lambda x, y: np.exp(x),
    # hardsigmoid_backward: 1/6 for -3 < x < 3
    "hard_sigmoid": lambda x, y: _where((x > -3) & (x < 3), 1.0 / 6.0, 0.0, x),
    # hardswish_backward: x <= -3 -> 0, x < 3 -> x/3 + 1/2, else 1
    "hard_silu": lambda x, y: np.where(x <= -3, _c(x, 0.0),
                                       np.where(x < 3, x / _c(x, 3.0) + _c(x, 0.5), _c(x, 1.0))),
    # hardtanh_backward(-1, 1): zero for x <= -1 or x >= 1
    "hard_tanh": lambda x, y: _where((x > -1) & (x < 1), 1.0, 0.0, x),
    "linear": lambda x, y: np.ones_like(x),
    # autograd of x * tanh(softplus(x))
    "mish": lambda x, y: (np.tanh(_softplus(x))
                          + x * (_c(x, 1.0) - np.tanh(_softplus(x)) ** 2) * _softplus_grad(x)),
    # log_sigmoid_backward == sigmoid(-x)
    "log_sigmoid": lambda x, y: _sigmoid(-x),
}


@_quiet
def _softmax_vjp(x, y, dy):
    y = np.asarray(y)
    dy = np.asarray(dy, dtype=y.dtype)
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


@_quiet
def _log_softmax_vjp(x, y, dy):
    y = np.asarray(y)
    dy = np.asarray(dy, dtype=y.dtype)
    return dy - np.exp(y) * np.sum(dy, axis=-1, keepdims=True)


@_quiet
def _glu_vjp(x, y, dy):
    x = _arr(x)
    dy = np.asarray(dy, dtype=x.dtype)
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    s = _sigmoid(b)
    return np.concatenate([dy * s, (_c(x, 1.0) - s) * s * a * dy], axis=-1)


@_quiet
def _sparsemax_vjp(x, y, dy):
    """Autograd of Keras's sparsemax.

    out = clamp(x - tau, min=0): clamp passes the gradient where x - tau >= 0
    (subgradient 1 at 0).  tau = (sum_{j in support} cumsum_j - 1) / k, so
    d tau / d x_m = #{support ranks >= rank(m)} / k.
    """
    x = _arr(x)
    dy = np.asarray(dy, dtype=x.dtype)
    support, order, k, tau = _sparsemax_parts(x)
    a = (x - tau) >= 0
    g = np.sum(np.where(a, dy, _c(x, 0.0)), axis=-1, keepdims=True)
    # count of support entries at sorted position >= j
    cnt_sorted = np.cumsum(support[..., ::-1], axis=-1)[..., ::-1].astype(x.dtype)
    w = np.empty_like(x)
    np.put_along_axis(w, order, cnt_sorted / k, axis=-1)
    return np.where(a, dy, _c(x, 0.0)) - g * w


# --------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------

def _E(name, grad_needs, ref, kinks=()):
    return Activation(name, "elementwise", grad_needs, _identity_dim, ref,
                      _ew(_d[name]), tuple(kinks))


def _R(name, grad_needs, ref, vjp, out_dim=_identity_dim):
    return Activation(name, "rowwise", grad_needs, out_dim, ref, vjp, ())


ACTIVATIONS: Dict[str, Activation] = {
    a.name: a
    for a in [
        _E("relu", "y", _relu, [0.0]),
        _E("leaky_relu", "y", _leaky_relu, [0.0]),
        _E("relu6", "y", _relu6, [0.0, 6.0]),
        _R("softmax", "y", _softmax, _softmax_vjp),
        _E("celu", "y", _celu),
        _E("elu", "y", _elu),
        _E("selu", "y", _selu, [0.0]),
        _E("softplus", "y", _softplus_ref, [20.0]),
        _E("softsign", "x", _softsign),
        _E("squareplus", "y", _squareplus),
        _E("soft_shrink", "y", _soft_shrink, [-0.5, 0.5]),
        _E("sparse_plus", "y", _sparse_plus, [-1.0, 1.0]),
        _E("silu", "x", _silu),
        _E("gelu", "x", _gelu),
        _R("glu", "x", _glu, _glu_vjp, _half_dim),
        _E("tanh", "y", _tanh),
        _E("tanh_shrink", "x", _tanh_shrink),
        _E("sigmoid", "y", _sigmoid_ref),
        _E("sparse_sigmoid", "x", _sparse_sigmoid, [-1.0, 1.0]),
        _E("exponential", "y", _exponential),
        _E("hard_sigmoid", "x", _hard_sigmoid, [-3.0, 3.0]),
        _E("hard_silu", "x", _hard_silu, [-3.0, 3.0]),
        _E("hard_tanh", "y", _hard_tanh, [-1.0, 1.0]),
        _E("hard_shrink", "y", _hard_shrink, [-0.5, 0.5]),
        _E("linear", "y", _linear),
        _E("mish", "x", _mish, [20.0]),
        _R("log_softmax", "y", _log_softmax, _log_softmax_vjp),
        _E("log_sigmoid", "y", _log_sigmoid),
        _R("sparsemax", "x", _sparsemax, _sparsemax_vjp),
    ]
}

ALIASES: Dict[str, str] = {
    "swish": "silu",
    "hard_swish": "hard_silu",
}

#: Every string keras.activations.get() accepts and that can actually be used
#: (Keras's ALL_OBJECTS_DICT minus 'threshold').
KERAS_NAMES: Tuple[str, ...] = tuple(sorted(list(ACTIVATIONS) + list(ALIASES)))

_REJECTED = {
    "threshold": (
        "activation 'threshold' is registered in Keras but cannot be used as a "
        "string: keras.activations.threshold(x, threshold, default_value) has "
        "two required arguments, so Keras itself fails when the layer is "
        "called. Use a custom layer instead."
    ),
}


def _valid_names() -> str:
    return ", ".join(KERAS_NAMES)


def get(name) -> Activation:
    """Resolve a Keras activation identifier to its :class:`Activation`.

    Accepts a canonical name, an alias ('swish', 'hard_swish'), None (linear,
    as in Keras), an :class:`Activation`, or a Keras serialized function dict
    such as ``{'class_name': 'function', 'config': 'relu', ...}``.
    """
    if name is None:
        return ACTIVATIONS["linear"]
    if isinstance(name, Activation):
        return name
    if isinstance(name, dict):
        cfg = name.get("config")
        if name.get("class_name") == "function" and isinstance(cfg, str):
            return get(cfg)
        raise ValueError(
            f"Could not interpret activation identifier {name!r}: only Keras "
            f"built-in activations are supported. Valid names: {_valid_names()}"
        )
    if callable(name) and getattr(name, "__module__", "").startswith("seqc.keras"):
        name = name.__name__      # keras.activations.relu passed as a function
    if not isinstance(name, str):
        raise ValueError(
            f"Could not interpret activation identifier {name!r} (type "
            f"{type(name).__name__}): expected a string naming a Keras built-in "
            f"activation. Valid names: {_valid_names()}"
        )
    if name in _REJECTED:
        raise ValueError(_REJECTED[name] + f" Valid names: {_valid_names()}")
    canonical = ALIASES.get(name, name)
    try:
        return ACTIVATIONS[canonical]
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}. Valid names: {_valid_names()}"
        ) from None


def c_forward(name) -> str:
    """C function computing the forward: ``act_NAME`` (float -> float) for
    elementwise, ``act_NAME_row`` (const float *x, float *y, int n) for rowwise."""
    a = get(name)
    return f"act_{a.name}" if a.kind == "elementwise" else f"act_{a.name}_row"


def c_backward(name) -> str:
    """C function computing the backward: ``act_NAME_grad`` (x, y) -> dy/dx for
    elementwise, ``act_NAME_row_grad`` (x, y, dy, dx, n) (dx = J^T dy) for
    rowwise."""
    a = get(name)
    return f"act_{a.name}_grad" if a.kind == "elementwise" else f"act_{a.name}_row_grad"
