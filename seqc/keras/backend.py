"""Backend ops (`keras.backend as K`, and `keras.ops`) for user losses and metrics.

Called on traced tensors (seqc.trace.Expr) they build an expression graph that becomes C;
called on numpy data they compute with numpy, so scripts may use them outside a model too.
"""
import numpy as np

from .. import trace as _t
from ..trace import Expr

_EPSILON = 1e-7


def epsilon():
    return _EPSILON


def set_epsilon(value):
    global _EPSILON
    _EPSILON = float(value)


def floatx():
    return "float32"


def backend():
    return "seqc"


def image_data_format():
    """seqc's layers take images channels last, Keras's default."""
    return "channels_last"


def set_image_data_format(data_format):
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"The `data_format` argument must be one of {{'channels_first', 'channels_last'}}. "
                         f"Received: data_format={data_format!r}")
    if data_format != "channels_last":
        raise ValueError("seqc supports data_format='channels_last' (Keras's default) only")


def image_dim_ordering():
    """Keras 1's name for the image layout: 'tf' is channels last."""
    return "tf"


def set_image_dim_ordering(dim_ordering):
    set_image_data_format({"tf": "channels_last", "th": "channels_first"}.get(dim_ordering, dim_ordering))


def set_floatx(value):
    if value != "float32":
        raise ValueError(f"seqc computes in float32; set_floatx({value!r}) is not supported")


def _sym(*xs):
    return any(isinstance(x, Expr) for x in xs)


def _elementwise(op, name):
    """The backend function `name` of a seqc.trace elementwise op."""
    if op.arity == 1:
        def fn(x):
            return _t.unary(op.name, x) if _sym(x) else op.np(np.asarray(x, np.float32))
    else:
        def fn(x, y):
            if _sym(x, y):
                return _t.binary(op.name, x, y)
            return op.np(np.asarray(x, np.float32), np.asarray(y, np.float32))
    fn.__name__ = fn.__qualname__ = name
    return fn


def _reduce(name):
    def fn(x, axis=None, keepdims=False):
        if _sym(x):
            return _t.reduce(name, x, axis, keepdims)
        return _t.REDUCE[name](np.asarray(x, np.float32), axis=axis, keepdims=keepdims)
    fn.__name__ = fn.__qualname__ = name
    return fn


for _op in _t.ELEMENTWISE.values():
    for _name in _op.backend:
        globals()[_name] = _elementwise(_op, _name)
for _name in ("mean", "sum", "max", "min", "prod"):
    globals()[_name] = _reduce(_name)


def argmax(x, axis=-1, keepdims=False):
    if _sym(x):
        return _t.reduce("argmax", x, axis)
    return np.argmax(np.asarray(x), axis=axis)


def argmin(x, axis=-1, keepdims=False):
    if _sym(x):
        return _t.reduce("argmin", x, axis)
    return np.argmin(np.asarray(x), axis=axis)


def clip(x, min_value, max_value):
    if _sym(x, min_value, max_value):
        return _t.clip(x, min_value, max_value)
    return np.clip(np.asarray(x, np.float32), min_value, max_value)


def where(condition, x1, x2):
    if _sym(condition, x1, x2):
        return _t.where(condition, x1, x2)
    return np.where(condition, x1, x2)


switch = where


def cast(x, dtype):
    """float -> float is the identity; to int truncates; to bool tests non-zero."""
    kind = np.dtype(dtype).kind if not isinstance(dtype, str) or dtype not in ("bool",) else "b"
    if _sym(x):
        if kind == "b":
            return _t.unary("tofloat_bool", x)
        if kind in "iu":
            return _t.unary("trunc", x)
        return _t.unary("cast", x)
    return np.asarray(x).astype(dtype)


def reshape(x, shape):
    if _sym(x):
        return _t.reshape(x, tuple(_t.B if i == 0 and d in (-1, None) else d for i, d in enumerate(shape)))
    return np.reshape(x, shape)


def squeeze(x, axis=-1):
    if _sym(x):
        ax = axis % x.ndim
        if x.shape[ax] != 1:
            raise _t.TraceError(f"cannot squeeze axis {axis} of size {x.shape[ax]}")
        return _t.reshape(x, x.shape[:ax] + x.shape[ax + 1:])
    return np.squeeze(x, axis)


def expand_dims(x, axis=-1):
    if _sym(x):
        ax = axis if axis >= 0 else x.ndim + 1 + axis
        return _t.reshape(x, x.shape[:ax] + (1,) + x.shape[ax:])
    return np.expand_dims(x, axis)


def ones_like(x):
    if _sym(x):
        return _t.broadcast_to(_t.as_expr(1.0), x.shape)
    return np.ones_like(x)


def zeros_like(x):
    if _sym(x):
        return _t.broadcast_to(_t.as_expr(0.0), x.shape)
    return np.zeros_like(x)


def convert_to_tensor(x, dtype=None):
    return x if _sym(x) else np.asarray(x, dtype or np.float32)


