"""Activation, noise and shape layers (issue 10: ReLU, LeakyReLU, PReLU, ELU, Softmax, the noise
layers, ActivityRegularization, Dense on 3-D inputs, TimeDistributed, Permute; and Rescaling,
Identity, ZeroPadding1D) against real
Keras 3 (tests/golden/make_actlayers_goldens.py): the output for fixed weights, the loss
test_on_batch reports, and five SGD and Adam steps (losses and weights). The noise layers are
random in training: Keras's goldens check their inference output (the identity); their training
statistics are checked against theory, and every new backward kernel against finite
differences of the C loss with the training-mode masks held fixed."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from seqc import keras
from seqc.keras import backend as K

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "actlayers_manifest.json").read_text())
CASES = sorted(k for k in MANIFEST if not k.startswith("_"))
TRAINED = [c for c in CASES if not MANIFEST[c]["random"]]


def make_layer(desc):
    cfg = dict(desc["config"])
    if desc["class"] == "TimeDistributed":
        cfg["layer"] = make_layer(cfg["layer"])
    return getattr(keras.layers, desc["class"])(**cfg)


def build(desc, layers=None):
    return keras.Sequential([keras.Input(shape=tuple(desc["input_shape"]))] +
                            [make_layer(l) for l in (layers or desc["layers"])])


def load(case, prefix="w"):
    data = np.load(GOLDEN / f"{case}.npz")
    n = len([k for k in data.files if k.startswith(prefix + "_")])
    return data, [data[f"{prefix}_{i}"] for i in range(n)]


@pytest.mark.parametrize("case", CASES)
def test_forward_equals_keras(case):
    desc = MANIFEST[case]
    data, ws = load(case)
    model = build(desc)
    model.compile(optimizer="sgd", loss=desc["loss"])
    model.set_weights(ws)
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("case", TRAINED)
def test_training_equals_keras(case, opt):
    desc = MANIFEST[case]
    data, ws = load(case)
    _, trained = load(case, f"trained_{opt}")
    o = desc["optimizers"][opt]
    model = build(desc)
    model.compile(optimizer=getattr(keras.optimizers, o["class"])(**o["config"]), loss=desc["loss"])
    model.set_weights(ws)
    np.testing.assert_allclose(model.test_on_batch(data["x"], data["target"]), data[f"eval_{opt}"], rtol=1e-4,
                               atol=1e-6)
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(desc["steps"])]
    np.testing.assert_allclose(losses, data[f"losses_{opt}"], rtol=1e-4, atol=1e-6)
    for got, want in zip(model.get_weights(), trained):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)


# ------------------------------------------------------------------------------------------
# finite differences of the C loss, all weights, masks fixed (training mode) or none
# ------------------------------------------------------------------------------------------
def sum_loss(y_true, y_pred):
    """sum(y_pred * y_true): a linear loss, so the check sees the layers' own curvature only."""
    return K.sum(y_pred * y_true)


def fd_check(model, x, y, training, h=1e-2, min_checked=0.8):
    """engine.gradients (the C backward) against central differences of the C loss, for every
    weight; a weight whose +-h move changes the kinks the inputs of the layers sit on (found
    by comparing the sign pattern of every op's input) is skipped."""
    eng = model._runtime._engine
    x = np.ascontiguousarray(x, np.float32)
    y = np.ascontiguousarray(y, np.float32)
    p0 = eng.params.copy()
    loss0, g = eng.gradients(x, y, training)
    assert np.isfinite(loss0) and np.all(np.isfinite(g))
    checked, worst = 0, 0.0
    for i in range(len(p0)):
        vals = []
        for sgn in (1, -1):
            eng.params[i] = p0[i] + sgn * h
            vals.append(eng.gradients(x, y, training)[0])
        eng.params[i] = p0[i]
        fd = (vals[0] - vals[1]) / (2 * h)
        # a kink crossed: the one-sided differences disagree
        left, right = (loss0 - vals[1]) / h, (vals[0] - loss0) / h
        if abs(left - right) > 0.2 * abs(fd) + 5e-3:
            continue
        err = abs(fd - g[i])
        worst = max(worst, err / (abs(fd) + 1e-3))
        assert err <= 2e-2 * abs(fd) + 2e-3, (i, fd, g[i])
        checked += 1
    assert checked >= min_checked * len(p0), (checked, len(p0))
    return worst


