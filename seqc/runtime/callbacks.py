"""Keras 3 compatible callbacks, in pure Python.

Behaviour (hook order, log handling, messages, warnings, errors) follows
``keras/src/callbacks/*`` of Keras 3. The model object the callbacks are given
only needs:

* ``model.stop_training`` -- bool attribute (set by EarlyStopping & co),
* ``model.optimizer.learning_rate`` -- float property, settable,
* ``model.get_weights()`` / ``model.set_weights(list)``,
* ``model.save_weights(path)`` and ``model.save(path)`` (called with
  ``overwrite=True`` like Keras when the method accepts that keyword),
* optionally ``model.metrics`` -- used only by ``mode="auto"`` to find
  whether a monitored metric goes up or down (see ``metric_direction``),
* a settable ``model.history`` attribute (History stores itself there).

The runtime drives a :class:`CallbackList` exactly like Keras's trainer does;
see its docstring.
"""

import collections
import collections.abc
import csv
import inspect
import io
import locale
import os
import re
import warnings

import numpy as np

from .. import distributed
from .progbar import Progbar
from .progbar import print_msg

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "ProgbarLogger",
    "MonitorCallback",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "LambdaCallback",
    "CSVLogger",
    "pythonify_logs",
    "metric_direction",
    "less",
    "greater",
]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _default(method):
    """Marks a base-class hook as a no-op default (Keras ``utils.default``)."""
    method._is_default = True
    return method


def _is_default(method):
    return getattr(method, "_is_default", False)


def _batch_hook_needed_if(predicate):
    """Marks a batch hook of a built-in callback whose override only matters
    when ``predicate(callback)`` is true (used by ``needs_batch_hooks``)."""

    def decorator(method):
        method._seqc_needed_if = predicate
        return method

    return decorator


def _flatten(callbacks):
    out = []
    if isinstance(callbacks, (list, tuple)):
        for c in callbacks:
            out.extend(_flatten(c))
    elif callbacks is not None:
        out.append(callbacks)
    return out


def pythonify_logs(logs):
    """Flattens nested dicts, sorts keys and converts values with ``float()``
    where possible (Keras ``python_utils.pythonify_logs``)."""
    logs = logs or {}
    result = {}
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
        else:
            try:
                value = float(value)
            except Exception:
                pass
            result[key] = value
    return result


def _path_to_string(path):
    if isinstance(path, os.PathLike):
        return os.fspath(path)
    return path


def _to_float(value):
    return float(np.asarray(value))


def _f32(x):
    with np.errstate(over="ignore"):
        return np.float32(x)


def less(x1, x2):
    """Keras ``ops.less`` on Python scalars: compared as float32 (floatx)."""
    return bool(_f32(x1) < _f32(x2))


def greater(x1, x2):
    """Keras ``ops.greater`` on Python scalars: compared as float32."""
    return bool(_f32(x1) > _f32(x2))


