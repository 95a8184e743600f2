"""Keras 3's stateful metric classes (`keras.metrics.Precision`, `AUC`, `TruePositives`, ...,
`TopKCategoricalAccuracy`, `RootMeanSquaredError`), computed in C like the built-in metrics.

A confusion metric's C kernel counts, per batch, the true/false positives/negatives at each
threshold (labels != 0 are positive, predictions > threshold are predicted positive, weighted
by the sample weights when the metric is a weighted one); the runtime sums the counts over the
epoch and derives the value from the sums (`result`), as Keras's metric variables accumulate.
A top-k accuracy is a per-sample metric of its own kernel, averaged as the built-in metrics.
"""
import inspect
import numbers

import numpy as np

from ..spec import FunctionSpec
from . import validate as v

EPSILON = 1e-7
_STATS = ("tp", "fp", "tn", "fn")


def _thresholds(owner, thresholds, default=0.5):
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    out = []
    for t in values:
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not 0 <= float(t) <= 1:
            raise ValueError(f"{owner}: Threshold values must be in [0, 1]. Received: {thresholds!r}")
        out.append(float(t))
    if not out:
        raise ValueError(f"{owner}: `thresholds` is empty")
    return out


def _unsupported(owner, **args):
    for arg, value in args.items():
        if value is not None:
            raise ValueError(f"{owner}: `{arg}` is not supported by seqc yet (got {value!r})")


def _auto_name(owner, name, base):
    from .layers import unique_name      # Keras names metric objects from the session's counter, as layers
    return v.name(owner, name) if name is not None else unique_name(base)


class StatefulMetric:
    """Base: `spec()` is the FunctionSpec the compile step records; `get_config()` Keras's
    config (the constructor's arguments as given, with the name and dtype), which the class
    (seqc's or Keras's) takes back."""
    stateful = None

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        try:
            bound = inspect.signature(cls.__init__).bind(obj, *args, **kwargs)
        except TypeError:
            bound = None            # __init__ raises Python's own error for these arguments
        if bound is not None:
            bound.apply_defaults()
            obj._init_args = {k: x for k, x in bound.arguments.items() if k not in ("self", "name", "dtype")}
        return obj

    def spec(self):
        return FunctionSpec(name=self.name, builtin=None, stateful=dict(self.stateful))

    def get_config(self):
        args = {k: (list(x) if isinstance(x, tuple) else x) for k, x in getattr(self, "_init_args", {}).items()}
        return {"name": self.name, "dtype": "float32", **args}


class _Confusion(StatefulMetric):
    stats = ()
    result = None
    base = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        owner = type(self).__name__
        self.thresholds = _thresholds(owner, thresholds)
        self.name = _auto_name(owner, name, self.base)
        self.stateful = {"kind": "confusion", "stats": list(self.stats), "thresholds": self.thresholds,
                         "result": self.result}


class TruePositives(_Confusion):
    """The weighted count of labels != 0 predicted > threshold (one per threshold)."""
    stats, result, base = ("tp",), "count", "true_positives"


class FalsePositives(_Confusion):
    stats, result, base = ("fp",), "count", "false_positives"


class TrueNegatives(_Confusion):
    stats, result, base = ("tn",), "count", "true_negatives"


class FalseNegatives(_Confusion):
    stats, result, base = ("fn",), "count", "false_negatives"


class Precision(_Confusion):
    """tp / (tp + fp) over the epoch (0 when nothing was predicted positive)."""
    stats, result, base = ("tp", "fp"), "precision", "precision"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        _unsupported(type(self).__name__, top_k=top_k, class_id=class_id)
        super().__init__(thresholds, name, dtype)


class Recall(_Confusion):
    """tp / (tp + fn) over the epoch (0 when there was no positive label)."""
    stats, result, base = ("tp", "fn"), "recall", "recall"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        _unsupported(type(self).__name__, top_k=top_k, class_id=class_id)
        super().__init__(thresholds, name, dtype)


