"""The epoch values of Keras's stateful metric classes from what their C kernels write per
batch (seqc/keras/stateful_metrics.py, seqc/templates/metric_kernels.c.j2): confusion counts
summed over the batches, then Keras's result() formulas."""
import math

import numpy as np


def columns(stateful):
    """The values a stateful metric's kernel writes per batch."""
    if stateful and stateful["kind"] == "confusion":
        return len(stateful["stats"]) * len(stateful["thresholds"])
    return 1


def _div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1), 0.0)


def result(stateful, sums):
    """The metric's value from its columns summed over the batches (confusion counts), as
    Keras's result(): a float, or a list for several thresholds."""
    t = len(stateful["thresholds"])
    s = {name: np.asarray(sums[i * t:(i + 1) * t], np.float64) for i, name in enumerate(stateful["stats"])}
    kind = stateful["result"]
    if kind == "count":
        val = s[stateful["stats"][0]]
    elif kind == "precision":
        val = _div(s["tp"], s["tp"] + s["fp"])
    elif kind == "recall":
        val = _div(s["tp"], s["tp"] + s["fn"])
    else:
        return float(_auc(stateful, s))
    return float(val[0]) if t == 1 else [float(x) for x in val]


def _auc(st, s):
    tp, fp, tn, fn = s["tp"], s["fp"], s["tn"], s["fn"]
    n = len(tp)
    if st["curve"] == "PR" and st["summation_method"] == "interpolation":
        dtp = tp[:n - 1] - tp[1:]
        p = tp + fp
        dp = p[:n - 1] - p[1:]
        slope = _div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:n - 1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _div(p[:n - 1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            logr = np.log(np.where(ratio > 0, ratio, 1.0))
        return np.sum(_div(slope * (dtp + intercept * logr), np.maximum(tp[1:] + fn[1:], 0)))
    recall = _div(tp, tp + fn)
    if st["curve"] == "ROC":
        x, y = _div(fp, fp + tn), recall
    else:
        x, y = recall, _div(tp, tp + fp)
    if st["summation_method"] == "interpolation":
        heights = (y[:n - 1] + y[1:]) / 2.0
    elif st["summation_method"] == "minoring":
        heights = np.minimum(y[:n - 1], y[1:])
    else:
        heights = np.maximum(y[:n - 1], y[1:])
    return np.sum((x[:n - 1] - x[1:]) * heights)


def finish(stateful, value):
    """A non-confusion metric's value from its batch-averaged column (RMSE: the square root)."""
    if stateful and stateful["kind"] == "sqrt_of_mean":
        return math.sqrt(max(value, 0.0))
    return value