def _to_snake_case(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


# Keras 3 metric classes that declare `_direction` (metrics without it, e.g.
# KLDivergence, Poisson, TruePositives, Mean, cannot be used with
# mode="auto").
_UP_CLASSES = [
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "Precision", "Recall",
    "SensitivityAtSpecificity", "SpecificityAtSensitivity",
    "PrecisionAtRecall", "RecallAtPrecision", "AUC", "PearsonCorrelation",
    "ConcordanceCorrelation", "FBetaScore", "F1Score", "IoU", "BinaryIoU",
    "MeanIoU", "OneHotIoU", "OneHotMeanIoU", "CosineSimilarity", "R2Score",
]
_DOWN_CLASSES = [
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "RootMeanSquaredError", "LogCoshError",
    "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "Hinge", "SquaredHinge",
    "CategoricalHinge",
]

#: Direction ("up"/"down") of the Keras metric a string identifier passed to
#: ``compile(metrics=[...])`` resolves to. In Keras the metric's name is that
#: identifier, so this is also a name -> direction table.
KERAS_METRIC_DIRECTIONS = {}
for _cls in _UP_CLASSES:
    KERAS_METRIC_DIRECTIONS[_cls] = "up"
    KERAS_METRIC_DIRECTIONS[_to_snake_case(_cls)] = "up"
for _cls in _DOWN_CLASSES:
    KERAS_METRIC_DIRECTIONS[_cls] = "down"
    KERAS_METRIC_DIRECTIONS[_to_snake_case(_cls)] = "down"
for _alias in ("bce", "BCE", "mse", "MSE", "mae", "MAE", "mape", "MAPE",
               "msle", "MSLE"):
    KERAS_METRIC_DIRECTIONS[_alias] = "down"
del _cls, _alias


def _identifier_direction(identifier):
    # compile_utils.get_metric: "accuracy"/"acc" in any case -> an accuracy
    # metric (direction up).
    if identifier.lower() in ("accuracy", "acc"):
        return "up"
    return KERAS_METRIC_DIRECTIONS.get(identifier)


def _iter_metrics(metrics):
    for m in metrics or []:
        if isinstance(m, str):
            yield m, _identifier_direction(m)
        elif isinstance(m, (list, tuple)):
            yield from _iter_metrics(m)
        elif isinstance(getattr(m, "metrics", None), (list, tuple)):
            # Container (like Keras CompileMetrics / MetricsList).
            yield from _iter_metrics(m.metrics)
        else:
            name = getattr(m, "name", None)
            if name is None:
                continue
            if hasattr(m, "_direction"):
                direction = m._direction
            elif hasattr(m, "direction"):
                direction = m.direction
            elif isinstance(name, str):
                # A bare descriptor carrying only a name: resolve the name
                # as a Keras metric identifier.
                direction = _identifier_direction(name)
            else:
                direction = None
            yield name, direction


def metric_direction(model, metric_name):
    """Direction ('up'/'down') of ``metric_name`` according to
    ``model.metrics``, or None.

    ``model.metrics`` may hold metric identifier strings (as given to
    ``compile``; Keras names such a metric by its identifier, so e.g.
    ``"acc"`` -> an accuracy metric named "acc", direction up), objects with
    ``.name`` and ``._direction`` (or ``.direction``), or containers with a
    ``.metrics`` list. As in Keras, the last metric with a matching name and
    a known direction wins.
    """
    metrics = getattr(model, "metrics", None)
    if metrics is None:
        return None
    result = None
    for name, direction in _iter_metrics(metrics):
        if name == metric_name and direction is not None:
            result = direction
    return result


def _accepts_kwarg(fn, name):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    for p in sig.parameters.values():
        if p.kind == p.VAR_KEYWORD or p.name == name:
            return True
    return False


# --------------------------------------------------------------------------
# Callback base
# --------------------------------------------------------------------------

class Callback:
    """Base class used to build new callbacks (``keras.callbacks.Callback``).

    Attributes:
        params: Dict. Training parameters (verbose, epochs, steps).
        model: The model being trained.
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    @_default
    def on_batch_begin(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_begin`."""

    @_default
    def on_batch_end(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_end`."""

    @_default
    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch (fit only)."""

    @_default
    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch; logs hold the epoch's metrics and
        ``val_``-prefixed validation metrics."""

    @_default
    def on_train_batch_begin(self, batch, logs=None):
        """Called at the beginning of a training batch in `fit`."""
        self.on_batch_begin(batch, logs=logs)

    @_default
    def on_train_batch_end(self, batch, logs=None):
        """Called at the end of a training batch; logs hold running metrics."""
        self.on_batch_end(batch, logs=logs)

    @_default
    def on_test_batch_begin(self, batch, logs=None):
        """Called at the beginning of an evaluate / validation batch."""

    @_default
    def on_test_batch_end(self, batch, logs=None):
        """Called at the end of an evaluate / validation batch."""

    @_default
    def on_predict_batch_begin(self, batch, logs=None):
        """Called at the beginning of a predict batch."""

    @_default
    def on_predict_batch_end(self, batch, logs=None):
        """Called at the end of a predict batch."""

    @_default
    def on_train_begin(self, logs=None):
        """Called at the beginning of training."""

    @_default
    def on_train_end(self, logs=None):
        """Called at the end of training (logs: last epoch's logs)."""

    @_default
    def on_test_begin(self, logs=None):
        """Called at the beginning of evaluation or validation."""

    @_default
    def on_test_end(self, logs=None):
        """Called at the end of evaluation or validation (logs: results)."""

    @_default
    def on_predict_begin(self, logs=None):
        """Called at the beginning of prediction."""

    @_default
    def on_predict_end(self, logs=None):
        """Called at the end of prediction."""


_BATCH_HOOKS = {
    "train": (
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_batch_begin",
        "on_batch_end",
    ),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def _callback_needs_batch_hooks(callback, kind):
    for name in _BATCH_HOOKS[kind]:
        method = getattr(callback, name, None)
        if method is None or _is_default(method):
            continue
        predicate = getattr(method, "_seqc_needed_if", None)
        if predicate is not None:
            if predicate(callback):
                return True
            continue
        return True
    return False


# --------------------------------------------------------------------------
# History / ProgbarLogger
# --------------------------------------------------------------------------

class History(Callback):
    """Records epoch logs; returned by ``fit``.

    ``history`` maps each log key to a list of per-epoch values; ``epoch``
    lists the epoch indices seen.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints metrics to stdout with a Keras 3 :class:`Progbar`.

    Reads ``verbose`` ("auto" means 1), ``epochs`` and ``steps`` from params.
    During ``fit`` validation is silent; the ``val_`` metrics appear at the
    end of the epoch line.
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        verbose = params.get("verbose", 1)
        if verbose == "auto":
            verbose = 1
        self.verbose = verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        # When this logger is called inside `fit`, validation is silent.
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    @_batch_hook_needed_if(lambda self: False)
    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    @_batch_hook_needed_if(lambda self: False)
    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    @_batch_hook_needed_if(lambda self: False)
    def on_predict_batch_end(self, batch, logs=None):
        # Don't pass prediction results.
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            self.progbar = Progbar(
                target=self.target,
                verbose=self.verbose,
                unit_name="step",
                stateless_metrics=set(),
            )

    def _update_progbar(self, batch, logs=None):
        logs = logs or {}
        self._maybe_init_progbar()
        self.seen = batch + 1  # One-indexed.
        if self.verbose == 1:
            self.progbar.update(self.seen, list(logs.items()), finalize=False)

    def _finalize_progbar(self, logs):
        logs = logs or {}
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list(logs.items()), finalize=True)


# --------------------------------------------------------------------------
# CallbackList
# --------------------------------------------------------------------------

class CallbackList(Callback):
    """Container calling a list of callbacks (``keras.callbacks.CallbackList``).

    ``CallbackList(callbacks, add_history=..., add_progbar=..., model=...,
    **params)``; params are usually ``verbose``, ``epochs``, ``steps``
    (steps per epoch, or None if unknown). History is appended after the
    user's callbacks, then ProgbarLogger (unless instances are already there).

    Keras's call sequence (the runtime must follow it):

    fit::

        cbs = CallbackList(callbacks, add_history=True,
                           add_progbar=verbose != 0, verbose=verbose,
                           epochs=epochs, steps=steps_per_epoch, model=model)
        model.stop_training = False
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            for step in ...:
                cbs.on_train_batch_begin(step)
                cbs.on_train_batch_end(step, running_logs)
                if model.stop_training: break
            epoch_logs = dict(train_results)       # loss + metrics
            # validation: evaluate with the *same* CallbackList ->
            # on_test_begin / on_test_batch_* / on_test_end(val_results)
            epoch_logs.update({"val_" + k: v ...})
            cbs.on_epoch_end(epoch, epoch_logs)
            if model.stop_training: break
        cbs.on_train_end(logs=last_epoch_logs)
        return cbs.history   # == model.history

    evaluate: ``CallbackList(callbacks, add_progbar=verbose != 0,
    verbose=verbose, epochs=1, steps=n, model=model)``; on_test_begin(),
    per batch on_test_batch_begin(i) / on_test_batch_end(i, running_logs),
    on_test_end(results).

    predict: same construction; on_predict_begin(), per batch
    on_predict_batch_begin(i) / on_predict_batch_end(i, {"outputs": out}),
    on_predict_end().

    ``needs_batch_hooks`` (and the per-mode ``needs_train_batch_hooks`` /
    ``needs_test_batch_hooks`` / ``needs_predict_batch_hooks``) tell whether
    any callback does real work in a batch-level hook. ProgbarLogger (whose
    batch hooks only redraw the bar), History and a ModelCheckpoint with
    ``save_freq="epoch"`` don't count. When false, the runtime may run a
    whole epoch in one call and only call the epoch/begin/end hooks (the bar
    then shows just its final line).
    """

    def __init__(
        self,
        callbacks=None,
        add_history=False,
        add_progbar=False,
        model=None,
        **params,
    ):
        self.params = None
        self._model = None
        self.callbacks = _flatten(callbacks) if callbacks else []
        self._in_begin_end_block_count = 0
        self._add_default_callbacks(add_history, add_progbar)
        self.set_model(model)
        self.set_params(params)

    def _add_default_callbacks(self, add_history, add_progbar):
        self._progbar = None
        self._history = None
        for cb in self.callbacks:
            if isinstance(cb, ProgbarLogger):
                self._progbar = cb
            elif isinstance(cb, History):
                self._history = cb
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    @property
    def history(self):
        """The History callback in this list (or None)."""
        return self._history

    def append(self, callback):
        self.callbacks.append(callback)
        if self._model is not None:
            callback.set_model(self._model)
        if self.params:
            callback.set_params(self.params)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_params(self, params):
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model):
        if not model:
            return
        super().set_model(model)
        if self._history:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    # -- batch-hook detection ---------------------------------------------

    def _needs(self, kind):
        return any(
            _callback_needs_batch_hooks(cb, kind) for cb in self.callbacks
        )

    @property
    def needs_train_batch_hooks(self):
        return self._needs("train")

    @property
    def needs_test_batch_hooks(self):
        return self._needs("test")

    @property
    def needs_predict_batch_hooks(self):
        return self._needs("predict")

    @property
    def needs_batch_hooks(self):
        return (
            self.needs_train_batch_hooks
            or self.needs_test_batch_hooks
            or self.needs_predict_batch_hooks
        )

    # -- begin/end bookkeeping -------------------------------------------

    def _on_begin(self):
        self._in_begin_end_block_count += 1

    def _on_end(self):
        self._in_begin_end_block_count -= 1
        if self._in_begin_end_block_count < 0:
            self._in_begin_end_block_count = 0
            raise ValueError(
                "`on_xxx_end` called without corresponding `on_xxx_begin`"
            )

    # -- hooks -------------------------------------------------------------
    # Each hook passes its logs (made plain Python numbers) to every callback, as Keras does:
    # batch hooks with `logs=` by keyword, the others positionally; a mode's begin / end hook
    # opens / closes a begin-end block.

    def _dispatch(self, hook, args, logs, logs_by_keyword=False):
        logs = pythonify_logs(logs)
        with distributed.rank_zero_prints():      # under mpirun, callbacks print on rank 0 only
            for callback in self.callbacks:
                if logs_by_keyword:
                    getattr(callback, hook)(*args, logs=logs)
                else:
                    getattr(callback, hook)(*args, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._dispatch("on_epoch_begin", (epoch,), logs)

    def on_epoch_end(self, epoch, logs=None):
        self._dispatch("on_epoch_end", (epoch,), logs)


def _batch_hook(hook):
    def call(self, batch, logs=None):
        self._dispatch(hook, (batch,), logs, logs_by_keyword=True)
    call.__name__ = hook
    return call


def _begin_hook(hook):
    def call(self, logs=None):
        self._on_begin()
        self._dispatch(hook, (), logs)
    call.__name__ = hook
    return call


def _end_hook(hook):
    def call(self, logs=None):
        self._dispatch(hook, (), logs)
        self._on_end()
    call.__name__ = hook
    return call


for _mode in ("", "train_", "test_", "predict_"):
    for _edge in ("begin", "end"):
        setattr(CallbackList, f"on_{_mode}batch_{_edge}", _batch_hook(f"on_{_mode}batch_{_edge}"))
for _mode in ("train", "test", "predict"):
    setattr(CallbackList, f"on_{_mode}_begin", _begin_hook(f"on_{_mode}_begin"))
    setattr(CallbackList, f"on_{_mode}_end", _end_hook(f"on_{_mode}_end"))


# --------------------------------------------------------------------------
# Monitoring callbacks
# --------------------------------------------------------------------------

class MonitorCallback(Callback):
    """Base for callbacks that monitor a quantity (Keras MonitorCallback).

    ``mode="auto"``: a monitor named ``loss`` / ``val_loss`` is minimised;
    otherwise the direction comes from the model's metric of that name (the
    ``val_`` prefix removed) -- accuracy-type metrics ("acc", "accuracy",
    AUC, precision, ...) are maximised, error/crossentropy/hinge metrics
    minimised; if it can't be determined a ValueError is raised (lazily, at
    the first epoch end).
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None,
                 min_delta=0):
        super().__init__()
        if mode not in ["auto", "min", "max"]:
            warnings.warn(
                f"{self.__class__.__name__} mode '{mode}' is unknown, fallback "
                "to auto mode.",
                stacklevel=2,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = less
        elif self.mode == "max":
            self.monitor_op = greater
        else:
            metric_name = self.monitor
            if metric_name.startswith("val_"):
                metric_name = metric_name[len("val_"):]
            if metric_name == "loss":
                self.monitor_op = less
            direction = metric_direction(self.model, metric_name)
            if direction == "up":
                self.monitor_op = greater
            elif direction is not None:
                self.monitor_op = less
            if self.monitor_op is None:
                raise ValueError(
                    f"{self.__class__.__name__} callback received "
                    f"monitor={self.monitor}, but Keras isn't able to "
                    "automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to "
                    "monitor based on the highest metric value, or pass "
                    "`mode='min'` in order to use the lowest value."
                )
        if self.monitor_op is less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return self.monitor_op(monitor_value - self.min_delta, reference_value)


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored metric has stopped improving.

    Args: monitor="val_loss", min_delta=0, patience=0, verbose=0,
    mode="auto", baseline=None, restore_best_weights=False,
    start_from_epoch=0 (all as in Keras 3).
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = start_from_epoch
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # Allow instances to be re-used across `fit()` calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()

        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # If best weights were never set, the current weights are the
            # best.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Only restart wait if we beat both the baseline and our previous
            # best.
            if self.baseline is None or self._is_improvement(
                current, self.baseline
            ):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from "
                    "the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        monitor_value = logs.get(self.monitor)
        if monitor_value is None:
            warnings.warn(
                (
                    f"Early stopping conditioned on metric `{self.monitor}` "
                    "which is not available. "
                    f"Available metrics are: {','.join(list(logs.keys()))}"
                ),
                stacklevel=2,
            )
        return monitor_value


class ModelCheckpoint(MonitorCallback):
    """Save the model or its weights at some frequency.

    ``filepath`` may contain ``{epoch:02d}`` (1-based), ``{batch}`` (1-based,
    batch-frequency saves) and any log key, e.g. ``{val_loss:.2f}``. It must
    end in ``.weights.h5`` when ``save_weights_only=True``, else in
    ``.keras`` or ``.h5``. ``save_freq`` is "epoch" or a number of batches.
    ``initial_value_threshold`` is the initial "best" for save_best_only.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = _path_to_string(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

        if self.save_freq != "epoch" and not isinstance(self.save_freq, int):
            raise ValueError(
                f"Unrecognized save_freq: {self.save_freq}. "
                "Expected save_freq are 'epoch' or integer values"
            )

        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`"
                    ", the filepath provided must end in `.weights.h5` "
                    "(Keras weights format). Received: "
                    f"filepath={self.filepath}"
                )
        else:
            if not any(
                self.filepath.endswith(ext) for ext in (".keras", ".h5")
            ):
                raise ValueError(
                    "The filepath provided must end in `.keras` "
                    "(Keras model format). Received: "
                    f"filepath={self.filepath}"
                )

    @_batch_hook_needed_if(lambda self: self.save_freq != "epoch")
    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            # New epoch.
            add_batches = batch + 1
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, batch, logs, filepath):
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(
                    f"Can save best model only with {self.monitor} available.",
                    stacklevel=2,
                )
                return True
            elif isinstance(current, np.ndarray) and len(current.shape) > 0:
                warnings.warn(
                    "Can save best model only when `monitor` is "
                    f"a scalar value. Received: {current}. "
                    "Falling back to `save_best_only=False`."
                )
                return True
            else:
                if self.monitor_op is None:
                    self._set_monitor_op()
                best_str = "None" if self.best is None else f"{self.best:.5f}"
                if self._is_improvement(current, self.best):
                    if self.verbose > 0:
                        print_msg(
                            f"\nEpoch {epoch + 1}: {self.monitor} "
                            f"improved from {best_str} to {current:.5f}, "
                            f"saving model to {filepath}"
                        )
                    self.best = current
                    return True
                else:
                    if self.verbose > 0:
                        print_msg(
                            f"\nEpoch {epoch + 1}: "
                            f"{self.monitor} did not improve from {best_str}"
                        )
                    return False
        else:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        try:
            if self._should_save_model(epoch, batch, logs, filepath):
                dirname = os.path.dirname(filepath)
                if dirname and not os.path.exists(dirname):
                    os.makedirs(dirname)
                if self.save_weights_only:
                    fn = self.model.save_weights
                else:
                    fn = self.model.save
                if _accepts_kwarg(fn, "overwrite"):
                    fn(filepath, overwrite=True)
                else:
                    fn(filepath)
                if self.verbose > 0:
                    print_msg(
                        f"\nEpoch {epoch + 1}: "
                        f"finished saving model to {filepath}"
                    )
        except IsADirectoryError:
            raise IOError(
                "Please specify a non-directory filepath for "
                "ModelCheckpoint. Filepath used is an existing "
                f"directory: {filepath}"
            )

    def _get_file_path(self, epoch, batch, logs):
        logs = logs or {}
        try:
            if batch is None or "batch" in logs:
                file_path = self.filepath.format(epoch=epoch + 1, **logs)
            else:
                file_path = self.filepath.format(
                    epoch=epoch + 1, batch=batch + 1, **logs
                )
        except KeyError as e:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". '
                f"Reason: {e}"
            )
        return file_path


