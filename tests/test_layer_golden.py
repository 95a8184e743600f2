"""Layer kinds added on the op registry (RepeatVector, UpSampling1D/2D, Cropping1D/2D) against
real Keras 3 (tests/golden/make_layer_goldens.py): the output for fixed weights, and five SGD
steps on mse, whose weights can only match if the layer's backward passes the right gradient
to the layers before it. Then a finite-difference check of each backward kernel."""
import json
from pathlib import Path

import golden_cases
import numpy as np
import pytest

from seqc import keras


GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "layer_manifest.json").read_text())
CASES = sorted(k for k in MANIFEST if not k.startswith("_"))


def build(desc):
    layers = [getattr(keras.layers, l["class"])(**l["config"]) for l in desc["layers"]]
    return keras.Sequential([keras.Input(shape=tuple(desc["input_shape"]))] + layers)


def load(case):
    return golden_cases.load(GOLDEN, case)


@pytest.mark.parametrize("case", CASES)
def test_forward_and_training_equal_keras(case):
    desc = MANIFEST[case]
    data, ws, trained = load(case)
    model = build(desc)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=desc["lr"]), loss="mse")
    golden_cases.assert_trains_as_keras(model, data, ws, trained, desc["steps"])


@pytest.mark.parametrize("case", CASES)
def test_backward_matches_finite_differences(case):
    """The gradient (one SGD step from the same weights: g = (w - w') / lr) of the
    weights before the layer, against central differences of the loss test_on_batch gives."""
    desc = MANIFEST[case]
    data, ws, _ = load(case)
    x = data["x"].astype(np.float64).astype(np.float32)
    target = data["target"]
    model = build(desc)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")   # one step: g = (w - w') / 0.1
    model.set_weights(ws)
    model.train_on_batch(x, target)
    grads = [(w0.astype(np.float64) - w1) / 0.1 for w0, w1 in zip(ws, model.get_weights())]
    h, checked = 1e-2, 0
    first = ws[0]          # the kernel of the layer before the one under test
    rng = np.random.default_rng(0)
    for flat in rng.choice(first.size, size=min(first.size, 24), replace=False):
        idx = np.unravel_index(flat, first.shape)
        loss = []
        for sign in (1, -1):
            w = [a.copy() for a in ws]
            w[0][idx] += sign * h
            model.set_weights(w)
            loss.append(float(model.test_on_batch(x, target)))
        fd = (loss[0] - loss[1]) / (2 * h)
        assert abs(fd - grads[0][idx]) <= 2e-2 * abs(fd) + 1e-3, (idx, fd, grads[0][idx])
        checked += 1
    assert checked >= min(first.size, 24)
