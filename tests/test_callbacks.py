"""Tests for seqc.runtime.callbacks and seqc.runtime.progbar.

Expected strings are written from Keras 3's keras/src/utils/progbar.py and
keras/src/callbacks/*.py. Time is faked so that durations are deterministic.
"""

import csv
import math
import os
import sys

import numpy as np
import pytest

try:
    import seqc.runtime.callbacks  # noqa: F401
except ImportError:  # pragma: no cover - running without an install
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from seqc.runtime import callbacks as cb_mod
from seqc.runtime import progbar as pb_mod
from seqc.runtime.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from seqc.runtime.progbar import Progbar

B = "\x1b[1m"  # bold
G = "\x1b[32m"  # green
W = "\x1b[37m"  # white
R = "\x1b[0m"  # reset
BAR = "━"


# ---------------------------------------------------------------------------
# Fakes
# ---------------------------------------------------------------------------


class FakeOptimizer:
    """learning_rate behaves like Keras's float32 variable."""

    def __init__(self, learning_rate=0.01):
        self._lr = float(np.float32(learning_rate))

    @property
    def learning_rate(self):
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = float(np.float32(value))


class FakeModel:
    def __init__(self, metrics=None, learning_rate=0.01):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.weights = [np.zeros((2, 2)), np.zeros(2)]
        self.saved = []  # (kind, path, overwrite)
        if metrics is not None:
            self.metrics = metrics

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def set_weights_to_epoch(self, epoch):
        self.weights = [np.full((2, 2), float(epoch)), np.full(2, float(epoch))]

    def save_weights(self, path, overwrite=False):
        self.saved.append(("weights", path, overwrite))

    def save(self, path, overwrite=False):
        self.saved.append(("model", path, overwrite))


class MinimalModel:
    """Only the bare interface: save_weights/save without `overwrite`."""

    def __init__(self):
        self.stop_training = False
        self.saved = []

    def save_weights(self, path):
        self.saved.append(path)

    def save(self, path):
        self.saved.append(path)


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def time(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(pb_mod, "time", c)
    return c


def fit(model, callbacks, train_logs, val_logs=None, steps=1, verbose=0,
        epochs=None, batch_logs=None):
    """Drives callbacks the way Keras's trainer.fit does."""
    epochs = len(train_logs) if epochs is None else epochs
    cbs = CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
        model=model,
    )
    model.stop_training = False
    training_logs = {}
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        logs = {}
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            if batch_logs is not None:
                logs = batch_logs(epoch, step)
            else:
                logs = dict(train_logs[epoch])
            cbs.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        if hasattr(model, "set_weights_to_epoch"):
            model.set_weights_to_epoch(epoch)  # so restored weights are known
        epoch_logs = dict(train_logs[epoch])
        if val_logs is not None:
            cbs.on_test_begin()
            cbs.on_test_batch_begin(0)
            cbs.on_test_batch_end(0, val_logs[epoch])
            cbs.on_test_end(val_logs[epoch])
            epoch_logs.update({f"val_{k}": v for k, v in val_logs[epoch].items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        training_logs = epoch_logs
        if model.stop_training:
            break
    cbs.on_train_end(logs=training_logs)
    return cbs.history


def losses(values, key="loss"):
    return [{key: v} for v in values]


# ---------------------------------------------------------------------------
# History / CallbackList
# ---------------------------------------------------------------------------


def test_history_contents():
    model = FakeModel()
    hist = fit(
        model,
        None,
        [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.4, "accuracy": 0.5}],
        val_logs=[{"loss": 0.6, "accuracy": 0.125}, {"loss": 0.55, "accuracy": 0.5}],
        steps=3,
    )
    assert isinstance(hist, History)
    assert model.history is hist
    assert hist.model is model
    assert hist.epoch == [0, 1]
    assert hist.params == {"verbose": 0, "epochs": 2, "steps": 3}
    # keys sorted by pythonify_logs, as in Keras
    assert list(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert hist.history == {
        "accuracy": [0.25, 0.5],
        "loss": [0.5, 0.4],
        "val_accuracy": [0.125, 0.5],
        "val_loss": [0.6, 0.55],
    }
    assert all(type(v) is float for vs in hist.history.values() for v in vs)


def test_logs_are_pythonified():
    seen = []
    lc = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs))
    cbs = CallbackList([lc], model=FakeModel())
    cbs.on_epoch_end(0, {"b": np.float32(0.5), "a": np.array(2.0),
                         "nested": {"c": 1}})
    assert seen == [{"a": 2.0, "b": 0.5, "c": 1.0}]
    assert list(seen[0]) == ["a", "b", "c"]
    assert type(seen[0]["b"]) is float


