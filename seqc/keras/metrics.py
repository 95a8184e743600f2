"""Keras-compatible metrics (`seqc.keras.metrics`), written with backend ops.

A metric that returns one value per sample is averaged over samples (batches weighted by size);
one that returns a scalar per batch is averaged over batches with equal weights, as Keras 3's
MeanMetricWrapper does. 'accuracy'/'acc' resolve from the shapes as in Keras 3.
"""
from ..spec import FunctionSpec
from . import backend as K
from . import losses as _losses
from . import validate as v
from .validate import Param


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _losses._match_rank(y_true, y_pred)
    return K.mean(K.equal(y_true, K.greater(y_pred, threshold)), axis=-1)


def categorical_accuracy(y_true, y_pred):
    return K.equal(K.argmax(y_true, axis=-1), K.argmax(y_pred, axis=-1))


def sparse_categorical_accuracy(y_true, y_pred):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = K.squeeze(y_true, -1)
    return K.equal(y_true, K.argmax(y_pred, axis=-1))


def is_binary_or_sparse(y_true_shape, y_pred_shape):
    """Keras 3's rule for 'accuracy': returns (is_binary, is_sparse_categorical)."""
    is_binary = y_pred_shape[-1:] == (1,)
    is_sparse = (len(y_true_shape) < len(y_pred_shape)
                 or (y_true_shape[-1:] == (1,) and y_pred_shape[-1:] != (1,)))
    return is_binary, is_sparse


mean_squared_error = mse = _losses.mean_squared_error
mean_absolute_error = mae = _losses.mean_absolute_error
mean_absolute_percentage_error = mape = _losses.mean_absolute_percentage_error
mean_squared_logarithmic_error = msle = _losses.mean_squared_logarithmic_error
binary_crossentropy = _losses.binary_crossentropy
categorical_crossentropy = _losses.categorical_crossentropy
sparse_categorical_crossentropy = _losses.sparse_categorical_crossentropy
hinge = _losses.hinge
squared_hinge = _losses.squared_hinge
kl_divergence = _losses.kl_divergence
poisson = _losses.poisson

BUILTIN = {
    "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    **{k: v for k, v in _losses.BUILTIN.items() if k not in ("huber", "log_cosh")},
}
ALIASES = dict(_losses.ALIASES)


class Metric(_losses.FunctionObject):
    """Object form of a built-in metric (`keras.metrics.BinaryAccuracy(threshold=0.6, name='acc')`)."""


def _metric_class(clsname, fn_name, params=()):
    doc = f"`{fn_name}` as a Metric object (Keras 3's signature)."
    return type(clsname, (Metric,), {"fn_name": fn_name, "__doc__": doc,
                                     "_params": (Param("name", fn_name), _losses.DTYPE, *params)})


BinaryAccuracy = _metric_class("BinaryAccuracy", "binary_accuracy", (Param("threshold", 0.5, v.real),))
CategoricalAccuracy = _metric_class("CategoricalAccuracy", "categorical_accuracy")
SparseCategoricalAccuracy = _metric_class("SparseCategoricalAccuracy", "sparse_categorical_accuracy")
MeanSquaredError = _metric_class("MeanSquaredError", "mean_squared_error")
MeanAbsoluteError = _metric_class("MeanAbsoluteError", "mean_absolute_error")
BinaryCrossentropy = _metric_class("BinaryCrossentropy", "binary_crossentropy",
                                   (_losses.FROM_LOGITS, _losses.LABEL_SMOOTHING))
CategoricalCrossentropy = _metric_class("CategoricalCrossentropy", "categorical_crossentropy",
                                        (_losses.FROM_LOGITS, _losses.LABEL_SMOOTHING, _losses.AXIS))
SparseCategoricalCrossentropy = _metric_class("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
                                              (_losses.FROM_LOGITS, _losses.AXIS))


MeanAbsolutePercentageError = _metric_class("MeanAbsolutePercentageError", "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _metric_class("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error")

from .stateful_metrics import (AUC, FalseNegatives, FalsePositives, Precision, Recall,  # noqa: E402
                               RootMeanSquaredError, SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy,
                               TrueNegatives, TruePositives, sparse_top_k_categorical_accuracy,
                               top_k_categorical_accuracy)
from . import stateful_metrics as _stateful  # noqa: E402


def get(identifier):
    """Resolve one metric identifier to a FunctionSpec; 'accuracy' is resolved later from shapes."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return FunctionSpec(name=identifier, builtin="accuracy")
    if isinstance(identifier, _stateful.StatefulMetric):
        return identifier.spec()
    if isinstance(identifier, str) and identifier in _stateful.BY_NAME:
        return _stateful.BY_NAME[identifier]().spec()
    if isinstance(identifier, type) and issubclass(identifier, _stateful.StatefulMetric):
        return identifier().spec()
    for fn, cls in _stateful.FUNCTIONS.items():
        if identifier is fn:
            return cls().spec()
    return _losses.function_spec(identifier, "metric", BUILTIN, ALIASES, Metric, also=("accuracy", "acc"))


def resolve(fspec, y_true_shape, y_pred_shape):
    """The metric function to trace for these shapes (Keras 3's 'accuracy' rule applied)."""
    if fspec.builtin == "accuracy":
        is_binary, is_sparse = is_binary_or_sparse(y_true_shape, y_pred_shape)
        key = "binary_accuracy" if is_binary else "sparse_categorical_accuracy" if is_sparse else "categorical_accuracy"
        return BUILTIN[key]
    return BUILTIN[fspec.builtin] if fspec.builtin else fspec.expr
