"""Convolution, pooling and reshaping layers against real Keras 3.15 (tests/golden/conv_*;
made by tests/golden/make_conv_goldens.py): forward outputs, gradients w.r.t. the input and
every weight, 5 optimizer steps on small nets, and evaluate."""
import json
import os

import numpy as np
import pytest

import seqc.keras as keras
from seqc.keras import backend as K
from seqc.keras import layers as L
from seqc.keras.models import Sequential


@pytest.fixture(autouse=True, scope="module")
def shipping_flags():
    """The tutorial models' goldens run on the C as it ships (-O3), whatever the suite's
    SEQC_OPT (tests/conftest.py builds the other tests' models at -O1)."""
    saved = os.environ.get("SEQC_OPT")
    os.environ["SEQC_OPT"] = "-O3"
    yield
    if saved is None:
        os.environ.pop("SEQC_OPT", None)
    else:
        os.environ["SEQC_OPT"] = saved


HERE = os.path.join(os.path.dirname(__file__), "golden")
MANIFEST = json.load(open(os.path.join(HERE, "conv_manifest.json")))
CASES = {k: v for k, v in MANIFEST.items() if not k.startswith("_")}


def _cases(kind):
    return sorted(k for k, v in CASES.items() if v["kind"] == kind)


def _load(case):
    return np.load(os.path.join(HERE, case + ".npz"))


def _layer(d):
    cfg = {k: (tuple(v) if isinstance(v, list) and k != "padding" else v) for k, v in d["config"].items()}
    if d["class"] == "ZeroPadding2D" and isinstance(cfg.get("padding"), list):
        cfg["padding"] = tuple(tuple(p) if isinstance(p, list) else p for p in cfg["padding"])
    return getattr(L, d["class"])(**cfg)


def weighted_sum(y_true, y_pred):
    return K.sum(y_pred * y_true)


def _lifted(desc, batch):
    """Input eye(batch) -> Dense(S, no bias) -> Reshape(input shape) -> the layer under test.
    With the golden x as that Dense kernel, the layer sees x exactly, and the kernel's gradient
    is dL/dx: one compiled model checks the output, the weight gradients and dx."""
    shape = tuple(desc["model"]["input_shape"])
    size = int(np.prod(shape))
    model = Sequential([L.Input((batch,)), L.Dense(size, use_bias=False), L.Reshape(shape)]
                       + [_layer(d) for d in desc["model"]["layers"]])
    model.compile("sgd", weighted_sum)
    return model


@pytest.mark.parametrize("case", _cases("layer_forward"))
def test_layer(case):
    desc, z = CASES[case], _load(case)
    x, y, r = z["x"], z["y"], z["r"]
    batch = x.shape[0]
    model = _lifted(desc, batch)
    n_w = len([k for k in z.files if k.startswith("w_")])
    weights = [x.reshape(batch, -1)] + [z[f"w_{i}"] for i in range(n_w)]
    model.set_weights(weights)
    eye = np.eye(batch, dtype=np.float32)
    np.testing.assert_allclose(model.predict(eye, verbose=0), y, rtol=1e-4, atol=1e-5)
    eng = model._runtime._engine
    _, g = eng.gradients(eye, r.reshape(batch, -1).astype(np.float32))
    grads = [g[p.offset:p.offset + p.size].reshape(p.shape) for p in model._runtime.desc.params]
    np.testing.assert_allclose(grads[0].reshape(x.shape), z["dx"], rtol=1e-4, atol=1e-5)
    for i in range(n_w):
        np.testing.assert_allclose(grads[1 + i], z[f"dw_{i}"], rtol=1e-4, atol=2e-5 * max(1, np.abs(z[f"dw_{i}"]).max()))


def _build(desc):
    model = Sequential([L.Input(tuple(desc["model"]["input_shape"]))] + [_layer(d) for d in desc["model"]["layers"]])
    opt = desc["compile"]["optimizer"]
    model.compile(getattr(keras.optimizers, opt["class"])(**opt["config"]), desc["compile"]["loss"],
                  metrics=desc["compile"].get("metrics", []))
    return model


@pytest.mark.parametrize("case", _cases("train"))
def test_train(case):
    desc, z = CASES[case], _load(case)
    model = _build(desc)
    n_w = len([k for k in z.files if k.startswith("w0_")])
    model.set_weights([z[f"w0_{i}"] for i in range(n_w)])
    bs = desc["batch_size"]
    losses = []
    for s in range(desc["steps"]):
        losses.append(model.train_on_batch(z["x"][s * bs:(s + 1) * bs], z["y"][s * bs:(s + 1) * bs]))
        if s == 0:
            for i, w in enumerate(model.get_weights()):
                np.testing.assert_allclose(w, z[f"w1_{i}"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses, z["losses"], rtol=1e-4)
    for i, w in enumerate(model.get_weights()):
        want = z[f"w{desc['steps']}_{i}"]
        np.testing.assert_allclose(w, want, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("case", _cases("evaluate"))
def test_evaluate(case):
    desc, z = CASES[case], _load(case)
    model = _build(desc)
    model.set_weights([z[k] for k in sorted((k for k in z.files if k.startswith("w")), key=lambda k: int(k.split("_")[-1]))])
    got = model.evaluate(z["x"], z["y"], batch_size=desc["batch_size"], verbose=0, return_dict=True)
    for k, v in desc["result_dict"].items():
        assert got[k] == pytest.approx(v, rel=1e-4, abs=1e-6), k
