"""Golden reference data for the activation, noise and shape layers of issue 10 (ReLU,
LeakyReLU, PReLU, ELU, Softmax, GaussianNoise, GaussianDropout, AlphaDropout,
SpatialDropout1D/2D, ActivityRegularization, Dense on 3-D inputs, TimeDistributed, Permute and
a seq2seq-addition-style model; then Rescaling, Identity and ZeroPadding1D), from real Keras 3
(torch backend).

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_actlayers_goldens.py

Writes tests/golden/actlayers_manifest.json and tests/golden/actlayers_<case>.npz (deleting
only actlayers_*.npz first). Each case: a small model, weights from a fixed numpy seed
installed with set_weights; the Keras output for a batch; unless the case is random in
training (the noise layers: only their inference output, the identity, is compared), five
train_on_batch steps with SGD and with Adam from the same weights (losses and final weights),
and the loss test_on_batch reports before training (ActivityRegularization adds its penalty
there too). Layers are described as data: {"class", "config"}, a TimeDistributed's
"layer" a nested description.
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
PREFIX = "actlayers_"
F32 = np.float32
G = Goldens(OUT, PREFIX)
OPTIMIZERS = {"sgd": ("SGD", {"learning_rate": 0.1}), "adam": ("Adam", {"learning_rate": 0.01})}


def L(cls, **config):
    return {"class": cls, "config": config}


def dense(units, **kw):
    return L("Dense", units=units, **kw)


def make_layer(desc):
    cfg = dict(desc["config"])
    if desc["class"] == "TimeDistributed":
        cfg["layer"] = make_layer(cfg["layer"])
    return getattr(keras.layers, desc["class"])(**cfg)


HEAD = [L("Flatten"), dense(3)]
# (case, input shape, layers, loss, random in training)
CASES = [
    ("relu_all_args", (6,), [dense(8), L("ReLU", max_value=0.6, negative_slope=0.1, threshold=0.2), dense(3)],
     "mse", False),
    ("relu_threshold", (6,), [dense(8), L("ReLU", threshold=0.3), dense(3)], "mse", False),
    ("relu_slope", (6,), [dense(8), L("ReLU", negative_slope=0.25), dense(3)], "mse", False),
    ("relu_cap", (6,), [dense(8), L("ReLU", max_value=0.5), dense(3)], "mse", False),
    ("relu_max6", (6,), [dense(8), L("ReLU", max_value=6.0), dense(3)], "mse", False),
    ("relu_default", (6,), [dense(8), L("ReLU"), dense(3)], "mse", False),
    ("leaky_relu_default", (6,), [dense(8), L("LeakyReLU"), dense(3)], "mse", False),
    ("leaky_relu_0_1", (6,), [dense(8), L("LeakyReLU", negative_slope=0.1), dense(3)], "mse", False),
    ("elu_0_5", (6,), [dense(8), L("ELU", alpha=0.5), dense(3)], "mse", False),
    ("elu_default", (4, 3), [dense(5), L("ELU")] + HEAD, "mse", False),
    ("prelu", (6,), [dense(8), L("PReLU"), dense(3)], "mse", False),
    ("prelu_3d", (4, 3), [dense(5), L("PReLU")] + HEAD, "mse", False),
    ("prelu_shared_1", (4, 3), [dense(5), L("PReLU", shared_axes=[1])] + HEAD, "mse", False),
    ("prelu_conv_shared_12", (5, 5, 2), [L("Conv2D", filters=3, kernel_size=2),
                                         L("PReLU", shared_axes=[1, 2])] + HEAD, "mse", False),
    ("softmax_2d", (6,), [dense(5), L("Softmax"), dense(3)], "mse", False),
    ("softmax_3d", (4, 3), [dense(5), L("Softmax", axis=-1)] + HEAD, "mse", False),
    # no bias before a softmax over an axis the bias is constant along: its gradient is 0 up to
    # rounding, which Adam would turn into steps of noise
    ("softmax_axis1", (4, 3), [dense(5, use_bias=False), L("Softmax", axis=1)] + HEAD, "mse", False),
    ("softmax_axis_m3_4d", (3, 4, 2), [L("Conv2D", filters=3, kernel_size=2, padding="same", use_bias=False),
                                       L("Softmax", axis=-3)] + HEAD, "mse", False),
    ("softmax_cce", (6,), [dense(8, activation="tanh"), dense(4), L("Softmax")], "categorical_crossentropy",
     False),
    ("activity_reg", (6,), [dense(8, activation="tanh"), L("ActivityRegularization", l1=0.01, l2=0.02), dense(3)],
     "mse", False),
    ("activity_reg_l2_3d", (4, 3), [dense(5), L("ActivityRegularization", l2=0.05)] + HEAD, "mse", False),
    ("gaussian_noise", (6,), [dense(8), L("GaussianNoise", stddev=0.5, seed=3), dense(3)], "mse", True),
    ("gaussian_dropout", (6,), [dense(8), L("GaussianDropout", rate=0.3), dense(3)], "mse", True),
    ("alpha_dropout", (6,), [dense(8, activation="selu"), L("AlphaDropout", rate=0.2), dense(3)], "mse", True),
    ("spatial_dropout1d", (5, 3), [L("Conv1D", filters=4, kernel_size=2), L("SpatialDropout1D", rate=0.3)] + HEAD,
     "mse", True),
    ("spatial_dropout2d", (5, 5, 2), [L("Conv2D", filters=3, kernel_size=2), L("SpatialDropout2D", rate=0.4)]
     + HEAD, "mse", True),
    ("dense_3d", (4, 3), [dense(5, activation="tanh"), dense(2)], "mse", False),
    ("dense_4d", (2, 3, 4), [dense(5, activation="relu"), dense(2, activation="sigmoid")] + HEAD, "mse", False),
    ("td_dense", (4, 3), [L("TimeDistributed", layer=dense(5, activation="relu")), dense(2)], "mse", False),
    ("td_conv2d_flatten", (3, 6, 6, 2), [L("TimeDistributed", layer=L("Conv2D", filters=3, kernel_size=3,
                                                                         activation="tanh")),
                                         L("TimeDistributed", layer=L("MaxPooling2D")),
                                         L("TimeDistributed", layer=L("Flatten")),
                                         L("TimeDistributed", layer=dense(4))] + HEAD, "mse", False),
    ("td_conv1d", (3, 7, 2), [L("TimeDistributed", layer=L("Conv1D", filters=3, kernel_size=2)),
                              L("TimeDistributed", layer=L("AveragePooling1D", pool_size=2))] + HEAD, "mse", False),
    ("td_lstm", (3, 5, 2), [L("TimeDistributed", layer=L("LSTM", units=4)),
                            L("TimeDistributed", layer=L("Dropout", rate=0.0))] + HEAD, "mse", False),
    ("td_gru_sequences", (2, 4, 3), [L("TimeDistributed", layer=L("GRU", units=3, return_sequences=True))] + HEAD,
     "mse", False),
    ("permute_2d", (4, 3), [dense(5), L("Permute", dims=[2, 1])] + HEAD, "mse", False),
    ("permute_3d", (4, 5, 2), [L("Conv2D", filters=3, kernel_size=2), L("Permute", dims=[3, 1, 2]),
                               L("Conv2D", filters=2, kernel_size=2)] + HEAD, "mse", False),
    ("seq2seq_addition", (7, 12), [L("LSTM", units=16), L("RepeatVector", n=4),
                                   L("LSTM", units=16, return_sequences=True),
                                   L("TimeDistributed", layer=dense(12, activation="softmax"))],
     "categorical_crossentropy", False),
    # scaling, pass-through and 1-D padding (seqc/keras/prep_layers.py)
    ("rescaling_scalar", (6, 5, 3), [L("Rescaling", scale=0.4, offset=-0.25),
                                     L("Conv2D", filters=2, kernel_size=2)] + HEAD, "mse", False),
    ("rescaling_per_channel", (4, 3), [dense(3), L("Rescaling", scale=[0.5, 2.0, -1.0], offset=[0.1, 0.0, 0.3])]
     + HEAD, "mse", False),
    ("rescaling_scale_list_offset_scalar", (5,), [dense(4), L("Rescaling", scale=[0.5, 2.0, -1.0, 3.0], offset=0.25),
                                                  dense(3)], "mse", False),
    ("identity", (6,), [dense(8, activation="tanh"), L("Identity"), dense(3)], "mse", False),
    ("zero_padding1d", (7, 3), [L("ZeroPadding1D", padding=[1, 2]), L("Conv1D", filters=2, kernel_size=3)] + HEAD,
     "mse", False),
    ("zero_padding1d_int_after_conv", (5, 2), [L("Conv1D", filters=3, kernel_size=2), L("ZeroPadding1D", padding=2),
                                               L("Conv1D", filters=2, kernel_size=2)] + HEAD, "mse", False),
]


def build(input_shape, layers):
    return keras.Sequential([keras.Input(shape=input_shape)] + [make_layer(l) for l in layers])


def targets(rng, shape, loss):
    if loss == "categorical_crossentropy":
        return np.eye(shape[-1], dtype=F32)[rng.integers(0, shape[-1], shape[:-1])]
    return rng.standard_normal(shape).astype(F32)


def main():
    for f in OUT.glob(f"{PREFIX}*.npz"):
        f.unlink()
    for idx, (name, in_shape, layers, loss, random) in enumerate(CASES):
        case = PREFIX + name
        rng = np.random.default_rng(9100 + idx)
        model = build(in_shape, layers)
        ws = [rng.uniform(-0.5, 0.5, w.shape).astype(F32) for w in model.get_weights()]
        set_and_verify(model, ws)
        x = rng.standard_normal((4, *in_shape)).astype(F32)
        y = model.predict(x, batch_size=4, verbose=0)
        target = targets(rng, y.shape, loss)
        arrays = {"x": x, "y": y, "target": target}
        arrays.update(weights_dict("w", ws))
        if random:    # at inference the noise layer is the identity: the model without it agrees
            plain = build(in_shape, [l for l in layers if l["class"] not in NOISE])
            set_and_verify(plain, ws)
            G.check(f"{case}: identity at inference", np.array_equal(plain.predict(x, verbose=0), y))
        else:
            for opt, (cls, cfg) in OPTIMIZERS.items():
                model = build(in_shape, layers)
                set_and_verify(model, ws)
                model.compile(optimizer=getattr(keras.optimizers, cls)(**cfg), loss=loss)
                arrays[f"eval_{opt}"] = np.array(float(model.test_on_batch(x, target)), F32)
                losses = [float(model.train_on_batch(x, target)) for _ in range(5)]
                arrays[f"losses_{opt}"] = np.array(losses, F32)
                arrays.update(weights_dict(f"trained_{opt}", model.get_weights()))
                G.check(f"{case}/{opt}: finite", np.all(np.isfinite(losses)))
        G.add_case(case, {"input_shape": list(in_shape), "layers": layers, "batch": 4, "loss": loss,
                          "optimizers": {} if random else {k: {"class": c, "config": v}
                                                           for k, (c, v) in OPTIMIZERS.items()},
                          "steps": 0 if random else 5, "random": random}, arrays)
    sys.exit(G.finish({"keras": keras.__version__, "backend": keras.backend.backend(),
                       "torch": torch.__version__}, "actlayers_manifest.json"))


NOISE = {"GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D", "SpatialDropout2D"}

if __name__ == "__main__":
    main()
