"""Golden reference data for user-written layers (Lambda and Layer subclasses with build/call,
seqc/ops/user_layer.py), from real Keras 3 (torch backend).

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_userlayer_goldens.py

The layers are defined once in userlayer_defs.py, for real Keras here and for seqc.keras in
tests/test_user_layers.py. Writes tests/golden/userlayer_manifest.json and
tests/golden/userlayer_<case>.npz (deleting only userlayer_*.npz first). Each case: weights from
a fixed numpy seed installed with set_weights (get_weights order: Keras's), the output for a
batch, and five train_on_batch steps on mse with SGD and with Adam (losses, final weights).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_common import Goldens, set_and_verify, weights_dict  # noqa: E402
from userlayer_defs import define  # noqa: E402

import keras  # noqa: E402
import torch  # noqa: E402
from keras import layers, ops  # noqa: E402

torch.set_num_threads(1)
assert keras.backend.backend() == "torch", keras.backend.backend()

OUT = Path(__file__).resolve().parent
PREFIX = "userlayer_"
F32 = np.float32
G = Goldens(OUT, PREFIX)
OPTIMIZERS = {"sgd": lambda: keras.optimizers.SGD(learning_rate=0.1),
              "adam": lambda: keras.optimizers.Adam(learning_rate=0.01)}


def build(in_shape, make):
    return keras.Sequential([keras.Input(shape=in_shape)] + make())


def main():
    for f in OUT.glob(f"{PREFIX}*.npz"):
        f.unlink()
    cases = define(keras, layers, ops)
    for idx, (name, (in_shape, make)) in enumerate(cases.items()):
        case = PREFIX + name
        rng = np.random.default_rng(9100 + idx)
        model = build(in_shape, make)
        ws = [rng.uniform(-0.5, 0.5, w.shape).astype(F32) for w in model.get_weights()]
        set_and_verify(model, ws)
        x = rng.standard_normal((4, *in_shape)).astype(F32)
        y = model.predict(x, batch_size=4, verbose=0)
        target = rng.standard_normal(y.shape).astype(F32)
        arrays = {"x": x, "y": y, "target": target}
        arrays.update(weights_dict("w", ws))
        trainable = [any(w is v for v in model.trainable_weights) for w in model.weights]
        for opt, make_opt in OPTIMIZERS.items():
            m = build(in_shape, make)
            set_and_verify(m, ws)
            m.compile(optimizer=make_opt(), loss="mse")
            losses = [float(m.train_on_batch(x, target)) for _ in range(5)]
            arrays[f"losses_{opt}"] = np.array(losses, F32)
            arrays.update(weights_dict(f"trained_{opt}", m.get_weights()))
            for w0, w1, t in zip(ws, m.get_weights(), trainable):
                G.check(f"{case} {opt}: non-trainable weights unchanged", t or np.array_equal(w0, w1))
        G.add_case(case, {"input_shape": list(in_shape), "batch": 4, "loss": "mse", "steps": 5,
                          "optimizers": {"sgd": "SGD(0.1)", "adam": "Adam(0.01)"},
                          "weight_shapes": [list(w.shape) for w in ws], "trainable": trainable}, arrays)
    sys.exit(G.finish({"keras": keras.__version__, "backend": keras.backend.backend(),
                       "torch": torch.__version__}, "userlayer_manifest.json"))


if __name__ == "__main__":
    main()