def convert_to_numpy(x):
    """keras.ops.convert_to_numpy: a numpy array of data (a model's output, a variable)."""
    if isinstance(x, Expr):
        raise ValueError("keras.ops.convert_to_numpy: a traced tensor inside a user layer, loss or metric has no "
                         "value yet; it works on data (model outputs, weights)")
    return np.asarray(x)


def get_value(x):
    """K.get_value: the value of a variable (or array) as numpy."""
    return convert_to_numpy(x)


eval = get_value


def set_value(x, value):
    """K.set_value(variable, value): `variable.assign(value)` (a model's weight, an optimizer's
    learning rate attribute is set directly by assignment in seqc)."""
    if not hasattr(x, "assign"):
        raise ValueError(f"K.set_value: expected a variable (layer.kernel, model.weights[i]), got {type(x).__name__}")
    x.assign(value)


def count_params(x):
    """K.count_params: the number of elements of a variable or array."""
    return int(np.prod(getattr(x, "shape", np.shape(x))))


def int_shape(x):
    return tuple(None if d == _t.B else d for d in x.shape) if _sym(x) else np.shape(x)


def ndim(x):
    return x.ndim if _sym(x) else np.ndim(x)


def clear_session():
    from .layers import reset_names
    reset_names()


# --- tensor structure: what user layers (Lambda, Layer subclasses) use besides the above -----
def concatenate(tensors, axis=-1):
    """K.concatenate (axis -1); keras.ops.concatenate defaults to axis 0 (seqc.keras.ops)."""
    tensors = list(tensors)
    if _sym(*tensors):
        return _t.concatenate(tensors, axis)
    return np.concatenate([np.asarray(t, np.float32) for t in tensors], axis=axis)


def dot(x, y):
    if _sym(x, y):
        return _t.matmul(x, y)
    return np.dot(np.asarray(x, np.float32), np.asarray(y, np.float32))


def matmul(x1, x2):
    if _sym(x1, x2):
        return _t.matmul(x1, x2)
    return np.matmul(np.asarray(x1, np.float32), np.asarray(x2, np.float32))


def transpose(x, axes=None):
    if _sym(x):
        return _t.transpose(x, axes)
    return np.transpose(x, axes)


def permute_dimensions(x, pattern):
    return transpose(x, pattern)


def rsqrt(x):
    return 1.0 / sqrt(x)  # noqa: F821  (made from the elementwise table above)


def l2_normalize(x, axis=None):
    """Keras 2's K.l2_normalize (tf.math.l2_normalize): x / sqrt(max(sum(x^2), 1e-12))."""
    ss = sum(square(x), axis=axis, keepdims=True)  # noqa: F821
    return x * rsqrt(maximum(ss, 1e-12))  # noqa: F821


def normalize(x, axis=-1, order=2, epsilon=None):
    """keras.ops.normalize: for order 2, x * min(1/sqrt(sum(x^2)), 1/epsilon)."""
    if order != 2:
        raise ValueError(f"normalize: seqc implements order=2 only, got order={order!r}")
    eps = epsilon if epsilon is not None else _EPSILON
    ss = sum(square(x), axis=axis, keepdims=True)  # noqa: F821
    return x * minimum(rsqrt(ss), 1.0 / eps)  # noqa: F821


def softmax(x, axis=-1):
    e = exp(x - max(x, axis=axis, keepdims=True))  # noqa: F821
    return e / sum(e, axis=axis, keepdims=True)  # noqa: F821


def softplus(x):
    return log1p(exp(-abs(x))) + relu(x)  # noqa: F821


def var(x, axis=None, keepdims=False):
    m = mean(x, axis=axis, keepdims=True)  # noqa: F821
    return mean(square(x - m), axis=axis, keepdims=keepdims)  # noqa: F821


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))  # noqa: F821


def batch_flatten(x):
    if _sym(x):
        return _t.reshape(x, (_t.B, int(np.prod([d for d in x.shape[1:]], dtype=np.int64))))
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1)


def stack(x, axis=0):
    """Tensors of one shape stacked along a new axis (K.stack / keras.ops.stack)."""
    xs = list(x)
    if _sym(*xs):
        nd = xs[0].ndim + 1
        ax = axis % nd if isinstance(axis, int) and -nd <= axis < nd else axis
        return _t.concatenate([expand_dims(t, ax) for t in xs], ax)
    return np.stack([np.asarray(t, np.float32) for t in xs], axis=axis)


def swapaxes(x, axis1, axis2):
    if _sym(x):
        perm = list(range(x.ndim))
        perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
        return _t.transpose(x, perm)
    return np.swapaxes(x, axis1, axis2)


def flip(x, axis=None):
    """keras.ops.flip: reversed along `axis` (all axes when None); K.reverse(x, axes) too."""
    if _sym(x):
        axes = range(x.ndim) if axis is None else [a % x.ndim for a in (axis if isinstance(axis, (tuple, list))
                                                                        else (axis,))]
        return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))]
    return np.flip(x, axis)


def reverse(x, axes):
    return flip(x, axes)


def __getattr__(name):
    """A function seqc does not implement: one clear error naming it."""
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"keras.backend.{name} is not supported by seqc (user layers, losses and metrics are traced "
                         "from the keras.ops / keras.backend functions seqc implements)")