L = keras.layers
GRAD_MODELS = {
    # name: (input shape, layers after a Dense/Conv, training mode)
    "relu_all_args": ((5,), lambda: [L.Dense(6), L.ReLU(max_value=0.6, negative_slope=0.1, threshold=0.2),
                                      L.Dense(3)], False),
    "relu_threshold_cap": ((5,), lambda: [L.Dense(6), L.ReLU(max_value=0.8, threshold=0.3), L.Dense(3)], False),
    "relu6_slope": ((5,), lambda: [L.Dense(6), L.ReLU(max_value=6.0, negative_slope=0.2), L.Dense(3)], False),
    "leaky_relu": ((5,), lambda: [L.Dense(6), L.LeakyReLU(0.1), L.Dense(3)], False),
    "elu": ((5,), lambda: [L.Dense(6), L.ELU(0.5), L.Dense(3)], False),
    "prelu": ((5,), lambda: [L.Dense(6), L.PReLU(alpha_initializer=keras.initializers.Constant(0.3)),
                             L.Dense(3)], False),
    "prelu_shared": ((4, 3), lambda: [L.Dense(5), L.PReLU(alpha_initializer="ones", shared_axes=[1]),
                                      L.Flatten(), L.Dense(3)], False),
    "prelu_first": ((4, 3), lambda: [L.PReLU(alpha_initializer=keras.initializers.Constant(0.2), shared_axes=2),
                                     L.Flatten(), L.Dense(3)], False),
    "softmax_3d": ((4, 3), lambda: [L.Dense(5), L.Softmax(), L.Flatten(), L.Dense(3)], False),
    "softmax_axis": ((4, 3), lambda: [L.Dense(5), L.Reshape((2, 2, 5)), L.Softmax(axis=-3), L.Flatten(),
                                      L.Dense(3)], False),
    "activity_reg": ((5,), lambda: [L.Dense(6, activation="tanh"), L.ActivityRegularization(l1=0.05, l2=0.1),
                                    L.Dense(3)], False),
    "gaussian_noise": ((5,), lambda: [L.Dense(6), L.GaussianNoise(0.5), L.Dense(3, activation="tanh")], True),
    "gaussian_dropout": ((5,), lambda: [L.Dense(6), L.GaussianDropout(0.4), L.Dense(3, activation="tanh")], True),
    "alpha_dropout": ((5,), lambda: [L.Dense(6), L.AlphaDropout(0.3), L.Dense(3, activation="tanh")], True),
    "spatial_dropout1d": ((5, 3), lambda: [L.Conv1D(4, 2), L.SpatialDropout1D(0.5), L.Flatten(), L.Dense(3)], True),
    "spatial_dropout2d": ((4, 4, 2), lambda: [L.Conv2D(3, 2), L.SpatialDropout2D(0.5), L.Flatten(), L.Dense(3)],
                          True),
    "permute": ((3, 4, 2), lambda: [L.Conv2D(3, 2), L.Permute((2, 3, 1)), L.Flatten(), L.Dense(3)], False),
    "td_dropout_noise": ((3, 4), lambda: [L.TimeDistributed(L.Dense(5)), L.TimeDistributed(L.Dropout(0.3)),
                                          L.TimeDistributed(L.GaussianDropout(0.3)), L.Flatten(),
                                          L.Dense(2, activation="tanh")], True),
    "td_conv": ((3, 5, 5, 1), lambda: [L.TimeDistributed(L.Conv2D(2, 2, activation="tanh")),
                                       L.TimeDistributed(L.AveragePooling2D()), L.TimeDistributed(L.Flatten()),
                                       L.TimeDistributed(L.Dense(3)), L.Flatten(), L.Dense(2)], False),
    "rescaling_per_channel": ((4, 3), lambda: [L.Dense(3), L.Rescaling([0.5, 2.0, -1.5], offset=[0.1, 0.0, 0.3]),
                                               L.Identity(), L.Flatten(), L.Dense(3)], False),
    "rescaling_scalar": ((5,), lambda: [L.Dense(6), L.Rescaling(-0.7, offset=0.2), L.Dense(3)], False),
    "zero_padding1d": ((5, 2), lambda: [L.Conv1D(3, 2), L.ZeroPadding1D((2, 1)), L.Conv1D(2, 2), L.Flatten(),
                                        L.Dense(3)], False),
}


