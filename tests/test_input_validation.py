"""Regression tests for the array fuzzer's findings (issue 14): malformed inputs and arguments
to fit / evaluate / predict / *_on_batch are a ValueError or TypeError naming what was
expected, raised before any C runs; what Keras accepts is accepted with the right result."""
import numpy as np
import pytest

from seqc.keras import callbacks as C
from seqc.keras import layers as L
from seqc.keras.models import Sequential

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 8)).astype(np.float32)
Y = RNG.normal(size=(16, 10)).astype(np.float32)


@pytest.fixture(scope="module")
def mlp():
    m = Sequential([L.Input((8,)), L.Dense(16, activation="relu"), L.Dense(10)])
    m.compile("sgd", "mse", metrics=["mae"])
    return m


@pytest.fixture(scope="module")
def convnet():
    m = Sequential([L.Input((10, 10, 1)), L.Conv2D(4, 3), L.Flatten(), L.Dense(3, activation="softmax")])
    m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return m


def _no_c_ran(model, fn):
    """fn() must raise before the model's C ran: the weights and iteration count are unchanged."""
    before, iters = model.get_weights(), model.optimizer.iterations
    fn()
    assert model.optimizer.iterations == iters
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"validation_split": "0.1"}, TypeError, "validation_split"),
    ({"validation_split": 1.0}, ValueError, "validation_split"),
    ({"validation_split": float("nan")}, ValueError, "validation_split"),
    ({"verbose": "x"}, ValueError, "verbose"),
    ({"verbose": None}, TypeError, "verbose"),
    ({"callbacks": "x"}, TypeError, "callbacks"),
    ({"callbacks": [object()]}, TypeError, "callbacks"),
    ({"callbacks": [None]}, TypeError, "callbacks"),
    ({"validation_freq": 0}, ValueError, "validation_freq"),
    ({"validation_freq": "x"}, TypeError, "validation_freq"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": -1}, ValueError, "batch_size"),
    ({"batch_size": 2.0}, TypeError, "batch_size"),
    ({"batch_size": "8"}, TypeError, "batch_size"),
    ({"epochs": 1.5}, TypeError, "epochs"),
    ({"shuffle": "x"}, TypeError, "shuffle"),
    ({"validation_data": (X[:0], Y[:0])}, ValueError, "no samples"),
    ({"validation_data": (X,)}, ValueError, "validation_data"),
    ({"foo": 1}, TypeError, "foo"),
])
def test_bad_fit_arguments_are_refused_before_c(mlp, kwargs, error, match):
    def call():
        with pytest.raises(error, match=match):
            mlp.fit(X, Y, **{"epochs": 1, "verbose": 0, **kwargs})
    _no_c_ran(mlp, call)


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("kwargs, error", [({"verbose": "x"}, ValueError), ({"callbacks": "x"}, TypeError),
                                           ({"callbacks": [None]}, TypeError), ({"batch_size": 0}, ValueError)])
def test_bad_evaluate_predict_arguments(mlp, method, kwargs, error):
    args = (X, Y) if method == "evaluate" else (X,)
    with pytest.raises(error):
        getattr(mlp, method)(*args, **{"verbose": 0, **kwargs})


def test_labels_the_loss_cannot_take_are_refused(mlp, convnet):
    # (n, 5, 2) for a 10-unit output: same size, but Keras's loss cannot broadcast it
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        mlp.fit(X, Y.reshape(16, 5, 2), verbose=0)
    # 2 columns for 3 classes
    xc = RNG.normal(size=(16, 10, 10, 1)).astype(np.float32)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        convnet.fit(xc, np.eye(3, dtype=np.float32)[RNG.integers(0, 3, 16)][:, :2], verbose=0)


def test_keras_label_shapes_with_a_trailing_axis_are_accepted(mlp):
    a = mlp.evaluate(X, Y, verbose=0)
    b = mlp.evaluate(X, Y[..., None], verbose=0)
    assert np.allclose(a, b)


def test_ragged_and_empty_inputs(mlp):
    ragged_y = Y.tolist()
    ragged_y[-1] = ragged_y[-1][:-1]
    with pytest.raises(ValueError, match="y"):
        mlp.fit(X, ragged_y, verbose=0)
    with pytest.raises(ValueError, match="at least one sample"):
        mlp.fit(X[:0], Y[:0], verbose=0)
    for method in ("train_on_batch", "test_on_batch"):
        with pytest.raises(ValueError, match="no samples"):
            getattr(mlp, method)(X[:0], Y[:0])
    with pytest.raises(ValueError, match="no samples"):
        mlp.predict_on_batch(X[:0])


def test_huge_batch_size_is_one_batch_of_the_rows(mlp):
    want = mlp.predict(X, batch_size=16, verbose=0)
    for batch_size in (2 ** 31, 2 ** 40):
        assert np.allclose(mlp.predict(X, batch_size=batch_size, verbose=0), want, atol=1e-6)
        mlp.evaluate(X, Y, batch_size=batch_size, verbose=0)
    hist = mlp.fit(X, Y, batch_size=2 ** 40, epochs=1, verbose=0, validation_data=(X, Y),
                   validation_batch_size=2 ** 35)
    assert np.isfinite(hist.history["val_loss"][0])


def test_keras_accepts_these_and_so_does_seqc(mlp):
    hist = mlp.fit(X > 0, Y, epochs=2, verbose=0, validation_split=None, callbacks=[[C.History()]],
                   validation_freq=[2], validation_data=(X, Y))
    assert "val_loss" in hist.history and len(hist.history["val_loss"]) == 1   # validated in epoch 2 only
    assert np.allclose(mlp.predict(X.astype(np.float16), verbose=0),
                       mlp.predict(X.astype(np.float16).astype(np.float32), verbose=0))
    assert np.allclose(mlp.predict(np.asfortranarray(X), verbose=0), mlp.predict(X, verbose=0))


def test_bad_sample_weight_is_a_value_error_before_c(mlp):
    w0 = mlp.get_weights()
    for sw in (np.ones(15), np.ones((16, 2)), np.ones((16, 1, 1)), np.r_[np.ones(15), np.nan], "abc"):
        for call in (lambda: mlp.evaluate(X, Y, sample_weight=sw, verbose=0),
                     lambda: mlp.fit(X, Y, sample_weight=sw, verbose=0),
                     lambda: mlp.train_on_batch(X, Y, sample_weight=sw),
                     lambda: mlp.test_on_batch(X, Y, sample_weight=sw)):
            with pytest.raises(ValueError, match="sample_weight|cardinality|numeric"):
                call()
    with pytest.raises(ValueError, match="class_weight"):
        mlp.fit(X, Y, sample_weight=np.ones(16), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(TypeError, match="class_weight"):
        mlp.fit(X, Y, class_weight=[1.0, 2.0], verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        mlp.fit(X, Y, class_weight={0: float("nan")}, verbose=0)
    for a, b in zip(w0, mlp.get_weights()):
        assert np.array_equal(a, b)