def test_callbacklist_defaults_and_order():
    user = Callback()
    cbs = CallbackList([user], add_history=True, add_progbar=True,
                       model=FakeModel(), verbose="auto", epochs=1, steps=2)
    assert cbs.callbacks[0] is user
    assert isinstance(cbs.callbacks[1], History)
    assert isinstance(cbs.callbacks[2], ProgbarLogger)
    assert cbs.callbacks[2].verbose == 1
    assert user.params == {"verbose": "auto", "epochs": 1, "steps": 2}
    # existing History / ProgbarLogger instances are reused
    h, p = History(), ProgbarLogger()
    cbs = CallbackList([[h], p], add_history=True, add_progbar=True)
    assert cbs.callbacks == [h, p]
    assert cbs.history is h


def test_callbacklist_end_without_begin():
    cbs = CallbackList([])
    with pytest.raises(ValueError, match="without corresponding"):
        cbs.on_test_end()


def test_needs_batch_hooks():
    model = FakeModel()

    def make(*cbs):
        return CallbackList(list(cbs), add_history=True, add_progbar=True,
                            verbose=1, epochs=1, steps=1, model=model)

    assert make().needs_batch_hooks is False
    assert make(EarlyStopping(monitor="loss"), LearningRateScheduler(
        lambda e: 0.1), ReduceLROnPlateau(), CSVLogger(os.devnull),
        ModelCheckpoint("m.keras"),
        LambdaCallback(on_epoch_end=lambda e, l: None)).needs_batch_hooks is False

    class OnBatch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            """Overriding a batch hook is what is detected; the body does not matter."""

    class OldStyle(Callback):
        def on_batch_begin(self, batch, logs=None):
            """Overriding a batch hook is what is detected; the body does not matter."""

    class OnTest(Callback):
        def on_test_batch_end(self, batch, logs=None):
            """Overriding a batch hook is what is detected; the body does not matter."""

    class OnPredict(Callback):
        def on_predict_batch_begin(self, batch, logs=None):
            """Overriding a batch hook is what is detected; the body does not matter."""

    class MyProgbar(ProgbarLogger):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)

    c = make(OnBatch())
    assert c.needs_batch_hooks and c.needs_train_batch_hooks
    assert not c.needs_test_batch_hooks and not c.needs_predict_batch_hooks
    assert make(OldStyle()).needs_train_batch_hooks
    c = make(OnTest())
    assert c.needs_batch_hooks and c.needs_test_batch_hooks
    assert not c.needs_train_batch_hooks
    assert make(OnPredict()).needs_predict_batch_hooks
    assert make(MyProgbar()).needs_train_batch_hooks
    assert make(TerminateOnNaN()).needs_train_batch_hooks
    assert make(ModelCheckpoint("m.keras", save_freq=5)).needs_train_batch_hooks
    assert make(LambdaCallback(
        on_train_batch_end=lambda b, logs: None)).needs_train_batch_hooks
    assert make(LambdaCallback(
        on_test_batch_end=lambda b, logs: None)).needs_test_batch_hooks


def test_callback_base_hooks_and_aliases():
    calls = []

    class C(Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("end", batch, logs))

    c = C()
    model = FakeModel()
    c.set_model(model)
    c.set_params({"epochs": 1})
    assert c.model is model and c.params == {"epochs": 1}
    c.on_train_batch_begin(0)
    c.on_train_batch_end(0, {"loss": 1.0})
    assert calls == [("begin", 0), ("end", 0, {"loss": 1.0})]
    for name in ["on_train_begin", "on_train_end", "on_test_begin",
                 "on_test_end", "on_predict_begin", "on_predict_end"]:
        getattr(c, name)()
    for name in ["on_epoch_begin", "on_epoch_end", "on_test_batch_begin",
                 "on_test_batch_end", "on_predict_batch_begin",
                 "on_predict_batch_end"]:
        getattr(c, name)(0, {})


# ---------------------------------------------------------------------------
# EarlyStopping
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_early_stopping_patience(patience):
    model = FakeModel()
    es = EarlyStopping(monitor="loss", patience=patience)
    hist = fit(model, [es], losses([10.0, 9.0, 8.0, 9.0, 8.9, 8.8, 8.7, 8.6, 8.5]))
    assert es.stopped_epoch == max(patience, 1) + 2
    assert hist.epoch == list(range(es.stopped_epoch + 1))
    assert model.stop_training is True


def test_early_stopping_min_delta():
    vals = [1.0, 0.95, 0.92, 0.91, 0.9]
    es = EarlyStopping(monitor="loss", patience=2, min_delta=0.1)
    hist = fit(FakeModel(), [es], losses(vals))
    assert es.stopped_epoch == 2
    assert len(hist.epoch) == 3
    assert es.min_delta == -0.1  # sign flipped for "min"
    es = EarlyStopping(monitor="loss", patience=2, min_delta=-0.0)
    hist = fit(FakeModel(), [es], losses(vals))
    assert len(hist.epoch) == 5 and es.stopped_epoch == 0


