"""Keras's Normalization layer against real Keras 3 (tests/golden/make_normalization_goldens.py):
the statistics adapt() learns (from an array or a list of batches), the output for fixed
weights and five SGD steps on mse (a Normalization after a Dense passes its gradient back), a
.keras file Keras wrote; then a finite-difference check of its backward kernel, its files, the
rank adjustment Keras 3 makes for inputs of shape (n,), and its errors."""
import json
from pathlib import Path

import golden_cases
import numpy as np
import pytest

from seqc import keras
from seqc.errors import SeqcError

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "normalization_manifest.json").read_text())
CASES = sorted(k for k in MANIFEST if not k.startswith("_"))


def build(desc, data):
    layers = [getattr(keras.layers, l["class"])(**l["config"]) for l in desc["layers"]]
    if "adapt" in data.files:
        adapt = data["adapt"]
        layers[desc["at"]].adapt(list(adapt) if desc["batched"] else adapt)
    return keras.Sequential([keras.Input(shape=tuple(desc["input_shape"]))] + layers)


def load(case):
    return golden_cases.load(GOLDEN, case)


@pytest.mark.parametrize("case", CASES)
def test_adapt_forward_and_training_equal_keras(case):
    desc = MANIFEST[case]
    data, ws, trained = load(case)
    model = build(desc, data)
    start = sum(len(l.get_weights()) for l in model.layers[:desc["at"]])
    got = model.get_weights()
    assert len(got) == len(ws)
    for i in range(start, start + desc["n_norm"]):      # what adapt() learned (or zeros, ones, 0)
        assert got[i].shape == ws[i].shape
        np.testing.assert_allclose(got[i], ws[i], rtol=2e-6, atol=1e-6)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    golden_cases.assert_trains_as_keras(model, data, ws, trained, desc["steps"])


def test_summary_counts_the_statistics_as_non_trainable():
    norm = keras.layers.Normalization()
    norm.adapt(np.arange(12.0).reshape(4, 3))
    model = keras.Sequential([keras.Input((3,)), norm, keras.layers.Dense(2)])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert f"{norm.name} (Normalization)" in text and "Non-trainable params: 7" in text
    assert [w.name for w in norm.weights] == ["mean", "variance", "count"]
    assert not any(w.trainable for w in norm.weights)
    np.testing.assert_allclose(norm.mean, [[4.5, 5.5, 6.5]])
    np.testing.assert_allclose(norm.variance.numpy(), [[11.25, 11.25, 11.25]])


def test_training_leaves_the_statistics_alone():
    x = np.random.default_rng(0).normal(5, 2, (64, 4))
    norm = keras.layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential([keras.Input((4,)), norm, keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()[:3]
    model.fit(x, x.sum(axis=1), epochs=2, verbose=0)
    for a, b in zip(before, model.get_weights()[:3]):
        np.testing.assert_array_equal(a, b)


def test_keras_file_loads_with_its_statistics():
    data = np.load(GOLDEN / "normalization_adapt_last.npz")
    model = keras.models.load_model(GOLDEN / "normalization_keras_file.keras")
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), np.load(GOLDEN / "normalization_keras_file_y.npy"),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.layers[0].get_weights()[0], data["w_0"], rtol=1e-6)


@pytest.mark.parametrize("fmt", ["keras", "weights.h5", "h5"])
def test_files_round_trip(tmp_path, fmt):
    """The adapted statistics and the constant ones survive seqc's own files; count is an int64
    scalar in them, as Keras writes it."""
    import h5py
    x = np.random.default_rng(1).normal(3, 2, (32, 5))
    norm = keras.layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential([keras.Input((5,)), norm, keras.layers.Dense(3),
                              keras.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0], invert=True)])
    model.compile(optimizer="sgd", loss="mse")
    want = model.predict(x, verbose=0)
    path = tmp_path / f"m.{fmt}"
    if fmt == "weights.h5":
        model.save_weights(path)
        again = keras.Sequential([keras.Input((5,)), keras.layers.Normalization(), keras.layers.Dense(3),
                                  keras.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0],
                                                             invert=True)])
        again.load_weights(path)
        with h5py.File(path) as f:
            count = f["layers/normalization/vars/2"][()]
            assert f["layers/normalization/vars/2"].dtype == np.int64 and count == 0
    else:
        model.save(path)
        again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), want, rtol=1e-6)
    np.testing.assert_allclose(again.get_weights()[0], x.mean(axis=0), rtol=1e-5)
    if fmt == "keras":
        cfg = again.layers[2].get_config()
        assert cfg["mean"] == [1.0, 2.0, 3.0] and cfg["invert"] is True and cfg["axis"] == [-1]