class AUC(StatefulMetric):
    """Area under the ROC or PR curve from the confusion counts at `num_thresholds` thresholds
    (Keras's: (i + 1) / (num_thresholds - 1) for i < num_thresholds - 2, with -epsilon and
    1 + epsilon at the ends), by Riemann sums ('interpolation', 'minoring', 'majoring'; the
    PR curve's interpolation is Keras's interpolate_pr_auc)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        owner = "AUC"
        if v.boolean(owner, "multi_label", multi_label):
            raise ValueError("AUC: multi_label=True is not supported by seqc yet")
        _unsupported(owner, num_labels=num_labels, label_weights=label_weights)
        if not isinstance(curve, str) or curve.upper() not in ("ROC", "PR"):
            raise ValueError(f'AUC: Invalid `curve` argument value "{curve}". Expected one of: ROC, PR '
                             "(seqc does not support PRGAIN)")
        if not isinstance(summation_method, str) or summation_method.lower() not in (
                "interpolation", "minoring", "majoring"):
            raise ValueError(f'AUC: Invalid `summation_method` argument value "{summation_method}". '
                             "Expected one of: interpolation, minoring, majoring")
        if thresholds is not None:
            inner = sorted(_thresholds(owner, thresholds))
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, numbers.Integral) \
                    or num_thresholds <= 1:
                raise ValueError(f"AUC: Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds!r}")
            n = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)]
        self.name = _auto_name(owner, name, "auc")
        self.stateful = {"kind": "confusion", "stats": list(_STATS),
                         "thresholds": [0.0 - EPSILON] + inner + [1.0 + EPSILON], "result": "auc",
                         "curve": curve.upper(), "summation_method": summation_method.lower(),
                         "from_logits": v.boolean(owner, "from_logits", from_logits)}


class TopKCategoricalAccuracy(StatefulMetric):
    """1 where the true class (argmax of the one-hot label) is among the k largest predictions
    (Keras's in_top_k: no more than k - 1 predictions above the true class's), averaged."""
    sparse = False

    def __init__(self, k=5, name=None, dtype=None):
        owner = type(self).__name__
        self.name = v.name(owner, name) if name is not None else self.default
        self.stateful = {"kind": "top_k", "k": v.integer(owner, "k", k), "sparse": self.sparse}

    default = "top_k_categorical_accuracy"


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """TopKCategoricalAccuracy with class indices as labels."""
    sparse = True
    default = "sparse_top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None, from_sorted_ids=False):
        if v.boolean("SparseTopKCategoricalAccuracy", "from_sorted_ids", from_sorted_ids):
            raise ValueError("SparseTopKCategoricalAccuracy: from_sorted_ids=True is not supported by seqc yet")
        super().__init__(k, name, dtype)


class RootMeanSquaredError(StatefulMetric):
    """sqrt of the mean squared error over the epoch (Keras: sqrt(total / count))."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        self.name = v.name("RootMeanSquaredError", name)
        self.stateful = {"kind": "sqrt_of_mean"}

    def spec(self):
        return FunctionSpec(name=self.name, builtin="mean_squared_error", stateful=dict(self.stateful))


# the functions and string names Keras 3's metrics.get accepts for these
def top_k_categorical_accuracy(y_true, y_pred, k=5):
    raise TypeError("seqc computes top_k_categorical_accuracy in the generated C; pass it to compile()")


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    raise TypeError("seqc computes sparse_top_k_categorical_accuracy in the generated C; pass it to compile()")


BY_NAME = {
    "Precision": Precision, "precision": Precision, "Recall": Recall, "recall": Recall, "AUC": AUC, "auc": AUC,
    "TruePositives": TruePositives, "true_positives": TruePositives, "FalsePositives": FalsePositives,
    "false_positives": FalsePositives, "TrueNegatives": TrueNegatives, "true_negatives": TrueNegatives,
    "FalseNegatives": FalseNegatives, "false_negatives": FalseNegatives,
    "TopKCategoricalAccuracy": TopKCategoricalAccuracy, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "SparseTopKCategoricalAccuracy": SparseTopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "RootMeanSquaredError": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
}
FUNCTIONS = {top_k_categorical_accuracy: TopKCategoricalAccuracy,
             sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy}


from ..runtime.metric_state import columns, finish, result  # noqa: E402,F401  (the runtime's side)