def test_early_stopping_compares_in_float32():
    # Keras's ops.less works on floatx (float32): 1.0 - 1e-9 == 1.0 there.
    es = EarlyStopping(monitor="loss", patience=0)
    hist = fit(FakeModel(), [es], losses([1.0, 1.0 - 1e-9, 0.5]))
    assert len(hist.epoch) == 2


def test_early_stopping_restore_best_weights(capsys):
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", patience=2,
                       restore_best_weights=True, verbose=1)
    hist = fit(model, [es], losses([1.0] * 5),
               val_logs=losses([0.2, 0.15, 0.1, 0.11, 0.12]))
    assert len(hist.epoch) == 5
    assert es.stopped_epoch == 4 and es.best_epoch == 2 and es.best == 0.1
    np.testing.assert_array_equal(model.weights[0], np.full((2, 2), 2.0))
    assert capsys.readouterr().out == (
        "Epoch 5: early stopping\n"
        "Restoring model weights from the end of the best epoch: 3.\n"
    )


def test_early_stopping_baseline():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", patience=5, baseline=0.5,
                       restore_best_weights=True)
    hist = fit(model, [es], losses([1.0] * 6),
               val_logs=losses([0.9, 0.8, 0.7, 0.71, 0.72, 0.73]))
    # No epoch beats the baseline: stop after `patience` epochs, restore the
    # best of them.
    assert len(hist.epoch) == 5
    np.testing.assert_array_equal(model.weights[1], np.full(2, 2.0))

    # Beating the baseline resets the wait.
    es = EarlyStopping(monitor="val_loss", patience=2, baseline=0.5)
    hist = fit(FakeModel(), [es], losses([1.0] * 6),
               val_logs=losses([0.9, 0.4, 0.45, 0.46, 0.3, 0.2]))
    assert es.stopped_epoch == 3 and len(hist.epoch) == 4