def test_adapt_after_compile_reaches_the_c():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Normalization(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.set_weights([np.zeros(2), np.ones(2), np.zeros(()), np.ones((2, 1)), np.zeros(1)])
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    np.testing.assert_allclose(model.predict(x, verbose=0).ravel(), [3.0, 9.0])
    model.layers[0].adapt(x)                 # mean (2, 4), variance (1, 4): std (1, 2)
    np.testing.assert_allclose(model.predict(x, verbose=0).ravel(), [-2.0, 2.0], rtol=1e-6)


def test_layer_called_on_its_own():
    norm = keras.layers.Normalization(axis=None)
    norm.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32))
    np.testing.assert_allclose(norm(np.array([1.0, 2.0, 3.0])), [-1.4142135, -0.70710677, 0.0], rtol=1e-6)
    inv = keras.layers.Normalization(axis=-1, invert=True)
    inv.adapt(np.array([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0], [0.0, 7.0, 4.0], [2.0, 9.0, 6.0]], np.float32))
    np.testing.assert_allclose(inv(np.array([[1.0, 2.0, 3.0]])), [[2.0, 10.0, 8.0]])


def test_inputs_of_rank_one_less_or_more_by_a_trailing_one():
    """Keras 3 feeds x of shape (n,) to a model of input shape (1,), and (n, 3, 1) to one of (3,)."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer="sgd", loss="mse")
    xs = np.array([-1.0, 0.0, 1.0, 2.0])
    np.testing.assert_allclose(model.predict(xs, verbose=0).ravel(), xs)
    model.fit(xs, 2 * xs - 1, epochs=2, verbose=0)
    assert np.isfinite(model.evaluate(xs, 2 * xs - 1, verbose=0))
    wide = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="ones")])
    np.testing.assert_allclose(wide.predict(np.ones((2, 3, 1)), verbose=0).ravel(), [3.0, 3.0])
    with pytest.raises(ValueError, match="expects"):
        wide.predict(np.ones((2, 3, 2)), verbose=0)


def test_backward_matches_finite_differences():
    """dx of the layer (between two Dense layers, so that the first one's kernel gradient goes
    through it): one SGD step's change against central differences of the loss."""
    rng = np.random.default_rng(3)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                              keras.layers.Normalization(mean=[0.5, -1.0, 2.0, 0.0], variance=[0.25, 4.0, 1.0, 0.5]),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    ws = [rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()]
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 1))

    def loss(weights):
        model.set_weights(weights)
        return float(model.test_on_batch(x, y))

    model.set_weights(ws)
    model.train_on_batch(x, y)
    grad = ws[0] - model.get_weights()[0]
    eps = 1e-2
    for idx in np.ndindex(ws[0].shape):
        up = [w.copy() for w in ws]
        down = [w.copy() for w in ws]
        up[0][idx] += eps
        down[0][idx] -= eps
        fd = (loss(up) - loss(down)) / (2 * eps)
        assert abs(fd - grad[idx]) <= 2e-3 * max(1.0, abs(fd)), (idx, fd, grad[idx])


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        keras.layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        keras.layers.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="rank of `mean`"):
        keras.layers.Normalization(axis=None, mean=[1.0], variance=[1.0])
    with pytest.raises(TypeError, match="axis"):
        keras.layers.Normalization(axis="x")
    norm = keras.layers.Normalization()
    norm.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="incompatible shape"):
        norm.adapt(np.ones((4, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        keras.layers.Normalization().adapt(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="empty iterable"):
        keras.layers.Normalization().adapt([])
    with pytest.raises(TypeError, match="Unsupported data type"):
        keras.layers.Normalization().adapt(3.0)
    with pytest.raises(ValueError, match="constructor"):
        keras.layers.Normalization(mean=1.0, variance=1.0).adapt(np.ones((2, 2)))
    with pytest.raises(ValueError, match="build"):
        keras.layers.Normalization()(np.ones((2, 2)))
    for axis, match in (((1, 3), "consecutive"), (0, "batch"), (4, "range")):
        model = keras.Sequential([keras.Input((2, 3, 4)), keras.layers.Normalization(axis=axis)])
        with pytest.raises(SeqcError, match=match):
            model.predict(np.ones((1, 2, 3, 4)), verbose=0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])])
    with pytest.raises(SeqcError, match="broadcast"):
        model.predict(np.ones((1, 3)), verbose=0)


def test_summary_of_an_unbuilt_model_shows_the_adapted_layer():
    """Keras 3 (torch) builds the layer at adapt(): a model not built yet shows its shape and
    its 19 weights (mean 9, variance 9, count 1), the other layers unbuilt."""
    norm = keras.layers.Normalization()
    norm.adapt(np.ones((10, 9)))
    model = keras.Sequential([norm, keras.layers.Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    row = next(line for line in lines[0].splitlines() if f"{norm.name} (Normalization)" in line)
    assert row.split("│")[2].strip() == "(None, 9)" and row.split("│")[3].strip() == "19" and "0 (unbuilt)" in text
    assert "Total params: 19 (76.00 B)" in text and "Non-trainable params: 19 (76.00 B)" in text