class ReduceLROnPlateau(MonitorCallback):
    """Reduce the learning rate when a metric has stopped improving.

    Args: monitor="val_loss", factor=0.1 (must be < 1), patience=10,
    verbose=0, mode="auto", min_delta=1e-4, cooldown=0, min_lr=0.0.
    Adds ``logs["learning_rate"]`` at each epoch end.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(
                "ReduceLROnPlateau does not support a factor >= 1.0. "
                f"Received factor={factor}"
            )
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def _reduce_optimizer_lr(self, optimizer, epoch, name=""):
        old_lr = _to_float(optimizer.learning_rate)
        if old_lr > np.float32(self.min_lr):
            new_lr = old_lr * self.factor
            new_lr = max(new_lr, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                name_str = f" {name}" if name else ""
                print_msg(
                    f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing"
                    f"{name_str} learning rate to {new_lr}."
                )
            return True
        return False

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        if hasattr(optimizer, "optimizers"):
            for opt in optimizer.optimizers:
                logs[f"learning_rate_{opt.name}"] = _to_float(
                    opt.learning_rate
                )
        else:
            logs["learning_rate"] = _to_float(optimizer.learning_rate)
        current = logs.get(self.monitor)

        if current is None:
            warnings.warn(
                "Learning rate reduction is conditioned on metric "
                f"`{self.monitor}` which is not available. Available metrics "
                f"are: {','.join(list(logs.keys()))}.",
                stacklevel=2,
            )
        else:
            if self.in_cooldown():
                self.cooldown_counter -= 1
                self.wait = 0

            if self._is_improvement(current, self.best):
                self.best = current
                self.wait = 0
            elif not self.in_cooldown():
                self.wait += 1
                if self.wait >= self.patience:
                    reduced = False
                    if hasattr(optimizer, "optimizers"):
                        for opt in optimizer.optimizers:
                            if self._reduce_optimizer_lr(
                                opt, epoch, f"{opt.name}"
                            ):
                                reduced = True
                    else:
                        if self._reduce_optimizer_lr(optimizer, epoch):
                            reduced = True
                    if reduced:
                        self.cooldown_counter = self.cooldown
                        self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0


# --------------------------------------------------------------------------
# Other callbacks
# --------------------------------------------------------------------------

class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of every epoch.

    ``schedule(epoch, lr)`` (or ``schedule(epoch)``; tried when the
    two-argument call raises TypeError) must return a float (Python float,
    np.float32 or np.float64), else ValueError. Adds
    ``logs["learning_rate"]`` at each epoch end.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def _update_optimizer_lr(self, optimizer, epoch):
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')

        try:  # new API
            learning_rate = _to_float(optimizer.learning_rate)
            learning_rate = self.schedule(epoch, learning_rate)
        except TypeError:  # old API: schedule(epoch)
            learning_rate = self.schedule(epoch)

        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(
                "The output of the `schedule` function should be a float. "
                f"Got: {learning_rate}"
            )

        optimizer.learning_rate = learning_rate
        return learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if hasattr(optimizer, "optimizers"):
            for opt in optimizer.optimizers:
                learning_rate = self._update_optimizer_lr(opt, epoch)
                if self.verbose > 0:
                    print_msg(
                        f"\nEpoch {epoch + 1}: LearningRateScheduler setting "
                        f"{opt.name} learning rate to {learning_rate}."
                    )
        else:
            learning_rate = self._update_optimizer_lr(optimizer, epoch)
            if self.verbose > 0:
                print_msg(
                    f"\nEpoch {epoch + 1}: LearningRateScheduler setting "
                    f"learning rate to {learning_rate}."
                )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        if hasattr(optimizer, "optimizers"):
            for opt in optimizer.optimizers:
                logs[f"learning_rate_{opt.name}"] = _to_float(
                    opt.learning_rate
                )
        else:
            logs["learning_rate"] = _to_float(optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stops training (or raises, with ``raise_error=True``) when the batch
    loss is NaN or Inf."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None:
            if np.isnan(loss) or np.isinf(loss):
                if self.raise_error:
                    raise RuntimeError(
                        f"NaN or Inf loss encountered at batch {batch}. "
                        f"Loss value: {loss}. Terminating training immediately."
                    )
                else:
                    print_msg(
                        f"Batch {batch}: Invalid loss, terminating training"
                    )
                    self.model.stop_training = True


class BackupAndRestore(Callback):
    """Backs up the training state in `backup_dir` so that a fit() interrupted (a crash, a killed
    job) resumes where the backup was taken when the script runs again: at the end of every epoch,
    or every `save_freq` batches, the weights and optimizer state go to `latest.weights.h5` and
    the epoch to `training_metadata.json` ({"epoch", "batch"}), as Keras 3 writes them; when fit
    starts with a backup there, the state is loaded and the epochs resume after the last one
    backed up (an epoch interrupted midway runs again from its start). `double_checkpoint` keeps
    the previous pair as `.bkp` files, used when the latest cannot be read; `delete_checkpoint`
    removes the directory when training ends."""

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: save_freq={save_freq}. "
                             "Expected either 'epoch' or an integer value.")
        self.backup_dir = _path_to_string(backup_dir)
        self.save_freq, self.double_checkpoint, self.delete_checkpoint = save_freq, double_checkpoint, delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._current_epoch = self._last_batch_seen = self._batches_since_saving = 0

    def on_train_begin(self, logs=None):
        try:
            self._restore()
        except (OSError, ValueError):
            prev = self._weights_path + ".bkp"     # left by an earlier run with double_checkpoint
            if not os.path.exists(prev):
                raise
            _copy_file(prev, self._weights_path)
            if os.path.exists(self._metadata_path + ".bkp"):
                _copy_file(self._metadata_path + ".bkp", self._metadata_path)
            elif os.path.exists(self._metadata_path):
                os.remove(self._metadata_path)
            self._restore()

    def _restore(self):
        if os.path.exists(self._weights_path):
            self.model.load_weights(self._weights_path)
        if os.path.exists(self._metadata_path):
            import json
            with open(self._metadata_path) as f:
                self.model._initial_epoch = int(json.load(f)["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch, self._last_batch_seen = epoch + 1, 0
        if self.save_freq == "epoch":
            self._backup()

    @_batch_hook_needed_if(lambda self: self.save_freq != "epoch")
    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_saving += batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_since_saving >= self.save_freq:
            self._batches_since_saving = 0
            self._backup()

    def _backup(self):
        if not distributed.is_root():
            return
        import json
        from .. import fileio
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path in (self._weights_path, self._metadata_path):
                if os.path.exists(path):
                    _copy_file(path, path + ".bkp")
        self.model.save_weights(self._weights_path, overwrite=True)
        with fileio.atomic_write(self._metadata_path, "w") as f:
            f.write(json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and distributed.is_root() and os.path.isdir(self.backup_dir):
            import shutil
            shutil.rmtree(self.backup_dir)


def _copy_file(src, dst):
    from .. import fileio
    with open(src, "rb") as f:
        fileio.write_bytes_atomic(dst, f.read())


class TensorBoard(Callback):
    """Writes TensorBoard event files as Keras 3's callback does, without TensorFlow
    (seqc/runtime/tfevents.py): under `log_dir`/train the model's JSON for the graph dashboard
    (write_graph), `epoch_<metric>` and `epoch_learning_rate` every epoch, `batch_<metric>` every
    `update_freq` batches when that is "batch" or a number, and with `histogram_freq` each weight's
    histogram (`<path>/histogram`); under `log_dir`/validation the validation metrics as
    `epoch_<metric>` and `evaluation_<metric>_vs_iterations`. Profiling (`profile_batch`), weight
    images and embedding projections are TensorFlow's and are not written."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        if profile_batch:
            raise ValueError("Profiling is not yet available with the seqc backend. Received: "
                             f"profile_batch={profile_batch} (must be 0)")
        if update_freq != "epoch" and update_freq != "batch" and (
                isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or a positive integer, got {update_freq!r}")
        if write_images or embeddings_freq:
            warnings.warn("TensorBoard: weight images and embedding projections are not written by seqc",
                          stacklevel=2)
        self.log_dir = _path_to_string(log_dir)
        self.histogram_freq, self.write_graph = histogram_freq, write_graph
        self.write_images, self.write_steps_per_second = write_images, write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq, self.embeddings_metadata = embeddings_freq, embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0
        self._batch_start = self._epoch_start = 0.0
        self._epoch_start_iterations = 0

    def _writer(self, which):
        from .tfevents import EventFileWriter
        if which not in self._writers:
            self._writers[which] = EventFileWriter(os.path.join(self.log_dir, which))
        return self._writers[which]

    def _active(self):
        return distributed.is_root()         # under mpirun: rank 0 writes

    def set_model(self, model):
        super().set_model(model)
        self._writers = {}
        if self.write_graph and self._active():
            keras_model = getattr(model, "_keras_model", None) or model
            to_json = getattr(keras_model, "to_json", None)
            if to_json is not None:
                from .tfevents import text_tensor_value
                try:
                    text = to_json()
                except ValueError:            # a model without a Keras config (a package's): no graph
                    return
                self._writer("train").write(text_tensor_value("keras", text, "graph_keras_model", b"1"), 0)

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    @_batch_hook_needed_if(lambda self: self.update_freq != "epoch" or self.write_steps_per_second)
    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = _time()

    @_batch_hook_needed_if(lambda self: self.update_freq != "epoch" or self.write_steps_per_second)
    def on_train_batch_end(self, batch, logs=None):
        if not self._active():
            return
        step = self._global_train_batch
        if self.write_steps_per_second:
            elapsed = _time() - self._batch_start
            if elapsed > 0:
                self._writer("train").scalar("batch_steps_per_second", 1.0 / elapsed, step)
        if self.update_freq != "epoch" and step % self.update_freq == 0 and isinstance(logs, dict):
            for name, value in logs.items():
                self._writer("train").scalar(f"batch_{name}", value, step)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = _time()
        self._epoch_start_iterations = _iterations(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if not self._active():
            return
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and getattr(optimizer, "learning_rate", None) is not None:
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            elapsed = _time() - self._epoch_start
            if elapsed > 0:
                train["steps_per_second"] = (_iterations(self.model) - self._epoch_start_iterations) / elapsed
        for name, value in train.items():
            self._writer("train").scalar(f"epoch_{name}", value, epoch)
        for name, value in logs.items():
            if name.startswith("val_"):
                self._writer("validation").scalar(f"epoch_{name[4:]}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    def _log_weights(self, epoch):
        from .tfevents import histogram_value
        keras_model = getattr(self.model, "_keras_model", None) or self.model
        weights = getattr(keras_model, "weights", None)
        if weights is None:
            return
        for w in weights:
            self._writer("train").write(histogram_value(f"{w.path.replace(':', '_')}/histogram", w.numpy()), epoch)

    def on_test_end(self, logs=None):
        if not self._active() or not logs:
            return
        step = _iterations(self.model)
        for name, value in logs.items():
            self._writer("validation").scalar(f"evaluation_{name}_vs_iterations", value, step)

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()


def _iterations(model):
    optimizer = getattr(model, "optimizer", None)
    try:
        return int(getattr(optimizer, "iterations", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _time():
    import time
    return time.time()


class LambdaCallback(Callback):
    """Callback built from plain functions (``keras.callbacks.LambdaCallback``).

    ``on_epoch_begin/on_epoch_end(epoch, logs)``,
    ``on_train_begin/on_train_end(logs)``,
    ``on_train_batch_begin/on_train_batch_end(batch, logs)``; any other hook
    may be given by keyword (``on_test_end=fn`` ...).
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        self.__dict__.update(kwargs)
        if on_epoch_begin is not None:
            self.on_epoch_begin = on_epoch_begin
        if on_epoch_end is not None:
            self.on_epoch_end = on_epoch_end
        if on_train_begin is not None:
            self.on_train_begin = on_train_begin
        if on_train_end is not None:
            self.on_train_end = on_train_end
        if on_train_batch_begin is not None:
            self.on_train_batch_begin = on_train_batch_begin
        if on_train_batch_end is not None:
            self.on_train_batch_end = on_train_batch_end


class CSVLogger(Callback):
    """Streams epoch results to a CSV file (``epoch`` column first, then the
    sorted log keys; ``val_`` columns are added up front if the first epoch
    had none).

    Each update is atomic: the rows go to an in-memory buffer and the whole
    file (what it held when appending, plus the rows so far) replaces the old
    one through a temporary file, so a killed process never leaves half a row."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = _path_to_string(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None
        self._kept = b""

    def on_train_begin(self, logs=None):
        self._kept = b""
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "rb") as f:
                    self._kept = f.read()
                self.append_header = not self._kept
        self.csv_file = io.StringIO()
        self.writer = None
        self.keys = None
        self._write_file()

    def _write_file(self):
        from ..fileio import atomic_write
        data = self._kept + self.csv_file.getvalue().encode(locale.getpreferredencoding(False))
        with atomic_write(self.filename, "wb") as f:
            f.write(data)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(k):
            is_zero_dim_ndarray = isinstance(k, np.ndarray) and k.ndim == 0
            if isinstance(k, str):
                return k
            elif (
                isinstance(k, collections.abc.Iterable)
                and not is_zero_dim_ndarray
            ):
                return f'"[{", ".join(map(str, k))}]"'
            else:
                return k

        if self.keys is None:
            self.keys = sorted(logs.keys())
            val_keys_found = False
            for key in self.keys:
                if key.startswith("val_"):
                    val_keys_found = True
                    break
            if not val_keys_found and self.keys:
                self.keys.extend([f"val_{k}" for k in self.keys])

        if not self.writer:
            sep = self.sep

            class CustomDialect(csv.excel):
                delimiter = sep

            fieldnames = ["epoch"] + (self.keys or [])
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=fieldnames, dialect=CustomDialect
            )
            if self.append_header:
                self.writer.writeheader()

        row_dict = collections.OrderedDict({"epoch": epoch})
        row_dict.update(
            (key, handle_value(logs.get(key, "NA"))) for key in self.keys
        )
        self.writer.writerow(row_dict)
        self._write_file()

    def on_train_end(self, logs=None):
        self.writer = None
