"""Transposed, depthwise and separable convolutions and bilinear upsampling against real Keras
3 (tests/golden/convx_*, made by tests/golden/make_convx_goldens.py): for each case, the output
and the gradients of sum(y * r) with respect to the input and every weight, then five
train_on_batch steps of SGD and of Adam from the same weights (losses and final weights)."""
import json
from pathlib import Path

import numpy as np
import pytest

from seqc import keras
from seqc.keras import backend as K
from seqc.keras import layers as L

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "convx_manifest.json").read_text())
CASES = sorted(k for k in MANIFEST if not k.startswith("_"))
MAX_DIFF = {}        # (case, what) -> max abs difference, printed by the last test


def _layers(desc):
    return [getattr(L, l["class"])(**l["config"]) for l in desc["layers"]]


def weighted_sum(y_true, y_pred):
    return K.sum(y_pred * y_true)


def load(case):
    data = np.load(GOLDEN / f"{case}.npz")
    n = len([k for k in data.files if k.startswith("w_")])
    return data, n


def _close(case, what, got, want, rtol, atol):
    if np.size(want):
        d = float(np.abs(np.asarray(got, np.float64) - want).max())
        MAX_DIFF[(case, what)] = (d, d / max(float(np.abs(want).max()), 1e-30))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{case}: {what}")


@pytest.mark.parametrize("case", CASES)
def test_forward_and_gradients_equal_keras(case):
    """The model lifted behind Input(batch) -> Dense(size, no bias) -> Reshape: with x as that
    kernel the model sees x exactly, and the kernel's gradient is dL/dx."""
    desc = MANIFEST[case]
    data, n = load(case)
    x, r = data["x"], data["r"]
    batch = x.shape[0]
    shape = tuple(desc["input_shape"])
    model = keras.Sequential([L.Input((batch,)), L.Dense(int(np.prod(shape)), use_bias=False), L.Reshape(shape)]
                             + _layers(desc))
    model.compile("sgd", weighted_sum)
    model.set_weights([x.reshape(batch, -1)] + [data[f"w_{i}"] for i in range(n)])
    eye = np.eye(batch, dtype=np.float32)
    _close(case, "forward", model.predict(eye, verbose=0), data["y"], 1e-4, 1e-5)
    eng = model._runtime._engine
    _, g = eng.gradients(eye, r.reshape(batch, -1))
    grads = [g[p.offset:p.offset + p.size].reshape(p.shape) for p in model._runtime.desc.params]
    _close(case, "dx", grads[0].reshape(x.shape), data["dx"], 1e-4, 1e-5)
    for i in range(n):
        want = data[f"dw_{i}"]
        _close(case, f"dw_{i}", grads[1 + i], want, 1e-4, 2e-5 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("case", CASES)
def test_training_equals_keras(case, opt):
    desc = MANIFEST[case]
    data, n = load(case)
    model = keras.Sequential([L.Input(tuple(desc["input_shape"]))] + _layers(desc))
    o = desc["optimizers"][opt]
    model.compile(getattr(keras.optimizers, o["class"])(**o["config"]), desc["loss"])
    model.set_weights([data[f"w_{i}"] for i in range(n)])
    assert [w.shape for w in model.get_weights()] == [data[f"w_{i}"].shape for i in range(n)]
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(desc["steps"])]
    _close(case, f"{opt} losses", losses, data[f"{opt}_losses"], 1e-4, 1e-6)
    for i, w in enumerate(model.get_weights()):
        want = data[f"{opt}_{i}"]
        _close(case, f"{opt} weights", w, want, 1e-4, 1e-5 * max(1.0, np.abs(want).max()))


def golden_summary():
    """The largest difference seen per kind of comparison (printed after the run by
    tests/conftest.py), or '' when no case ran in this process."""
    if not MAX_DIFF:
        return ""
    lines = []
    kinds = {}
    for (case, what), (d, rel) in MAX_DIFF.items():
        key = what.split("_")[0] if what.startswith("dw") else what
        if d >= kinds.get(key, (-1, 0, ""))[0]:
            kinds[key] = (d, rel, case)
    for key, (d, rel, case) in sorted(kinds.items()):
        lines.append(f"convx max |seqc - keras| {key:<14} {d:.3g} ({rel:.2g} of the largest value; {case})")
    return "\n".join(lines)
