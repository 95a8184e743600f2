"""Golden reference data for BatchNormalization and LayerNormalization, from real Keras 3
(torch backend).

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_norm_goldens.py

Writes tests/golden/norm_manifest.json and tests/golden/norm_<case>.npz (deleting only
norm_*.npz first). Each case is a small model with the normalization layer between weighted
layers; weights from a fixed numpy seed (moving statistics away from their initial 0 / 1)
installed with set_weights. Stored: the inference output for a batch (`y`), then either five
train_on_batch steps (`losses`) or a `fit` (`history`, batch size with a partial last batch,
no shuffling), and all weights after training (`trained_i`: gamma, beta, moving_mean,
moving_variance in Keras's order, so the moving statistics are compared too). The inference
output of each BatchNormalization / LayerNormalization is also checked against numpy.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_common import Goldens, set_and_verify, weights_dict  # noqa: E402

import keras  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
assert keras.backend.backend() == "torch", keras.backend.backend()

OUT = Path(__file__).resolve().parent
PREFIX = "norm_"
F32 = np.float32
G = Goldens(OUT, PREFIX)


def L(cls, **config):
    return {"class": cls, "config": config}


BN, LN = "BatchNormalization", "LayerNormalization"
OPTS = {"sgd": L("SGD", learning_rate=0.1, momentum=0.9), "adam": L("Adam", learning_rate=0.01),
        "rmsprop": L("RMSprop", learning_rate=0.01)}
DENSE = ((6,), [L("Dense", units=5), L(BN), L("Dense", units=3)])
CONV2D = ((6, 6, 2), [L("Conv2D", filters=4, kernel_size=3), L(BN), L("MaxPooling2D", pool_size=2),
                      L("Flatten"), L("Dense", units=2)])
CONV1D = ((8, 3), [L("Conv1D", filters=4, kernel_size=3), L(BN), L("Flatten"), L("Dense", units=2)])


def with_norm(model, cls, **config):
    """The model with its normalization layer given these arguments."""
    shape, layers = model
    return shape, [L(cls, **config) if l["class"] == BN else l for l in layers]


# (case, (input shape, layers), optimizer, loss, how: 'steps' (5 x train_on_batch, batch 8) or 'fit')
CASES = [(f"bn_{m}_{o}", model, o, "mse", "steps")
         for m, model in (("dense", DENSE), ("conv2d", CONV2D), ("conv1d", CONV1D)) for o in OPTS]
CASES += [
    ("bn_dense_nocenter", with_norm(DENSE, BN, center=False), "sgd", "mse", "steps"),
    ("bn_dense_noscale", with_norm(DENSE, BN, scale=False), "adam", "mse", "steps"),
    ("bn_conv2d_plain", with_norm(CONV2D, BN, center=False, scale=False), "sgd", "mse", "steps"),
    ("bn_dense_args", with_norm(DENSE, BN, momentum=0.9, epsilon=0.01, axis=1,
                                gamma_initializer="random_normal", moving_variance_initializer="zeros"),
     "rmsprop", "mse", "steps"),
    ("bn_conv2d_axis3", with_norm(CONV2D, BN, axis=3), "adam", "mse", "steps"),
    ("bn_relu", ((6,), [L("Dense", units=5), L(BN), L("Activation", activation="relu"), L("Dense", units=3)]),
     "sgd", "mse", "steps"),
    ("bn_conv2d_relu", ((6, 6, 2), [L("Conv2D", filters=4, kernel_size=3, padding="same"), L(BN),
                                    L("Activation", activation="relu"), L("MaxPooling2D"),
                                    L("Conv2D", filters=3, kernel_size=3), L(BN), L("Activation", activation="tanh"),
                                    L("GlobalAveragePooling2D"), L("Dense", units=2)]), "adam", "mse", "steps"),
    ("bn_frozen", with_norm(DENSE, BN, trainable=False), "sgd", "mse", "steps"),
    ("bn_first", ((4,), [L(BN), L("Dense", units=3)]), "sgd", "mse", "steps"),
    ("bn_sigmoid_bce", ((6,), [L("Dense", units=4), L(BN), L("Activation", activation="sigmoid")]),
     "adam", "binary_crossentropy", "steps"),
    ("bn_dense_fit", DENSE, "adam", "mse", "fit"),
    ("bn_conv2d_fit", CONV2D, "sgd", "mse", "fit"),
    ("ln_dense_sgd", with_norm(DENSE, LN), "sgd", "mse", "steps"),
    ("ln_dense_adam", with_norm(DENSE, LN), "adam", "mse", "steps"),
    ("ln_conv1d", with_norm(CONV1D, LN), "rmsprop", "mse", "steps"),
    ("ln_conv2d_axis3", with_norm(CONV2D, LN, axis=3, epsilon=0.01), "sgd", "mse", "steps"),
    ("ln_nocenter", with_norm(DENSE, LN, center=False), "adam", "mse", "steps"),
    ("ln_noscale", with_norm(DENSE, LN, scale=False), "sgd", "mse", "steps"),
    ("ln_plain", with_norm(DENSE, LN, center=False, scale=False), "sgd", "mse", "steps"),
    ("ln_first", ((5,), [L(LN, gamma_initializer="random_uniform"), L("Dense", units=3)]), "adam", "mse", "steps"),
]
BATCH, STEPS, FIT_N, FIT_BATCH, FIT_EPOCHS = 8, 5, 10, 4, 2


def no_bias_before_bn(layers):
    """The layers with use_bias=False on each layer feeding a BatchNormalization (as scripts
    often write it): its bias has a zero gradient in exact arithmetic (the batch mean takes it
    away), and Adam / RMSprop turn the float rounding noise of that gradient into steps of
    the learning rate's size, different in any two implementations."""
    out = [dict(l, config=dict(l["config"])) for l in layers]
    for k in range(1, len(out)):
        if out[k]["class"] == BN and out[k - 1]["class"] in ("Dense", "Conv1D", "Conv2D"):
            out[k - 1]["config"]["use_bias"] = False
    return out


