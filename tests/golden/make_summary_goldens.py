"""The parameter lines of Keras 3's model.summary() once the optimizer is built, from real Keras 3
(torch backend): Keras counts the optimizer's variables from the first training step on.

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_summary_goldens.py

Writes tests/golden/summary_params.json: for each optimizer (by the compile arguments
tests/test_summary.py rebuilds), the 'params' lines of the summary of a Dense + BatchNormalization
model before training and after one train_on_batch step.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import keras  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summary_cases import optimizer, params_lines  # noqa: E402

OUT = Path(__file__).resolve().parent / "summary_params.json"

# (case, optimizer class, its arguments; a schedule as ["ExponentialDecay", args])
CASES = [
    ("sgd", "SGD", {}), ("sgd_momentum", "SGD", {"momentum": 0.9}), ("rmsprop", "RMSprop", {}),
    ("rmsprop_centered", "RMSprop", {"centered": True, "momentum": 0.5}), ("adagrad", "Adagrad", {}),
    ("adam", "Adam", {}), ("adam_amsgrad", "Adam", {"amsgrad": True}), ("adamw", "AdamW", {}),
    ("adam_schedule", "Adam", {"learning_rate": ["ExponentialDecay", {"initial_learning_rate": 0.01,
                                                                      "decay_steps": 10, "decay_rate": 0.9}]}),
    ("nadam", "Nadam", {}), ("adamax", "Adamax", {}), ("adadelta", "Adadelta", {}), ("ftrl", "Ftrl", {}),
    ("lion", "Lion", {}),
]


def main():
    out = {}
    for case, cls, args in CASES:
        model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
        model.compile(optimizer=optimizer(keras, cls, args), loss="mse")
        before = params_lines(model)
        model.train_on_batch(np.ones((2, 7), np.float32), np.ones((2, 3), np.float32))
        out[case] = {"optimizer": [cls, args], "before": before, "after": params_lines(model)}
    out["_meta"] = {"keras": keras.__version__, "backend": keras.backend.backend()}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(CASES)} cases written to {OUT}")


if __name__ == "__main__":
    main()
