"""User-written layers (seqc/ops/user_layer.py): Lambda and Layer subclasses with build/call,
traced from their backend ops, against real Keras 3 (tests/golden/make_userlayer_goldens.py,
the same layer code in tests/golden/userlayer_defs.py): the forward output, five steps of SGD
and of Adam on mse; finite-difference checks of the traced backward; the errors for what
cannot be traced; both front ends."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from seqc import keras
from seqc.errors import SeqcError
from seqc.keras import layers, ops

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from userlayer_defs import define  # noqa: E402

MANIFEST = json.loads((GOLDEN / "userlayer_manifest.json").read_text())
DEFS = define(keras, layers, ops)
CASES = [k for k in MANIFEST if not k.startswith("_")]
OPTIMIZERS = {"sgd": lambda: keras.optimizers.SGD(learning_rate=0.1),
              "adam": lambda: keras.optimizers.Adam(learning_rate=0.01)}
MAX_DIFF = {}


def build(case):
    in_shape, make = DEFS[case[len("userlayer_"):]]
    return keras.Sequential([keras.Input(shape=in_shape)] + make())


def load(case, prefix):
    data = np.load(GOLDEN / f"{case}.npz")
    n = len([k for k in data.files if k.startswith(prefix + "_")])
    return [data[f"{prefix}_{i}"] for i in range(n)]


def _diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b))) if np.size(a) else 0.0


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("case", CASES)
def test_forward_and_training_equal_keras(case, opt):
    data = np.load(GOLDEN / f"{case}.npz")
    ws, trained = load(case, "w"), load(case, f"trained_{opt}")
    model = build(case)
    model.compile(optimizer=OPTIMIZERS[opt](), loss="mse")
    assert [list(w.shape) for w in model.get_weights()] == MANIFEST[case]["weight_shapes"]
    model.set_weights(ws)
    y = model.predict(data["x"], verbose=0)
    np.testing.assert_allclose(y, data["y"], rtol=1e-4, atol=1e-5)
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(5)]
    np.testing.assert_allclose(losses, data[f"losses_{opt}"], rtol=1e-4, atol=1e-6)
    got = model.get_weights()
    for g, w, w0, t in zip(got, trained, ws, MANIFEST[case]["trainable"]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
        if not t:
            assert np.array_equal(g, w0)      # trainable=False: never updated
    MAX_DIFF[(case, opt)] = (_diff(y, data["y"]), max(_diff(g, w) for g, w in zip(got, trained)))


@pytest.mark.parametrize("case", CASES)
def test_traced_backward_matches_finite_differences(case):
    """Every trainable weight's gradient (one SGD step: g = (w - w') / lr), those of the layers
    before a user layer included (they see its input gradient), against central differences."""
    data = np.load(GOLDEN / f"{case}.npz")
    ws = load(case, "w")
    x, target = data["x"], data["target"]
    model = build(case)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.set_weights(ws)
    model.train_on_batch(x, target)
    grads = [(w0.astype(np.float64) - w1) / 0.1 for w0, w1 in zip(ws, model.get_weights())]
    rng = np.random.default_rng(1)
    h, checked = 1e-3, 0
    for k, (w, t) in enumerate(zip(ws, MANIFEST[case]["trainable"])):
        if not t:
            continue
        for flat in rng.choice(w.size, size=min(w.size, 6), replace=False):
            idx = np.unravel_index(flat, w.shape)
            loss = []
            for sign in (1, -1):
                wk = [a.copy() for a in ws]
                wk[k][idx] += sign * h
                model.set_weights(wk)
                loss.append(float(model.test_on_batch(x, target)))
            fd = (loss[0] - loss[1]) / (2 * h)
            assert abs(fd - grads[k][idx]) <= 2e-2 * abs(fd) + 2e-3, (k, idx, fd, grads[k][idx])
            checked += 1
    assert checked >= 6


def test_report_max_differences(capsys):
    """Prints the largest differences to Keras measured above (run with -s to see them)."""
    if not MAX_DIFF:
        pytest.skip("the golden comparisons did not run in this session")
    with capsys.disabled():
        for (case, opt), (fwd, w) in sorted(MAX_DIFF.items()):
            print(f"\n{case:32s} {opt:5s} forward {fwd:.2e}  weights after 5 steps {w:.2e}", end="")
        print()
