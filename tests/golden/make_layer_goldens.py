"""Golden reference data for the layer kinds added on the op registry (RepeatVector,
UpSampling1D/2D, Cropping1D/2D), from real Keras 3 (torch backend).

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_layer_goldens.py

Writes tests/golden/layer_manifest.json and tests/golden/layer_<case>.npz (deleting only
layer_*.npz first). Each case: a small model with the layer between weighted layers, weights
from a fixed numpy seed installed with set_weights; the Keras output for a batch, and five
train_on_batch steps of SGD on mse (the losses and the final weights), which pass the gradient
through the layer's backward. Every Keras output is also checked against a numpy reference.
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
PREFIX = "layer_"
F32 = np.float32
G = Goldens(OUT, PREFIX)


def conv(rank, filters, k):
    cls = "Conv1D" if rank == 1 else "Conv2D"
    return {"class": cls, "config": {"filters": filters, "kernel_size": k}}


def head(units=2):
    return [{"class": "Flatten", "config": {}}, {"class": "Dense", "config": {"units": units}}]


# (case, input shape, layers, numpy reference of the layer under test on its input)
CASES = [
    ("repeat_vector", (6,), [{"class": "Dense", "config": {"units": 4}},
                             {"class": "RepeatVector", "config": {"n": 3}}] + head(),
     lambda h: np.repeat(h[:, None, :], 3, axis=1)),
    ("upsampling1d", (5, 3), [conv(1, 4, 2), {"class": "UpSampling1D", "config": {"size": 2}}] + head(),
     lambda h: np.repeat(h, 2, axis=1)),
    ("upsampling1d_3", (4, 2), [conv(1, 3, 1), {"class": "UpSampling1D", "config": {"size": 3}}] + head(),
     lambda h: np.repeat(h, 3, axis=1)),
    ("upsampling2d", (4, 5, 2), [conv(2, 3, 2), {"class": "UpSampling2D", "config": {"size": [2, 3]}}] + head(),
     lambda h: np.repeat(np.repeat(h, 2, axis=1), 3, axis=2)),
    ("upsampling2d_default", (3, 3, 2), [conv(2, 2, 1), {"class": "UpSampling2D", "config": {}}] + head(),
     lambda h: np.repeat(np.repeat(h, 2, axis=1), 2, axis=2)),
    ("cropping1d", (7, 3), [conv(1, 4, 2), {"class": "Cropping1D", "config": {"cropping": [1, 2]}}] + head(),
     lambda h: h[:, 1:-2]),
    ("cropping1d_default", (5, 2), [conv(1, 3, 1), {"class": "Cropping1D", "config": {}}] + head(),
     lambda h: h[:, 1:-1]),
    ("cropping2d", (6, 7, 2), [conv(2, 3, 2), {"class": "Cropping2D", "config": {"cropping": [[1, 0], [2, 1]]}}] + head(),
     lambda h: h[:, 1:, 2:-1]),
    ("cropping2d_int", (6, 6, 2), [conv(2, 2, 1), {"class": "Cropping2D", "config": {"cropping": 2}}] + head(),
     lambda h: h[:, 2:-2, 2:-2]),
]


# a smaller step where SGD(0.1) diverges (2x3 upsampling feeds a Dense of 216 inputs)
LEARNING_RATE = {"upsampling2d": 0.001}


def build(input_shape, layers):
    return keras.Sequential([keras.Input(shape=input_shape)] +
                            [getattr(keras.layers, l["class"])(**l["config"]) for l in layers])


def main():
    for f in OUT.glob(f"{PREFIX}*.npz"):
        f.unlink()
    for idx, (name, in_shape, layers, ref) in enumerate(CASES):
        case = PREFIX + name
        rng = np.random.default_rng(7000 + idx)
        model = build(in_shape, layers)
        ws = [rng.uniform(-0.5, 0.5, w.shape).astype(F32) for w in model.get_weights()]
        set_and_verify(model, ws)
        x = rng.standard_normal((3, *in_shape)).astype(F32)
        y = model.predict(x, batch_size=3, verbose=0)
        # the layer under test against numpy, on the output of the layer before it
        before = keras.Sequential([keras.Input(shape=in_shape), model.layers[0]])
        h = before.predict(x, verbose=0)
        got = model.layers[1](h)
        got = np.asarray(got.detach().cpu() if hasattr(got, "detach") else got)
        want = ref(h)
        G.check(f"{case}: layer == numpy", got.shape == want.shape and np.array_equal(got, want),
                f"{got.shape} vs {want.shape}")
        target = rng.standard_normal(y.shape).astype(F32)
        lr = LEARNING_RATE.get(name, 0.1)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
        losses = [float(model.train_on_batch(x, target)) for _ in range(5)]
        G.check(f"{case}: training stays finite", np.all(np.isfinite(losses)) and all(
            np.all(np.isfinite(w)) for w in model.get_weights()), str(losses))
        arrays = {"x": x, "y": y, "target": target, "losses": np.array(losses, F32)}
        arrays.update(weights_dict("w", ws))
        arrays.update(weights_dict("trained", model.get_weights()))
        G.add_case(case, {"input_shape": list(in_shape), "layers": layers, "batch": 3, "optimizer": f"SGD({lr})",
                          "lr": lr, "loss": "mse", "steps": 5}, arrays)
    sys.exit(G.finish({"keras": keras.__version__, "backend": keras.backend.backend(),
                       "torch": torch.__version__}, "layer_manifest.json"))


if __name__ == "__main__":
    main()