def build(input_shape, layers):
    return keras.Sequential([keras.Input(shape=input_shape)] +
                            [getattr(keras.layers, l["class"])(**l["config"]) for l in layers])


def optimizer(spec):
    return getattr(keras.optimizers, spec["class"])(**spec["config"])


def fresh_weights(model, rng):
    """Uniform weights; moving means away from 0 and moving variances in [0.5, 2]."""
    out = []
    for w in model.weights:
        name = w.path.rsplit("/", 1)[-1]
        if name == "moving_variance":
            out.append(rng.uniform(0.5, 2.0, w.shape).astype(F32))
        elif name == "gamma":
            out.append(rng.uniform(0.5, 1.5, w.shape).astype(F32))
        else:
            out.append(rng.uniform(-0.5, 0.5, w.shape).astype(F32))
    return out


def numpy_norm(layer, h):
    """The inference output of a normalization layer on its input h, in float64."""
    h = h.astype(np.float64)
    ws = {w.path.rsplit("/", 1)[-1]: np.asarray(w.numpy(), np.float64) for w in layer.weights}
    if isinstance(layer, keras.layers.BatchNormalization):
        mean, var = ws["moving_mean"], ws["moving_variance"]
    else:
        mean, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
    out = (h - mean) / np.sqrt(var + layer.epsilon)
    return out * ws.get("gamma", 1.0) + ws.get("beta", 0.0)


def check_layers(case, model, x):
    for k, layer in enumerate(model.layers):
        if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization)):
            h = x if k == 0 else keras.Sequential(
                [keras.Input(shape=x.shape[1:])] + model.layers[:k]).predict(x, verbose=0)
            got = np.asarray(layer(h, training=False).detach().cpu())
            want = numpy_norm(layer, h)
            G.check(f"{case}: layer {k} == numpy", np.allclose(got, want, rtol=1e-5, atol=1e-5),
                    f"max diff {np.abs(got - want).max()}")


def main():
    for f in OUT.glob(f"{PREFIX}*.npz"):
        f.unlink()
    for idx, (name, (in_shape, layers), opt, loss, how) in enumerate(CASES):
        case = PREFIX + name
        if opt != "sgd":
            layers = no_bias_before_bn(layers)
        rng = np.random.default_rng(9100 + idx)
        model = build(in_shape, layers)
        ws = fresh_weights(model, rng)
        set_and_verify(model, ws)
        n = FIT_N if how == "fit" else BATCH
        x = rng.normal(0.5, 1.5, (n, *in_shape)).astype(F32)
        y = model.predict(x, batch_size=n, verbose=0)
        check_layers(case, model, x)
        if loss == "binary_crossentropy":
            target = (rng.uniform(size=y.shape) > 0.5).astype(F32)
        else:
            target = rng.standard_normal(y.shape).astype(F32)
        model.compile(optimizer=optimizer(OPTS[opt]), loss=loss)
        arrays = {"x": x, "y": y, "target": target}
        desc = {"input_shape": list(in_shape), "layers": layers, "optimizer": OPTS[opt], "loss": loss}
        if how == "fit":
            hist = model.fit(x, target, batch_size=FIT_BATCH, epochs=FIT_EPOCHS, shuffle=False, verbose=0)
            arrays["history"] = np.array(hist.history["loss"], F32)
            desc.update(fit={"batch_size": FIT_BATCH, "epochs": FIT_EPOCHS, "shuffle": False})
        else:
            arrays["losses"] = np.array([float(model.train_on_batch(x, target)) for _ in range(STEPS)], F32)
            desc.update(steps=STEPS)
        arrays["y_after"] = model.predict(x, batch_size=n, verbose=0)
        arrays.update(weights_dict("w", ws))
        arrays.update(weights_dict("trained", model.get_weights()))
        desc["weights"] = [w.path.rsplit("/", 1)[-1] for w in model.weights]
        G.add_case(case, desc, arrays)
    sys.exit(G.finish({"keras": keras.__version__, "backend": keras.backend.backend(),
                       "torch": torch.__version__}, "norm_manifest.json"))


if __name__ == "__main__":
    main()