@pytest.mark.parametrize("name", sorted(GRAD_MODELS))
def test_backward_matches_finite_differences(name):
    shape, layers, training = GRAD_MODELS[name]
    model = keras.Sequential([keras.Input(shape)] + layers(), name=f"fd_{name}")
    model.compile(optimizer="sgd", loss=sum_loss)
    rng = np.random.default_rng(5)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    y = rng.standard_normal((3, model.output_shape[-1])).astype(np.float32)
    fd_check(model, x, y, training)
    if training:    # inference mode: the identity, its gradient passed through
        fd_check(model, x, y, False)


# ------------------------------------------------------------------------------------------
# the noise layers' training statistics
# ------------------------------------------------------------------------------------------
def training_output(layer, x):
    """The noise layer's training-mode output: a Dense(B, no bias) after it with the loss
    sum(y_pred * I) has the gradient dW = out^T, which engine.gradients returns."""
    B = x.shape[0]
    model = keras.Sequential([keras.Input(x.shape[1:]), layer, L.Flatten(), L.Dense(B, use_bias=False)])
    model.compile(optimizer="sgd", loss=sum_loss)
    eng = model._runtime._engine
    _, g = eng.gradients(np.ascontiguousarray(x, np.float32), np.eye(B, dtype=np.float32), True)
    return g.reshape(-1, B).T.reshape(x.shape), model


def test_gaussian_noise_statistics():
    x = np.full((200, 60), 0.7, np.float32)
    out, _ = training_output(L.GaussianNoise(0.3, seed=1), x)
    noise = out - x
    assert abs(noise.mean()) < 4 * 0.3 / math.sqrt(noise.size)
    assert abs(noise.std() - 0.3) < 0.01
    assert abs(np.mean(noise ** 4) / np.mean(noise ** 2) ** 2 - 3.0) < 0.15    # Gaussian kurtosis


def test_gaussian_dropout_statistics():
    rate = 0.3
    x = np.full((200, 60), 2.0, np.float32)
    out, _ = training_output(L.GaussianDropout(rate), x)
    m = out / 2.0
    sd = math.sqrt(rate / (1 - rate))
    assert abs(m.mean() - 1.0) < 4 * sd / math.sqrt(m.size)
    assert abs(m.std() - sd) < 0.02


def test_alpha_dropout_statistics():
    """Inputs of mean 0 and variance 1 keep them (AlphaDropout's point); the dropped values
    are a * alpha_p + b."""
    rate = 0.2
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 60)).astype(np.float32)
    out, _ = training_output(L.AlphaDropout(rate), x)
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    dropped = np.isclose(out, a * alpha_p + b, atol=1e-6)
    kept = ~dropped
    np.testing.assert_allclose(out[kept], a * x[kept] + b, rtol=1e-5, atol=1e-6)
    assert abs(dropped.mean() - rate) < 0.015
    assert abs(out.mean()) < 0.03 and abs(out.var() - 1.0) < 0.04


@pytest.mark.parametrize("rank", [1, 2])
def test_spatial_dropout_drops_whole_channels(rank):
    rate = 0.4
    shape = (300, 3, 4) if rank == 1 else (300, 2, 3, 4)
    x = np.random.default_rng(1).uniform(0.5, 1.5, shape).astype(np.float32)
    layer = L.SpatialDropout1D(rate) if rank == 1 else L.SpatialDropout2D(rate)
    out, _ = training_output(layer, x)
    ratio = (out / x).reshape(shape[0], -1, shape[-1])            # (sample, position, channel)
    assert np.allclose(ratio, ratio[:, :1, :], atol=1e-6)          # one factor per sample and channel
    factors = ratio[:, 0, :]
    assert np.all(np.isclose(factors, 0) | np.isclose(factors, 1 / (1 - rate)))
    assert abs(np.isclose(factors, 0).mean() - rate) < 0.05


