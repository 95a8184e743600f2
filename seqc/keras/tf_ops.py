"""The TensorFlow functions that tf.keras user layers call (`tf.reduce_mean`, `tf.nn.relu`,
`tf.concat`, `tf.matmul`, ...), as the seqc backend ops under TensorFlow's names and argument
orders. `seqc run`'s tensorflow stub and `seqc compile`'s `tf` serve them (TOP, NN, MATH)."""
from . import backend as K


def _reduce(op):
    def fn(input_tensor, axis=None, keepdims=False, name=None):
        return getattr(K, op)(input_tensor, axis=axis, keepdims=keepdims)
    fn.__name__ = fn.__qualname__ = "reduce_" + op
    return fn


def concat(values, axis, name=None):
    return K.concatenate(list(values), axis=axis)


def matmul(a, b, name=None):
    return K.matmul(a, b)


def transpose(a, perm=None, name=None):
    return K.transpose(a, perm)


def reshape(tensor, shape, name=None):
    return K.reshape(tensor, shape)


def expand_dims(input, axis, name=None):  # noqa: A002  (TensorFlow's argument name)
    return K.expand_dims(input, axis)


def squeeze(input, axis=None, name=None):  # noqa: A002
    if axis is None:
        raise ValueError("tf.squeeze: seqc needs the axis to squeeze")
    return K.squeeze(input, axis)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    return K.clip(t, clip_value_min, clip_value_max)


def where(condition, x=None, y=None, name=None):
    return K.where(condition, x, y)


def softmax(logits, axis=-1, name=None):
    return K.softmax(logits, axis=axis)


def l2_normalize(x, axis=None, epsilon=1e-12, name=None):
    ss = K.sum(K.square(x), axis=axis, keepdims=True)
    return x * K.rsqrt(K.maximum(ss, epsilon))


def _unary(op):
    def fn(x, name=None):
        return getattr(K, op)(x)
    fn.__name__ = fn.__qualname__ = op
    return fn


def _binary(op, backend_op):
    def fn(x, y, name=None):
        return getattr(K, backend_op)(x, y)
    fn.__name__ = fn.__qualname__ = op
    return fn


_UNARY = {n: _unary(n) for n in ("exp", "log", "sqrt", "square", "abs", "tanh", "sigmoid", "negative", "relu",
                                  "log1p", "sign", "rsqrt")}
_BINARY = {n: _binary(n, b) for n, b in (("add", "add"), ("subtract", "subtract"), ("multiply", "multiply"),
                                          ("divide", "divide"), ("maximum", "maximum"), ("minimum", "minimum"),
                                          ("pow", "pow"))}
_REDUCE = {"reduce_" + n: _reduce(n) for n in ("mean", "sum", "max", "min", "prod")}
_STRUCT = {"concat": concat, "matmul": matmul, "transpose": transpose, "reshape": reshape,
           "expand_dims": expand_dims, "squeeze": squeeze, "clip_by_value": clip_by_value, "where": where}

TOP = {**{k: v for k, v in _UNARY.items() if k != "relu"}, **_BINARY, **_REDUCE, **_STRUCT}
NN = {"relu": _UNARY["relu"], "sigmoid": _UNARY["sigmoid"], "tanh": _UNARY["tanh"], "softmax": softmax,
      "l2_normalize": l2_normalize}
MATH = {**{k: v for k, v in _UNARY.items() if k != "relu"}, **_BINARY, **_REDUCE, "l2_normalize": l2_normalize,
        "softmax": softmax}
