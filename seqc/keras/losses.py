"""Keras-compatible losses (`seqc.keras.losses`), written with backend ops.

Each loss is a formula of backend ops, identical to Keras 3's with the torch backend (clipping
included), so tracing it gives both the forward and, by symbolic differentiation, the exact
gradient. The fusion pass replaces softmax/sigmoid followed by their cross-entropy with one
kernel whose backward is `p - y` (seqc/templates/loss_fused.c.j2).
"""
from ..errors import SeqcError
from ..spec import FunctionSpec
from . import backend as K
from . import validate as v
from .validate import Param


def _match_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank for the (batch,) vs (batch, 1) case."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = K.expand_dims(y_true, -1)
    elif y_pred.ndim == y_true.ndim - 1 and y_true.shape[-1] == 1:
        y_true = K.squeeze(y_true, -1)
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _match_rank(y_true, y_pred)
    return K.mean(K.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _match_rank(y_true, y_pred)
    return K.mean(K.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _match_rank(y_true, y_pred)
    diff = K.abs((y_true - y_pred) / K.maximum(K.abs(y_true), K.epsilon()))
    return 100.0 * K.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _match_rank(y_true, y_pred)
    a = K.log(K.maximum(y_pred, K.epsilon()) + 1.0)
    b = K.log(K.maximum(y_true, K.epsilon()) + 1.0)
    return K.mean(K.square(a - b), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    y_true, y_pred = _match_rank(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:   # torch's binary_cross_entropy_with_logits
        per = K.relu(y_pred) - y_pred * y_true + K.log1p(K.exp(-K.abs(y_pred)))
    else:
        eps = K.epsilon()
        p = K.clip(y_pred, eps, 1.0 - eps)
        per = -(y_true * K.log(p) + (1.0 - y_true) * K.log(1.0 - p))
    return K.mean(per, axis=-1)


def _log_probs(y_pred, from_logits):
    if from_logits:
        shifted = y_pred - K.max(y_pred, axis=-1, keepdims=True)
        return shifted - K.log(K.sum(K.exp(shifted), axis=-1, keepdims=True))
    eps = K.epsilon()
    p = y_pred / K.sum(y_pred, axis=-1, keepdims=True)
    return K.log(K.clip(p, eps, 1.0 - eps))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_crossentropy needs targets shaped like the output {y_pred.shape[1:]}, "
                         f"got {y_true.shape[1:]} (use sparse_categorical_crossentropy for integer labels)")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    return -K.sum(y_true * _log_probs(y_pred, from_logits), axis=-1)


def one_hot_of(labels, n):
    """Per-class indicator from integer labels, as equal(label, class index)."""
    from .. import trace
    idx = trace.Expr("iota", (), (n,))
    return K.equal(K.expand_dims(labels, -1), idx)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = K.squeeze(y_true, -1)
    if y_true.ndim != y_pred.ndim - 1:
        raise ValueError(f"sparse_categorical_crossentropy needs one integer label per sample, got targets "
                         f"of shape {y_true.shape[1:]} for outputs {y_pred.shape[1:]}")
    per = -K.sum(one_hot_of(y_true, y_pred.shape[-1]) * _log_probs(y_pred, from_logits), axis=-1)
    if ignore_class is not None:
        per = per * K.not_equal(y_true, float(ignore_class))
    return per


def hinge(y_true, y_pred):
    y_true, y_pred = _match_rank(y_true, y_pred)
    y_true = K.where(K.equal(y_true, 0.0), -1.0, y_true)
    return K.mean(K.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _match_rank(y_true, y_pred)
    y_true = K.where(K.equal(y_true, 0.0), -1.0, y_true)
    return K.mean(K.square(K.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _match_rank(y_true, y_pred)
    err = K.abs(y_pred - y_true)
    quad = K.minimum(err, delta)
    return K.mean(0.5 * K.square(quad) + delta * (err - quad), axis=-1)


def log_cosh(y_true, y_pred):
    y_true, y_pred = _match_rank(y_true, y_pred)
    d = y_pred - y_true
    # log(cosh(d)) = d + softplus(-2d) - log(2)
    softplus = K.relu(-2.0 * d) + K.log1p(K.exp(-K.abs(-2.0 * d)))
    return K.mean(d + softplus - 0.6931471805599453, axis=-1)


def kl_divergence(y_true, y_pred):
    y_true, y_pred = _match_rank(y_true, y_pred)
    yt = K.clip(y_true, K.epsilon(), 1.0)
    yp = K.clip(y_pred, K.epsilon(), 1.0)
    return K.sum(yt * K.log(yt / yp), axis=-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _match_rank(y_true, y_pred)
    return K.mean(y_pred - y_true * K.log(y_pred + K.epsilon()), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

BUILTIN = {
    "mean_squared_error": mean_squared_error, "mean_absolute_error": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error,
    "binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy, "hinge": hinge,
    "squared_hinge": squared_hinge, "huber": huber, "log_cosh": log_cosh, "kl_divergence": kl_divergence,
    "poisson": poisson,
}
ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
           "msle": "mean_squared_logarithmic_error", "kld": "kl_divergence", "logcosh": "log_cosh",
           "kullback_leibler_divergence": "kl_divergence", "huber_loss": "huber"}


def _dtype(owner, arg, value):
    if value not in (None, "float32"):
        raise ValueError(f"{owner}: seqc computes in float32; got dtype={value!r}")
    return value


def _reduction(owner, arg, value):
    if value not in ("sum_over_batch_size", "auto", None):
        raise ValueError(f"{owner}: seqc supports reduction='sum_over_batch_size' only, got {value!r}")
    return value


FROM_LOGITS = Param("from_logits", False, v.boolean)
LABEL_SMOOTHING = Param("label_smoothing", 0.0, v.unit_interval)
AXIS = Param("axis", -1, v.default_only(-1))
DTYPE = Param("dtype", None, _dtype)
_OPTIONS = {"from_logits", "label_smoothing", "ignore_class", "delta", "threshold"}


class FunctionObject(v.Declared):
    """A loss or metric object: the built-in function `fn_name` with options (the arguments
    that are not name/dtype/reduction/axis) that differ from their defaults."""
    fn_name = None

    def __init__(self, *args, **kwargs):
        values, _ = self.checked_arguments(args, kwargs)
        self.name = values["name"]
        defaults = {p.name: p.default for p in self.params()}
        self.options = {k: x for k, x in values.items() if k in _OPTIONS and x != defaults[k]}


class Loss(FunctionObject):
    """Object form of a built-in loss (`keras.losses.BinaryCrossentropy(from_logits=True)`):
    the batch mean of the per-sample loss (reduction 'sum_over_batch_size')."""

    def __call__(self, y_true, y_pred):
        return K.mean(BUILTIN[self.fn_name](y_true, y_pred, **self.options))


def _loss_class(clsname, fn_name, name=None, params=()):
    doc = f"`{fn_name}` as a Loss object (Keras 3's signature; seqc supports the default reduction)."
    common = (Param("reduction", "sum_over_batch_size", _reduction), Param("name", name or fn_name), DTYPE)
    return type(clsname, (Loss,), {"fn_name": fn_name, "_params": params, "_common_params": common,
                                   "__doc__": doc})


MeanSquaredError = _loss_class("MeanSquaredError", "mean_squared_error")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", "mean_absolute_error")
MeanAbsolutePercentageError = _loss_class("MeanAbsolutePercentageError", "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _loss_class("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error")
BinaryCrossentropy = _loss_class("BinaryCrossentropy", "binary_crossentropy",
                                 params=(FROM_LOGITS, LABEL_SMOOTHING, AXIS))
CategoricalCrossentropy = _loss_class("CategoricalCrossentropy", "categorical_crossentropy",
                                      params=(FROM_LOGITS, LABEL_SMOOTHING, AXIS))
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
    params=(FROM_LOGITS, Param("ignore_class", None, v.optional(
        lambda o, a, x: v.integer(o, a, x, lo=-v.SIZE_LIMIT)))))
Hinge = _loss_class("Hinge", "hinge")
SquaredHinge = _loss_class("SquaredHinge", "squared_hinge")
Huber = _loss_class("Huber", "huber", name="huber_loss", params=(Param("delta", 1.0, v.non_negative),))
LogCosh = _loss_class("LogCosh", "log_cosh")
KLDivergence = _loss_class("KLDivergence", "kl_divergence")
Poisson = _loss_class("Poisson", "poisson")


def function_spec(identifier, what, builtin, aliases, object_type, also=()):
    """A loss or metric identifier -> FunctionSpec: a built-in name or alias, an object of
    `object_type` (its options kept), a built-in function, or a user function (traced once
    the shapes are known). `also`: names the caller resolves itself, listed in the error."""
    from .layers import caller_loc
    if isinstance(identifier, str):
        key = aliases.get(identifier, identifier)
        if key not in builtin:
            names = [*also, *sorted(set(builtin) | set(aliases))]
            raise SeqcError(f"unknown {what} {identifier!r}; seqc supports: {', '.join(names)}")
        return FunctionSpec(name=identifier, builtin=key)
    if isinstance(identifier, object_type):
        return FunctionSpec(name=identifier.name, builtin=identifier.fn_name, options=dict(identifier.options))
    if callable(identifier):
        key = next((k for k, fn in builtin.items() if fn is identifier), None)
        if key is not None:
            return FunctionSpec(name=identifier.__name__, builtin=key)
        return FunctionSpec(name=getattr(identifier, "__name__", what), expr=identifier, loc=caller_loc())
    raise SeqcError(f"Could not interpret {what} identifier: {identifier!r}")


def get(identifier):
    """Resolve a loss identifier to a FunctionSpec (the function is traced once shapes are known)."""
    return function_spec(identifier, "loss", BUILTIN, ALIASES, Loss)