@pytest.mark.parametrize("layer", [lambda: L.GaussianNoise(0.5), lambda: L.GaussianDropout(0.5),
                                   lambda: L.AlphaDropout(0.5), lambda: L.SpatialDropout1D(0.5)])
def test_noise_layers_are_the_identity_at_inference(layer):
    x = np.random.default_rng(2).standard_normal((6, 3, 4)).astype(np.float32)
    model = keras.Sequential([keras.Input((3, 4)), layer()])
    model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_noise_changes_between_steps():
    x = np.ones((50, 20), np.float32)
    out, model = training_output(L.GaussianNoise(0.2), x)
    eng = model._runtime._engine
    model.train_on_batch(x, np.eye(50, dtype=np.float32))         # one update: the next step's noise is new
    _, g = eng.gradients(x, np.eye(50, dtype=np.float32), True)
    assert not np.allclose(g.reshape(-1, 50).T.reshape(x.shape), out)


# ------------------------------------------------------------------------------------------
# arguments
# ------------------------------------------------------------------------------------------
def test_leaky_relu_alpha_is_the_deprecated_spelling():
    with pytest.warns(UserWarning, match="alpha"):
        layer = L.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1


@pytest.mark.parametrize("make, match", [
    (lambda: L.ReLU(max_value=-1.0), "max_value"),
    (lambda: L.ReLU(negative_slope=-0.1), "negative_slope"),
    (lambda: L.ReLU(threshold=None), "threshold"),
    (lambda: L.LeakyReLU(negative_slope=-1), "negative_slope"),
    (lambda: L.ELU(alpha="x"), "alpha"),
    (lambda: L.Softmax(axis=1.5), "axis"),
    (lambda: L.PReLU(shared_axes=[0]), "shared_axes"),
    (lambda: L.PReLU(alpha_regularizer="l2"), "alpha_regularizer"),
    (lambda: L.GaussianNoise(1.5), "stddev"),
    (lambda: L.GaussianDropout(1.0), "rate"),
    (lambda: L.AlphaDropout(0.2, noise_shape=(1, 3)), "noise_shape"),
    (lambda: L.SpatialDropout2D(0.2, data_format="channels_first"), "channels_last"),
    (lambda: L.ActivityRegularization(l1=-1), "l1"),
    (lambda: L.Permute((1, 3)), "dims"),
    (lambda: L.TimeDistributed("dense"), "Layer"),
    (lambda: L.Rescaling("1/255"), "scale"),
    (lambda: L.Rescaling(1.0, offset=float("nan")), "offset"),
    (lambda: L.Rescaling([[1.0, 2.0]]), "flat list"),
    (lambda: L.ZeroPadding1D(-1), "padding"),
    (lambda: L.ZeroPadding1D((1, 2, 3)), "padding"),
])
def test_bad_arguments_are_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("shape, layers, match", [
    ((4, 3), lambda: [L.Softmax(axis=0)], "axis=0"),
    ((4, 3), lambda: [L.Softmax(axis=-4)], "axis=-4"),
    ((4, 3), lambda: [L.PReLU(shared_axes=[3])], "shared_axes"),
    ((4, 3), lambda: [L.SpatialDropout2D(0.2)], "rank 4"),
    ((4, 3), lambda: [L.Permute((2, 1, 3))], "dims"),
    ((6,), lambda: [L.TimeDistributed(L.Dense(2))], "at least 3"),
    ((4, 3), lambda: [L.TimeDistributed(L.ActivityRegularization(0.1))], "TimeDistributed"),
    ((4, 3), lambda: [L.Rescaling([1.0, 2.0])], "3 channels"),
    ((4, 3, 2), lambda: [L.ZeroPadding1D(1)], "steps, channels"),
])
def test_bad_shapes_are_clear_errors(shape, layers, match):
    from seqc.errors import SeqcError
    model = keras.Sequential([keras.Input(shape)] + layers())
    with pytest.raises((SeqcError, ValueError), match=match):
        model.compile(optimizer="sgd", loss="mse")


