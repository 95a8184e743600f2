"""The model object: Keras semantics of fit / evaluate / predict, weights, callbacks, and bad
input (a ValueError before any C runs; nothing crashes the process)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import seqc.keras as keras
from seqc.keras import backend as K
from seqc.keras.layers import Activation, Dense, Dropout, Input
from seqc.keras.models import Sequential
from seqc.keras.optimizers import SGD, Adam


def mlp(out=10, act="softmax", loss="categorical_crossentropy", metrics=("accuracy",), opt="sgd", dropout=0.0):
    layers = [Dense(16, activation="relu", input_dim=20)]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(out, activation=act))
    model = Sequential(layers)
    model.compile(optimizer=opt, loss=loss, metrics=list(metrics))
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((100, 20)).astype(np.float32)
    labels = rng.integers(10, size=(100, 1))
    return x, keras.utils.to_categorical(labels, 10), labels


def test_fit_history_and_evaluate(data):
    x, y, _ = data
    model = mlp()
    hist = model.fit(x, y, epochs=3, batch_size=32, verbose=0, validation_split=0.2)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in hist.history.values())
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    res = model.evaluate(x, y, batch_size=32, verbose=0)
    assert isinstance(res, list) and len(res) == 2
    # the reported loss equals the per-sample mean of the loss over all rows
    p = np.clip(model.predict(x, verbose=0), 1e-7, 1 - 1e-7)
    assert res[0] == pytest.approx(float(np.mean(-np.sum(y * np.log(p), axis=1))), rel=1e-4)
    assert res[1] == pytest.approx(float(np.mean(p.argmax(1) == y.argmax(1))))


def test_evaluate_without_metrics_returns_scalar(data):
    x, y, _ = data
    model = mlp(metrics=())
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    assert isinstance(model.train_on_batch(x[:8], y[:8]), float)


def test_partial_last_batch_and_predict_shapes(data):
    x, y, _ = data
    model = mlp()
    model.fit(x[:37], y[:37], batch_size=16, epochs=1, verbose=0)
    out = model.predict(x[:37], batch_size=16, verbose=0)
    assert out.shape == (37, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(1), 1, rtol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), out[:5], rtol=1e-5, atol=1e-6)


def test_inputs_are_converted(data):
    x, y, _ = data
    model = mlp()
    a = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x.astype(np.float64), verbose=0), a, rtol=1e-6)
    np.testing.assert_allclose(model.predict(np.asfortranarray(x), verbose=0), a, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x.tolist(), verbose=0), a, rtol=1e-6)
    big = np.zeros((100, 40)); big[:, ::2] = x
    np.testing.assert_allclose(model.predict(big[:, ::2], verbose=0), a, rtol=1e-6)   # non-contiguous
    model.fit((x * 10).astype(np.int64), y.astype(np.int32), epochs=1, verbose=0)


def test_wrong_shapes_are_value_errors(data):
    x, y, _ = data
    model = mlp()
    with pytest.raises(ValueError, match=r"\(100, 21\).*\(None, 20\)"):
        model.fit(np.zeros((100, 21)), y, verbose=0)
    with pytest.raises(ValueError, match="x has 100.*y has 99"):
        model.fit(x, y[:99], verbose=0)
    with pytest.raises(ValueError, match="expects"):
        model.predict(np.zeros((3, 4, 5)), verbose=0)
    with pytest.raises(ValueError, match="batch dimension"):
        model.predict(np.zeros(20), verbose=0)
    with pytest.raises(ValueError, match="non-finite"):
        model.fit(x, np.where(y == 1, np.nan, 0), verbose=0)
    with pytest.raises(ValueError, match="numeric"):
        model.predict(np.array([["a"] * 20]), verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="set_weights"):
        model.set_weights([np.zeros((3, 3))])


def test_sparse_labels_out_of_range(data):
    x, _, labels = data
    model = mlp(loss="sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=1, verbose=0)
    bad = labels.copy(); bad[7] = 10
    with pytest.raises(ValueError, match=r"y\[7\] = 10"):
        model.fit(x, bad, verbose=0)
    bad[7] = -1
    with pytest.raises(ValueError, match=r"y\[7\] = -1"):
        model.evaluate(x, bad, verbose=0)


def test_nan_inputs_do_not_crash(data):
    x, y, _ = data
    xn = x.copy(); xn[3, 4] = np.nan; xn[5, 0] = np.inf
    model = mlp()
    model.fit(xn, y, epochs=1, verbose=0)
    out = model.predict(xn, verbose=0)
    assert out.shape == (100, 10)


def test_accuracy_resolution_respecialises_for_labels(data):
    """'accuracy' with integer labels on a softmax is sparse accuracy, as in Keras 3."""
    x, y, labels = data
    model = mlp(loss="sparse_categorical_crossentropy")
    p = model.predict(x, verbose=0)
    acc = model.evaluate(x, labels, verbose=0)[1]
    assert acc == pytest.approx(np.mean(p.argmax(1) == labels[:, 0]))
    acc2 = model.evaluate(x, labels[:, 0], verbose=0)[1]   # (n,) labels as well
    assert acc2 == pytest.approx(acc)


def test_weights_roundtrip_and_keras_layout(tmp_path, data):
    x, y, _ = data
    model = mlp()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(20, 16), (16,), (16, 10), (10,)]
    w = [np.full(s, 0.01 * (i + 1), np.float32) for i, s in enumerate(shapes)]
    model.set_weights(w)
    np.testing.assert_array_equal(model.get_weights()[2], w[2])
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    model.fit(x, y, epochs=1, verbose=0)
    model.load_weights(path)
    np.testing.assert_array_equal(model.get_weights()[3], w[3])


def test_seed_makes_runs_reproducible(data):
    x, y, _ = data
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        model = mlp(dropout=0.5)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        runs.append(model.get_weights()[0])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_dropout_scaling_in_training_only(data):
    x, y, _ = data
    model = Sequential([Input((20,)), Dropout(0.5)])
    model.compile("sgd", "mse")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_callbacks_early_stopping_and_scheduler(data):
    x, y, _ = data
    model = mlp(opt=SGD(learning_rate=0.1))
    seen = []
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    rec = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(logs["learning_rate"]))
    hist = model.fit(x, y, epochs=10, verbose=0, callbacks=[sched, stop, rec])
    assert len(hist.history["loss"]) == 2          # stopped after patience 0
    assert seen == pytest.approx([0.05, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.025)


def test_model_checkpoint(tmp_path, data):
    x, y, _ = data
    model = mlp()
    ck = keras.callbacks.ModelCheckpoint(str(tmp_path / "w{epoch:02d}.weights.h5"), save_weights_only=True)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ck])
    assert sorted(os.listdir(tmp_path)) == ["w01.weights.h5", "w02.weights.h5"]


def test_custom_metric_and_loss(data):
    x, y, _ = data

    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    def my_mse(y_true, y_pred):
        return K.mean(K.square(y_pred - y_true), axis=-1)

    model = mlp(out=1, act="sigmoid", loss=my_mse, metrics=("accuracy", mean_pred))
    yb = (y[:, :1] > 0).astype(np.float32)
    res = model.evaluate(x, yb, batch_size=100, verbose=0)
    p = model.predict(x, verbose=0)
    assert res[0] == pytest.approx(float(np.mean((p - yb) ** 2)), rel=1e-5)
    assert res[2] == pytest.approx(float(p.mean()), rel=1e-5)
    assert model.metrics_names == ["loss", "compile_metrics"]     # Keras 3's names (tests/test_variables.py)


def test_verbose_output(capsys, data):
    x, y, _ = data
    model = mlp()
    model.fit(x, y, epochs=2, batch_size=50, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "2/2 - " in out and "accuracy: " in out and "loss: " in out
    model.fit(x, y, epochs=1, batch_size=50, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=1, batch_size=50, verbose=1)
    assert "━" in capsys.readouterr().out


def test_layer_argument_errors():
    with pytest.raises(TypeError, match="units"):
        Dense(12, units=784)
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        Dense(3, bogus=1)
    with pytest.raises(ValueError, match="threshold|Unknown|activation"):
        Dense(3, activation="threshold")
    with pytest.raises(ValueError, match="learning_rate|lr"):
        SGD(lr=0.1, learning_rate=0.2)
    with pytest.raises(ValueError, match="Only one of"):
        Adam(clipnorm=1.0, clipvalue=1.0)


def test_unknown_loss_and_missing_input_shape():
    with pytest.raises(ValueError, match="unknown loss"):
        mlp(loss="nope")
    model = Sequential([Dense(3)])
    model.compile("sgd", "mse")            # as Keras 3: built at the first call, not at compile()
    assert not model.built
    with pytest.raises(ValueError, match="not yet been built"):
        model.save_weights("never.weights.h5")


def test_generated_c_is_warning_free(tmp_path, data):
    """The build log of every model compiled here holds no compiler warning."""
    from seqc import build
    mlp(dropout=0.5)
    mlp(out=1, act="sigmoid", loss="binary_crossentropy", opt="adam")
    root = build.cache_dir()
    logs = [os.path.join(root, d, "build.log") for d in os.listdir(root)
            if os.path.exists(os.path.join(root, d, "build.log"))]
    assert logs
    current = f"# seqc {build.source_id()}"
    logs = [log for log in logs if open(log).readline().strip() == current]   # this seqc's builds
    assert logs
    for log in logs:
        text = open(log).read().splitlines()[2:]
        assert not [l for l in text if "warning" in l], "\n".join(text)


def test_hostile_inputs_never_crash_the_process(tmp_path):
    """Run odd inputs in a subprocess: a segfault would show as a negative return code."""
    script = tmp_path / "hostile.py"
    script.write_text(textwrap.dedent("""
        import numpy as np, seqc.keras as keras
        from seqc.keras.layers import Dense
        m = keras.Sequential([Dense(4, activation="softmax", input_dim=3)])
        m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
        for x, y in [(np.full((5, 3), np.inf), np.eye(4)[:5 % 4 + 1].repeat(5, 0)[:5]),
                     (np.full((5, 3), 1e38), np.ones((5, 4))),
                     (np.zeros((0, 3)), np.zeros((0, 4)))]:
            try:
                m.fit(x, y, verbose=0); m.predict(x, verbose=0)
            except ValueError as e:
                print("ValueError", e)
        print("alive")
    """))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "alive" in r.stdout


def test_to_categorical_like_keras():
    out = keras.utils.to_categorical(np.array([[1], [0], [2]]))
    assert out.shape == (3, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out, np.eye(3)[[1, 0, 2]])
    assert keras.utils.to_categorical([1, 3], num_classes=5).shape == (2, 5)
    assert keras.utils.to_categorical(np.zeros((2, 3), int), 4).shape == (2, 3, 4)
    with pytest.raises(ValueError):
        keras.utils.to_categorical([5], num_classes=3)


def test_integer_hyperparameters_compile():
    """SGD(1, momentum=1) and the like: integer values are floats in the generated C."""
    import seqc.keras as keras
    from seqc.keras.layers import Dense
    for opt in (keras.optimizers.SGD(1, momentum=1), keras.optimizers.RMSprop(rho=1, momentum=1, epsilon=1),
                keras.optimizers.Adam(beta_1=0, beta_2=1, epsilon=1)):
        model = keras.Sequential([Dense(2, input_dim=3)])
        model.compile(opt, "mse")
        model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
        assert model.optimizer.iterations == 1


def test_layer_weights_and_layers_without_input():
    """model.layers omits the InputLayer (Keras 3); layer.get_weights / set_weights / count_params
    see that layer's arrays of the model, before and after compile."""
    model = Sequential([Input((4,)), Dense(3, activation="relu"), Dropout(0.5), Dense(2)])
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dropout", "Dense"]
    k, b = model.layers[0].get_weights()
    assert k.shape == (4, 3) and b.shape == (3,)
    assert model.layers[1].get_weights() == [] and model.layers[2].count_params() == 8
    model.layers[2].set_weights([np.ones((3, 2)), np.full(2, 0.5)])
    model.compile("sgd", "mse")
    np.testing.assert_array_equal(model.get_weights()[2], np.ones((3, 2)))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    model.layers[0].set_weights([np.eye(4, 3), np.zeros(3)])
    np.testing.assert_allclose(model.predict(x, verbose=0), np.maximum(x[:, :3], 0) @ np.ones((3, 2)) + 0.5,
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="expecting 2 weights"):
        model.layers[0].set_weights([np.eye(4, 3)])
    with pytest.raises(ValueError, match="not compatible"):
        model.layers[0].set_weights([np.eye(4, 4), np.zeros(3)])
    assert model.get_layer(index=0) is model.layers[0]