def test_early_stopping_stopped_by_other_callback_still_restores():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", patience=5, baseline=0.5,
                       restore_best_weights=True)

    class StopAt3(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 3:
                self.model.stop_training = True

    hist = fit(model, [es, StopAt3()], losses([1.0] * 6),
               val_logs=losses([0.9, 0.8, 0.7, 0.71, 0.72, 0.73]))
    assert len(hist.epoch) == 4
    assert es.stopped_epoch == 0
    np.testing.assert_array_equal(model.weights[0], np.full((2, 2), 2.0))


def test_early_stopping_start_from_epoch():
    es = EarlyStopping(monitor="loss", patience=0, start_from_epoch=2)
    hist = fit(FakeModel(), [es], losses([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert es.stopped_epoch == 3 and len(hist.epoch) == 4
    es = EarlyStopping(monitor="loss", patience=2, start_from_epoch=2)
    hist = fit(FakeModel(), [es], losses([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    assert es.stopped_epoch == 4 and len(hist.epoch) == 5


def test_early_stopping_reuse_resets_state():
    es = EarlyStopping(monitor="loss", patience=1)
    fit(FakeModel(), [es], losses([1.0, 2.0, 3.0]))
    assert es.stopped_epoch == 1
    hist = fit(FakeModel(), [es], losses([5.0, 4.0, 3.0]))
    assert len(hist.epoch) == 3 and es.stopped_epoch == 0


def test_early_stopping_modes():
    model = FakeModel(metrics=["mse", "acc", "accuracy", "hinge", "kl_divergence"])
    cases = [
        ("max", "val_mse", cb_mod.greater),
        ("min", "val_loss", cb_mod.less),
        ("auto", "val_mse", cb_mod.less),
        ("auto", "loss", cb_mod.less),
        ("auto", "acc", cb_mod.greater),
        ("auto", "val_accuracy", cb_mod.greater),
        ("auto", "hinge", cb_mod.less),
    ]
    for mode, monitor, op in cases:
        es = EarlyStopping(monitor=monitor, mode=mode)
        es.set_model(model)
        es.on_train_begin()
        es.on_epoch_end(0, {monitor: 1.0})
        assert es.monitor_op is op, (mode, monitor)

    # objects with a name and _direction, inside a container
    class M:
        def __init__(self, name, direction):
            self.name, self._direction = name, direction

    class Container:
        def __init__(self, metrics):
            self.metrics = metrics

    objmodel = FakeModel(metrics=[M("loss", None), Container([M("f1", "up")])])
    es = EarlyStopping(monitor="val_f1")
    es.set_model(objmodel)
    es.on_epoch_end(0, {"val_f1": 0.5})
    assert es.monitor_op is cb_mod.greater

    for monitor in ["unknown", "kl_divergence", "val_acc_2"]:
        es = EarlyStopping(monitor=monitor)
        es.set_model(model)
        with pytest.raises(ValueError, match="isn't able to automatically"):
            es.on_epoch_end(0, {monitor: 1.0})
    # no metrics on the model at all
    es = EarlyStopping(monitor="val_accuracy")
    es.set_model(FakeModel())
    with pytest.raises(ValueError, match="monitor=val_accuracy"):
        es.on_epoch_end(0, {})


def test_early_stopping_max_mode_stops():
    model = FakeModel(metrics=["accuracy"])
    es = EarlyStopping(monitor="val_accuracy", patience=1)
    hist = fit(model, [es], losses([1.0] * 5),
               val_logs=losses([0.5, 0.6, 0.6, 0.55, 0.9], key="accuracy"))
    assert es.stopped_epoch == 2 and len(hist.epoch) == 3
    assert es.best == 0.6


def test_early_stopping_unknown_mode_warns():
    with pytest.warns(UserWarning, match="EarlyStopping mode 'bogus' is unknown, "
                      "fallback to auto mode."):
        es = EarlyStopping(mode="bogus")
    assert es.mode == "auto"


def test_early_stopping_missing_metric_warns():
    es = EarlyStopping()  # val_loss
    with pytest.warns(UserWarning, match=r"Early stopping conditioned on metric "
                      r"`val_loss` which is not available. Available metrics "
                      r"are: accuracy,loss"):
        hist = fit(FakeModel(), [es], [{"loss": 1.0, "accuracy": 0.5}] * 3)
    assert len(hist.epoch) == 3


# ---------------------------------------------------------------------------
# ModelCheckpoint
# ---------------------------------------------------------------------------


def test_model_checkpoint_filenames(tmp_path):
    model = FakeModel()
    path = str(tmp_path / "sub" / "model.{epoch:02d}-{val_loss:.2f}.weights.h5")
    mc = ModelCheckpoint(path, save_weights_only=True)
    fit(model, [mc], losses([1.0, 0.9, 0.8]),
        val_logs=losses([0.5, 0.4567, 0.6]))
    assert model.saved == [
        ("weights", str(tmp_path / "sub" / "model.01-0.50.weights.h5"), True),
        ("weights", str(tmp_path / "sub" / "model.02-0.46.weights.h5"), True),
        ("weights", str(tmp_path / "sub" / "model.03-0.60.weights.h5"), True),
    ]
    assert os.path.isdir(tmp_path / "sub")  # directory created like Keras


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    model = FakeModel()
    path = str(tmp_path / "best.keras")
    mc = ModelCheckpoint(path, save_best_only=True, verbose=1)
    fit(model, [mc], losses([1.0, 0.9, 0.8]), val_logs=losses([0.5, 0.6, 0.4]))
    assert model.saved == [("model", path, True), ("model", path, True)]
    assert capsys.readouterr().out == (
        f"\nEpoch 1: val_loss improved from None to 0.50000, saving model to {path}\n"
        f"\nEpoch 1: finished saving model to {path}\n"
        f"\nEpoch 2: val_loss did not improve from 0.50000\n"
        f"\nEpoch 3: val_loss improved from 0.50000 to 0.40000, saving model to {path}\n"
        f"\nEpoch 3: finished saving model to {path}\n"
    )


def test_model_checkpoint_mode_and_threshold(tmp_path):
    model = FakeModel(metrics=["acc"])
    mc = ModelCheckpoint(str(tmp_path / "m{epoch}.keras"), monitor="val_acc",
                         save_best_only=True)
    fit(model, [mc], losses([1.0] * 4),
        val_logs=losses([0.5, 0.6, 0.55, 0.7], key="acc"))
    assert [os.path.basename(p) for _, p, _ in model.saved] == [
        "m1.keras", "m2.keras", "m4.keras"]

    model = FakeModel()
    mc = ModelCheckpoint(str(tmp_path / "m{epoch}.keras"), monitor="loss",
                         mode="max", save_best_only=True)
    fit(model, [mc], losses([0.5, 0.6, 0.55, 0.7]))
    assert [os.path.basename(p) for _, p, _ in model.saved] == [
        "m1.keras", "m2.keras", "m4.keras"]

    model = FakeModel()
    mc = ModelCheckpoint(str(tmp_path / "m{epoch}.keras"), monitor="loss",
                         save_best_only=True, initial_value_threshold=0.45)
    fit(model, [mc], losses([0.5, 0.4, 0.42]))
    assert [os.path.basename(p) for _, p, _ in model.saved] == ["m2.keras"]


def test_model_checkpoint_save_freq_batches(tmp_path):
    model = FakeModel()
    mc = ModelCheckpoint(str(tmp_path / "c-{epoch}-{batch}.keras"), save_freq=2)
    fit(model, [mc], losses([1.0, 0.9]), steps=3)
    assert [os.path.basename(p) for _, p, _ in model.saved] == [
        "c-1-2.keras", "c-2-1.keras", "c-2-3.keras"]


def test_model_checkpoint_minimal_model_interface(tmp_path):
    model = MinimalModel()
    model.set_weights_to_epoch = lambda e: None
    mc = ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True,
                         monitor="loss")
    fit(model, [mc], losses([1.0]))
    assert model.saved == [str(tmp_path / "w.weights.h5")]


def test_model_checkpoint_validation(tmp_path):
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        ModelCheckpoint(str(tmp_path / "w.h5"), save_weights_only=True)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        ModelCheckpoint(str(tmp_path / "w.ckpt"))
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        ModelCheckpoint(str(tmp_path / "w.keras"), save_freq="batch")
    mc = ModelCheckpoint(str(tmp_path / "{nope}.keras"), monitor="loss")
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        fit(FakeModel(), [mc], losses([1.0]))


def test_model_checkpoint_missing_monitor_warns(tmp_path):
    model = FakeModel()
    mc = ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with "
                      "val_loss available."):
        fit(model, [mc], losses([1.0]))
    assert len(model.saved) == 1


# ---------------------------------------------------------------------------
# LearningRateScheduler / ReduceLROnPlateau
# ---------------------------------------------------------------------------


def test_lr_scheduler_one_arg(capsys):
    model = FakeModel(learning_rate=0.01)
    lrs = LearningRateScheduler(lambda epoch: 0.5 ** (epoch + 1), verbose=1)
    hist = fit(model, [lrs], losses([1.0, 0.9]))
    assert model.optimizer.learning_rate == 0.25
    assert hist.history["learning_rate"] == [0.5, 0.25]
    assert list(hist.history) == ["loss", "learning_rate"]
    assert capsys.readouterr().out == (
        "\nEpoch 1: LearningRateScheduler setting learning rate to 0.5.\n"
        "\nEpoch 2: LearningRateScheduler setting learning rate to 0.25.\n"
    )


def test_lr_scheduler_two_args():
    model = FakeModel(learning_rate=0.5)
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr / 2

    hist = fit(model, [LearningRateScheduler(schedule)], losses([1.0, 0.9]))
    assert seen == [(0, 0.5), (1, 0.25)]
    assert model.optimizer.learning_rate == 0.125
    assert hist.history["learning_rate"] == [0.25, 0.125]
    # float32 rounding of the optimizer variable shows in the logs
    model = FakeModel(learning_rate=0.5)
    hist = fit(model, [LearningRateScheduler(lambda e, lr: 0.1)], losses([1.0]))
    assert hist.history["learning_rate"] == [float(np.float32(0.1))]


@pytest.mark.parametrize("bad", [1, "0.1", None, np.int64(1)])
def test_lr_scheduler_bad_return(bad):
    lrs = LearningRateScheduler(lambda epoch: bad)
    with pytest.raises(ValueError, match="The output of the `schedule` function "
                       "should be a float. Got: "):
        fit(FakeModel(), [lrs], losses([1.0]))


def test_lr_scheduler_accepts_numpy_floats():
    model = FakeModel()
    fit(model, [LearningRateScheduler(lambda e: np.float32(0.5))], losses([1.0]))
    assert model.optimizer.learning_rate == 0.5


def test_reduce_lr_on_plateau(capsys):
    model = FakeModel(learning_rate=1.0)
    rlr = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, verbose=1,
                            min_lr=0.3)
    hist = fit(model, [rlr], losses([1.0, 1.0, 1.0, 1.0, 1.0]))
    lr03 = float(np.float32(0.3))
    # min_lr is compared as float32, like Keras: no reduction below it
    assert hist.history["learning_rate"] == [1.0, 1.0, 0.5, lr03, lr03]
    assert model.optimizer.learning_rate == float(np.float32(0.3))
    assert capsys.readouterr().out == (
        "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.5.\n"
        "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.3.\n"
    )
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_cooldown():
    model = FakeModel(learning_rate=1.0)
    rlr = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, cooldown=2)
    hist = fit(model, [rlr], losses([1.0] * 7))
    assert hist.history["learning_rate"] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]


# ---------------------------------------------------------------------------
# TerminateOnNaN / LambdaCallback / CSVLogger
# ---------------------------------------------------------------------------


def test_terminate_on_nan(capsys):
    model = FakeModel()

    def batch_logs(epoch, step):
        return {"loss": float("nan") if (epoch, step) == (1, 1) else 1.0}

    hist = fit(model, [TerminateOnNaN()], losses([1.0, 1.0, 1.0]), steps=3,
               batch_logs=batch_logs)
    assert hist.epoch == [0, 1]
    assert capsys.readouterr().out == "Batch 1: Invalid loss, terminating training\n"
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        fit(FakeModel(), [TerminateOnNaN(raise_error=True)], losses([1.0]),
            batch_logs=lambda e, s: {"loss": float("inf")})


def test_lambda_callback():
    events = []
    lc = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_end=lambda epoch, logs: events.append(("epoch", epoch, logs["loss"])),
        on_train_end=lambda logs: events.append("train_end"),
        on_test_end=lambda logs: events.append("test_end"),
    )
    fit(FakeModel(), [lc], losses([1.0, 0.5]), val_logs=losses([2.0, 1.0]))
    assert events == ["train_begin", "test_end", ("epoch", 0, 1.0), "test_end",
                      ("epoch", 1, 0.5), "train_end"]


def test_csv_logger(tmp_path):
    fn = str(tmp_path / "log.csv")
    fit(FakeModel(), [CSVLogger(fn)], [{"loss": 0.5, "acc": 0.25}, {"loss": 0.25, "acc": 0.5}])
    with open(fn, newline="") as f:
        content = f.read()
    assert content == ("epoch,acc,loss,val_acc,val_loss\r\n"
                       "0,0.25,0.5,NA,NA\r\n"
                       "1,0.5,0.25,NA,NA\r\n")
    # append without a second header
    fit(FakeModel(), [CSVLogger(fn, separator=";", append=True)],
        losses([0.125]), val_logs=losses([0.75]))
    with open(fn, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[-1] == ["0;0.125;0.75"]
    assert len(rows) == 4


# ---------------------------------------------------------------------------
# Progbar
# ---------------------------------------------------------------------------


def bar1(current, target, filled, eta_or_elapsed, per_step, metrics, width=20):
    """A verbose=1 line as Keras 3 draws it (without the leading \\b/\\r)."""
    nd = int(math.log10(target)) + 1
    s = f"{B}{current:>{nd}d}/{target}{R} "
    if filled > 0:
        s += f"{G}{BAR * filled}{R}"
    s += f"{W}{BAR * (width - filled)}{R}"
    s += f" {B}{eta_or_elapsed}{R} {per_step}"
    for k, v in metrics:
        s += f" - {k}: {v}"
    return s


def test_progbar_fit_verbose1(clock, capsys):
    model = FakeModel()
    cbs = CallbackList(None, add_history=True, add_progbar=True, verbose=1,
                       epochs=2, steps=3, model=model)
    cbs.on_train_begin()
    # epoch 1
    clock.t = 1000.0
    cbs.on_epoch_begin(0)
    clock.t = 1000.2
    cbs.on_train_batch_begin(0)
    cbs.on_train_batch_end(0, {"loss": 0.5})
    clock.t = 1000.22  # < 0.05s since last draw: not drawn
    cbs.on_train_batch_end(1, {"loss": 0.375})
    clock.t = 1000.5
    cbs.on_train_batch_end(2, {"loss": 0.25})
    # validation is silent inside fit
    cbs.on_test_begin()
    cbs.on_test_batch_end(0, {"loss": 0.125})
    cbs.on_test_end({"loss": 0.125})
    clock.t = 1001.0
    cbs.on_epoch_end(0, {"loss": 0.25, "val_loss": 0.125})
    # epoch 2
    clock.t = 1002.0
    cbs.on_epoch_begin(1)
    clock.t = 1002.0005
    cbs.on_train_batch_end(0, {"loss": 0.0005})
    clock.t = 1002.001
    cbs.on_train_batch_end(1, {"loss": 0.001})
    clock.t = 1003.5
    cbs.on_train_batch_end(2, {"loss": 0.002})
    clock.t = 1004.7
    cbs.on_epoch_end(1, {"loss": 0.002, "val_loss": -0.5})
    cbs.on_train_end()

    out = capsys.readouterr().out
    w1 = 4 + 20 + 3 + 11 + 15  # visible width of the first line
    l1 = bar1(1, 3, 6, "0s", "200ms/step", [("loss", "0.5000")])
    l2 = bar1(3, 3, 20, "0s", "150ms/step", [("loss", "0.2500")])
    l3 = bar1(3, 3, 20, "1s", "400ms/step",
              [("loss", "0.2500"), ("val_loss", "0.1250")])
    e2w1 = 4 + 20 + 3 + 11 + 19
    m1 = bar1(1, 3, 6, "0s", "500us/step", [("loss", "5.0000e-04")])
    m2 = bar1(3, 3, 20, "0s", "750ms/step", [("loss", "0.0020")])
    m3 = bar1(3, 3, 20, "3s", "1s/step",
              [("loss", "0.0020"), ("val_loss", "-0.5000")])
    e2w2 = 4 + 20 + 3 + 11 + 15
    expected = (
        "Epoch 1/2\n"
        + "\r" + l1
        + "\b" * w1 + "\r" + l2
        + "\b" * w1 + "\r" + l3 + "\n"
        + "Epoch 2/2\n"
        + "\r" + m1
        + "\b" * e2w1 + "\r" + m2 + " " * (e2w1 - e2w2)
        + "\b" * e2w2 + "\r" + m3 + "\n"
    )
    assert out == expected
    # What a terminal finally shows for epoch 1:
    assert l3 == (
        "\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m "
        "\x1b[1m1s\x1b[0m 400ms/step - loss: 0.2500 - val_loss: 0.1250"
    )


def test_progbar_fit_verbose2(clock, capsys):
    model = FakeModel()
    cbs = CallbackList(None, add_history=True, add_progbar=True, verbose=2,
                       epochs=2, steps=3, model=model)
    cbs.on_train_begin()
    for epoch, (t0, t1, logs) in enumerate([
        (1000.0, 1001.0, {"loss": 0.25, "accuracy": 0.75, "val_loss": 0.125}),
        (1002.0, 1032.0, {"loss": 0.0005, "accuracy": 1.0, "val_loss": -0.5}),
    ]):
        clock.t = t0
        cbs.on_epoch_begin(epoch)
        for step in range(3):
            clock.t += 0.1
            cbs.on_train_batch_end(step, {"loss": 9.0})
        clock.t = t1
        cbs.on_epoch_end(epoch, logs)
    cbs.on_train_end()
    assert capsys.readouterr().out == (
        "Epoch 1/2\n"
        "3/3 - 1s - 333ms/step - accuracy: 0.7500 - loss: 0.2500 - val_loss: 0.1250\n"
        "Epoch 2/2\n"
        "3/3 - 30s - 10s/step - accuracy: 1.0000 - loss: 5.0000e-04 - val_loss: -5.0000e-01\n"
    )


def test_progbar_single_epoch_has_no_epoch_line(clock, capsys):
    cbs = CallbackList(None, add_history=True, add_progbar=True, verbose=2,
                       epochs=1, steps=12, model=FakeModel())
    cbs.on_train_begin()
    clock.t = 1000.0
    cbs.on_epoch_begin(0)
    clock.t = 1000.024
    cbs.on_epoch_end(0, {"loss": 0.5})  # whole epoch in one call
    cbs.on_train_end()
    assert capsys.readouterr().out == "12/12 - 0s - 2ms/step - loss: 0.5000\n"


def test_progbar_evaluate_and_predict(clock, capsys):
    model = FakeModel()
    cbs = CallbackList(None, add_progbar=True, verbose="auto", epochs=1,
                       steps=2, model=model)
    clock.t = 1000.0
    cbs.on_test_begin()
    clock.t = 1000.01
    cbs.on_test_batch_end(0, {"loss": 1.0, "mae": 0.5})
    clock.t = 1000.02
    cbs.on_test_batch_end(1, {"loss": 0.75, "mae": 0.25})
    clock.t = 1000.03
    cbs.on_test_end({"loss": 0.75, "mae": 0.25})
    out = capsys.readouterr().out
    first = bar1(1, 2, 10, "0s", "10ms/step", [("loss", "1.0000"), ("mae", "0.5000")])
    last = bar1(2, 2, 20, "0s", "20ms/step", [("loss", "0.7500"), ("mae", "0.2500")])
    assert out == "\r" + first + "\b" * 66 + "\r" + last + "\n"

    cbs = CallbackList(None, add_progbar=True, verbose=2, epochs=1, steps=None,
                       model=model)
    clock.t = 2000.0
    cbs.on_predict_begin()
    for i in range(4):
        clock.t += 0.5
        cbs.on_predict_batch_end(i, {"outputs": np.zeros(3)})
    cbs.on_predict_end()
    assert capsys.readouterr().out == "4/4 - 2s - 500ms/step\n"


def test_progbar_unknown_target_and_eta_formats(clock, capsys):
    p = Progbar(None, verbose=1, stateful_metrics=["loss"])
    clock.t += 0.25
    p.update(5, [("loss", 0.5)])
    assert capsys.readouterr().out == (
        "\r      5/Unknown \x1b[1m0s\x1b[0m 50ms/step - loss: 0.5000")

    clock.t = 1000.0
    p = Progbar(100, verbose=1)
    clock.t = 1001.5
    p.update(1)
    assert capsys.readouterr().out == "\r" + bar1(1, 100, 0, "2:28", "2s/step", [])

    clock.t = 1000.0
    p = Progbar(10000, verbose=1)
    clock.t = 1005.0
    p.update(1)
    assert capsys.readouterr().out == "\r" + bar1(
        1, 10000, 0, "13:53:15", "5s/step", [])


def test_progbar_averaging_of_stateless_metrics(clock, capsys):
    # default: every metric is averaged over steps (weighted by steps)
    p = Progbar(target=4, interval=0.0)
    clock.t += 1
    p.update(1, [("v", 0.0)])
    clock.t += 1
    p.update(3, [("v", 3.0)])
    assert capsys.readouterr().out.rstrip(" ").endswith("v: 2.0000")
    # stateful: displayed as given
    p = Progbar(target=4, interval=0.0, stateful_metrics=["v"])
    clock.t += 1
    p.update(1, [("v", 0.0)])
    clock.t += 1
    p.update(3, [("v", 3.0)])
    assert capsys.readouterr().out.rstrip(" ").endswith("v: 3.0000")
    # stateless_metrics: only those are averaged
    p = Progbar(target=4, interval=0.0, stateless_metrics=["v"])
    clock.t += 1
    p.update(1, [("v", 0.0), ("w", 0.0)])
    clock.t += 1
    p.update(3, [("v", 3.0), ("w", 3.0)])
    assert capsys.readouterr().out.rstrip(" ").endswith("v: 2.0000 - w: 3.0000")
    with pytest.raises(ValueError, match="Only one of"):
        Progbar(1, stateful_metrics=[], stateless_metrics=[])


def test_progbar_add_and_finalize(clock, capsys):
    clock.t = 1000.0
    p = Progbar(target=2, verbose=2)
    clock.t = 1000.5
    p.add(1, [("x", 1.0)])
    assert capsys.readouterr().out == ""
    clock.t = 1001.0
    p.add(1, [("x", 3.0)])  # finalize: the last value replaces the average
    assert capsys.readouterr().out == "2/2 - 1s - 500ms/step - x: 3.0000\n"


def test_progbar_zero_target(clock, capsys):
    Progbar(target=0, verbose=2).update(0, finalize=True)
    assert capsys.readouterr().out == ""
    Progbar(target=0, verbose=1).update(0, finalize=True)
    assert capsys.readouterr().out == "\r      0/Unknown \x1b[1m0s\x1b[0m 0s/step\n"


def test_progbar_verbose0_silent(clock, capsys):
    cbs = CallbackList(None, add_history=True, add_progbar=False, verbose=0,
                       epochs=3, steps=2, model=FakeModel())
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_train_batch_end(0, {"loss": 1.0})
    cbs.on_epoch_end(0, {"loss": 1.0})
    cbs.on_train_end()
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------
# BackupAndRestore on a real model: an interrupted fit resumes at the epoch after the last backup
# --------------------------------------------------------------------------

class _Interrupt(Exception):
    """Raised by a callback: the fit stops midway, as a killed job's would."""


def _backup_model():
    from seqc import keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_backup_and_restore_resumes_an_interrupted_fit(tmp_path):
    import json
    from seqc import keras
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    backup = tmp_path / "backup"
    seen = []

    class Crash(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)
            if epoch == 3 and len(seen) < 5:
                raise _Interrupt

    model = _backup_model()
    with pytest.raises(_Interrupt):
        model.fit(x, y, epochs=5, batch_size=4, shuffle=False, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(backup), Crash()])
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "training_metadata.json"]
    assert json.loads((backup / "training_metadata.json").read_text()) == {"epoch": 3, "batch": 0}
    after_three = model.get_weights()
    # the script runs again: a new model, the same callback; epochs 3 and 4 only, from the backup
    again = _backup_model()
    h = again.fit(x, y, epochs=5, batch_size=4, shuffle=False, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(backup), Crash()])
    assert seen == [0, 1, 2, 3, 3, 4] and h.epoch == [3, 4]
    assert not backup.exists()                       # delete_checkpoint: removed when training ends
    # the same as training on without the interruption
    whole = _backup_model()
    whole.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(whole.get_weights(), after_three):
        np.testing.assert_array_equal(a, b)
    whole.fit(x, y, epochs=5, initial_epoch=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(whole.get_weights(), again.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_backup_and_restore_batches_double_checkpoint_and_arguments(tmp_path):
    from seqc import keras
    x, y = np.ones((12, 3)), np.zeros((12, 1))
    backup = tmp_path / "b"
    model = _backup_model()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[
        keras.callbacks.BackupAndRestore(backup, save_freq=2, double_checkpoint=True, delete_checkpoint=False)])
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "latest.weights.h5.bkp", "training_metadata.json",
                                          "training_metadata.json.bkp"]
    (backup / "latest.weights.h5").write_bytes(b"damaged")      # the previous pair is used instead
    again = _backup_model()
    again.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(backup)])
    with pytest.raises(ValueError, match="backup_dir"):
        keras.callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        keras.callbacks.BackupAndRestore(tmp_path, save_freq="batch")