def test_prelu_weights_shape_and_fused_epilogues():
    model = keras.Sequential([keras.Input((4, 5, 3)), L.Conv2D(2, 2), L.PReLU(shared_axes=[1, 2]),
                              L.Dense(4), L.ReLU(), L.Dense(3), L.LeakyReLU(0.2), L.Dense(2), L.ELU()])
    model.compile(optimizer="sgd", loss="mse")
    assert [w.shape for w in model.get_weights()][2] == (1, 1, 2)
    fused = " ".join(model._runtime.desc.fused)
    for act in ("relu", "leaky_relu", "elu"):
        assert f"with {act} epilogue" in fused


# ------------------------------------------------------------------------------------------
# the static front end (seqc compile) reads the same layers
# ------------------------------------------------------------------------------------------
SCRIPT = '''
from tensorflow import keras
from tensorflow.keras.layers import LSTM, RepeatVector, TimeDistributed, Dense, LeakyReLU, PReLU
from keras import layers

DIGITS = 3
chars = "0123456789+ "
model = keras.Sequential()
model.add(layers.Input((2 * DIGITS + 1, len(chars))))
model.add(LSTM(16))
model.add(RepeatVector(DIGITS + 1))
model.add(LSTM(16, return_sequences=True))
model.add(TimeDistributed(Dense(8)))
model.add(LeakyReLU(negative_slope=0.1))
model.add(PReLU(alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1]))
model.add(layers.ReLU(max_value=3.0, threshold=0.1))
model.add(layers.ELU(alpha=0.5))
model.add(layers.GaussianNoise(0.1, seed=2))
model.add(layers.SpatialDropout1D(0.2))
model.add(layers.ActivityRegularization(l2=0.01))
model.add(layers.Permute((2, 1)))
model.add(layers.Permute((2, 1)))
model.add(TimeDistributed(Dense(len(chars))))
model.add(layers.Softmax(axis=-1))
model.add(layers.Rescaling(2.0, offset=-1.0))
model.add(layers.Identity())
model.add(layers.ZeroPadding1D(1))
model.add(layers.Flatten())
model.add(Dense(len(chars), activation="softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
'''


def test_static_front_end_reads_the_layers(tmp_path):
    from seqc.frontend import parse_script
    from seqc.pipeline import compile_spec
    path = tmp_path / "addition.py"
    path.write_text(SCRIPT)
    spec = parse_script(str(path))
    assert [l.kind for l in spec.layers][4:] == [
        "TimeDistributed", "LeakyReLU", "PReLU", "ReLU", "ELU", "GaussianNoise", "SpatialDropout1D",
        "ActivityRegularization", "Permute", "Permute", "TimeDistributed", "Softmax", "Rescaling", "Identity",
        "ZeroPadding1D", "Flatten", "Dense"]
    assert spec.layers[16].config["scale"] == 2.0 and spec.layers[18].config["padding"] == [1, 1]
    td = spec.layers[4].config["layer"]
    assert td.kind == "Dense" and td.config["units"] == 8
    assert spec.layers[6].config["shared_axes"] == [1]
    assert spec.layers[7].config == {"max_value": 3.0, "negative_slope": 0.0, "threshold": 0.1, "trainable": True}
    desc, _, _ = compile_spec(spec)
    assert [tuple(r.output_shape) for r in desc.layers][-9:] == [(8, 4), (4, 8), (4, 12), (4, 12), (4, 12),
                                                                 (4, 12), (6, 12), (72,), (12,)]
    assert [tuple(p.shape) for p in desc.params][6:] == [(16, 8), (8,), (1, 8), (8, 12), (12,), (72, 12), (12,)]
    assert any("softmax + categorical_crossentropy: fused loss" in f for f in desc.fused)
