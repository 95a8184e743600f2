"""Models used before compile() and models built at their first call, as Keras 3 allows:
predict / __call__ / predict_on_batch / weights / summary of an uncompiled model (an inference
build), compile() later keeping the weights, Keras's error for fit/evaluate before compile, a
Sequential without an input shape built from its first data or build(), and Input dtypes.
Numbers are checked against the Keras 3 goldens of tests/golden (layer_*.npz, rnn_*.npz)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqc import keras

GOLDEN = Path(__file__).parent / "golden"
LAYER = json.loads((GOLDEN / "layer_manifest.json").read_text())
RNN = json.loads((GOLDEN / "rnn_manifest.json").read_text())
ROOT = Path(__file__).resolve().parent.parent


def layers_of(desc):
    return [getattr(keras.layers, l["class"])(**l["config"]) for l in desc["layers"]]


def golden(case):
    data = np.load(GOLDEN / f"{case}.npz")
    n = len([k for k in data.files if k.startswith("w_")])
    return data, [data[f"w_{i}"] for i in range(n)]


@pytest.mark.parametrize("case", ["layer_repeat_vector", "layer_upsampling2d_default", "layer_cropping1d"])
def test_uncompiled_predict_equals_keras_and_compile_keeps_weights(case):
    desc = LAYER[case]
    data, ws = golden(case)
    model = keras.Sequential([keras.Input(shape=tuple(desc["input_shape"]))] + layers_of(desc))
    model.set_weights(ws)
    for out in (model.predict(data["x"], verbose=0), model.predict_on_batch(data["x"]), model(data["x"])):
        np.testing.assert_allclose(np.asarray(out), data["y"], rtol=1e-4, atol=1e-5)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    for got, want in zip(model.get_weights(), ws):
        np.testing.assert_array_equal(got, want)
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(desc["steps"])]
    np.testing.assert_allclose(losses, data["losses"], rtol=1e-4, atol=1e-6)
    trained = [data[f"trained_{i}"] for i in range(len(ws))]
    for got, want in zip(model.get_weights(), trained):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_unbuilt_model_is_built_by_its_first_predict():
    desc = LAYER["layer_upsampling1d"]
    data, ws = golden("layer_upsampling1d")
    model = keras.Sequential(layers_of(desc))      # no input shape anywhere
    assert not model.built and model.get_weights() == []
    with pytest.raises(ValueError, match="not been built"):
        model.set_weights(ws)
    y = model.predict(data["x"], verbose=0)        # builds for (None, 5, 3)
    assert model.built and model.input_shape == (None,) + data["x"].shape[1:]
    assert y.shape == data["y"].shape
    model.set_weights(ws)
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-4, atol=1e-5)


def test_unbuilt_model_compiled_first_is_built_by_fit():
    desc = LAYER["layer_repeat_vector"]
    data, ws = golden("layer_repeat_vector")
    model = keras.Sequential(layers_of(desc))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")   # compile before build: fine
    assert not model.built
    model.build((None,) + data["x"].shape[1:])
    model.set_weights(ws)
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(desc["steps"])]
    np.testing.assert_allclose(losses, data["losses"], rtol=1e-4, atol=1e-6)
    other = keras.Sequential(layers_of(desc))
    other.compile(optimizer="sgd", loss="mse")
    other.fit(data["x"], data["target"], epochs=1, verbose=0)      # built by fit
    assert other.built and len(other.get_weights()) == len(ws)


def test_build_errors_and_unbuilt_summary():
    model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2)])
    lines = []
    model.summary(print_fn=lines.append)
    assert "0 (unbuilt)" in lines[0] and "Total params: 0" in lines[0]
    with pytest.raises(ValueError, match="batch dimension first"):
        model.build((3,))
    with pytest.raises(ValueError, match="batch dimension first"):
        model.build(7)
    model.build((None, 3))
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4,), (4, 2), (2,)]
    with pytest.raises(ValueError, match="already been configured"):
        model.build((None, 5))
    with pytest.raises(ValueError, match="no layers"):
        keras.Sequential().build((None, 3))


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_training_before_compile_is_kerass_error(call):
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    x, y = np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the model"):
        getattr(model, call)(x, y)
    assert model.metrics_names == []
    model.predict(x, verbose=0)                   # predict needs no compile


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "float32", "float64", np.int32])
def test_integer_inputs_feed_the_embedding(dtype):
    desc = RNN["rnn_layer_embedding_lstm"]["model"]
    data = np.load(GOLDEN / "rnn_layer_embedding_lstm.npz")
    layers = [getattr(keras.layers, l["class"])(**l["config"]) for l in desc["layers"]]
    model = keras.Sequential([keras.Input(shape=tuple(desc["input_shape"]), dtype=dtype)] + layers)
    model.set_weights([data[f"w_{i}"] for i in range(4)])
    x = data["x"].astype(np.dtype(dtype))
    np.testing.assert_allclose(model.predict(x, verbose=0), data["y"], rtol=1e-4, atol=1e-5)


def test_bad_input_dtype_is_refused():
    for bad in ("string", "complex64", object):
        with pytest.raises(ValueError, match="unsupported input dtype"):
            keras.Input(shape=(3,), dtype=bad)


def test_static_compile_of_an_unbuilt_model_asks_for_the_shape(tmp_path):
    script = tmp_path / "unbuilt.py"
    script.write_text("import keras\nfrom keras import layers\n"
                      "model = keras.Sequential([layers.Dense(8, activation='relu'), layers.Dense(1)])\n"
                      "model.compile(optimizer='adam', loss='mse')\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "seqc", *a], capture_output=True, text=True,
                                    cwd=ROOT)
    out = run("summary", str(script))
    assert out.returncode != 0 and f"{script}:3:" in out.stderr and "--input-shape" in out.stderr
    assert "Traceback" not in out.stderr
    out = run("summary", str(script), "--input-shape", "5")
    assert out.returncode == 0, out.stderr
    assert "(None, 8)" in out.stdout and "Total params: 57" in out.stdout
    out = run("summary", str(script), "--input-shape", "0,x")
    assert out.returncode != 0 and "positive integers" in out.stderr
