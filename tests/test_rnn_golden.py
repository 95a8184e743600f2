"""Embedding and recurrent layers against real Keras 3.15 (tests/golden/rnn_*, made by
tests/golden/make_rnn_goldens.py): outputs and gradients, stateful calls and reset, and 5
optimizer steps (the stateful one with the state carried between batches)."""
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
MANIFEST = json.load(open(os.path.join(HERE, "rnn_manifest.json")))
CASES = {k: v for k, v in MANIFEST.items() if not k.startswith("_") and "jax" not in k}
SUPPORTED = set(L.LAYERS)   # layers seqc compiles; the others are not tested here yet


def _supported(d):
    return d["class"] in SUPPORTED


def _cases(kind):
    return sorted(k for k, v in CASES.items() if v["kind"] == kind and all(_supported(d) for d in v["model"]["layers"]))


def _load(case):
    return np.load(os.path.join(HERE, case + ".npz"))


def _layer(d, first_kwargs=None):
    cfg = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d["config"].items()}
    cfg.update(first_kwargs or {})
    return getattr(L, d["class"])(**cfg)


def weighted_sum(y_true, y_pred):
    return K.sum(y_pred * y_true)


def _grads(model, g):
    return [g[p.offset:p.offset + p.size].reshape(p.shape) for p in model._runtime.desc.params]


@pytest.mark.parametrize("case", _cases("layer_forward"))
def test_layer(case):
    desc, z = CASES[case], _load(case)
    x, y, r = z["x"], z["y"], z["r"]
    n_w = len([k for k in z.files if k.startswith("w_")])
    batch = x.shape[0]
    layers = [_layer(d) for d in desc["model"]["layers"]]
    integer = desc["model"].get("input_dtype", "").startswith("int")
    if integer:          # indices: check the output and the weight gradients
        model = Sequential([L.Input(tuple(desc["model"]["input_shape"]))] + layers)
        weights, inputs = [z[f"w_{i}"] for i in range(n_w)], x
    else:                # eye(batch) -> Dense(no bias) -> Reshape: the first kernel's gradient is dx
        shape = tuple(desc["model"]["input_shape"])
        model = Sequential([L.Input((batch,)), L.Dense(int(np.prod(shape)), use_bias=False), L.Reshape(shape)] + layers)
        weights = [x.reshape(batch, -1)] + [z[f"w_{i}"] for i in range(n_w)]
        inputs = np.eye(batch, dtype=np.float32)
    model.compile("sgd", weighted_sum)
    model.set_weights(weights)
    np.testing.assert_allclose(model.predict(inputs, verbose=0), y, rtol=1e-4, atol=1e-5)
    _, g = model._runtime._engine.gradients(inputs.astype(np.float32), r.reshape(batch, -1).astype(np.float32))
    grads = _grads(model, g)
    if not integer:
        np.testing.assert_allclose(grads[0].reshape(x.shape), z["dx"], rtol=1e-4, atol=1e-5)
        grads = grads[1:]
    for i in range(n_w):
        want = z[f"dw_{i}"]
        np.testing.assert_allclose(grads[i], want, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(want).max()))


def _stateful_model(desc):
    batch_shape = tuple(desc["model"]["batch_shape"])
    layers = [_layer(d, {"batch_input_shape": batch_shape} if i == 0 else None)
              for i, d in enumerate(desc["model"]["layers"])]
    return Sequential(layers)


@pytest.mark.parametrize("case", _cases("stateful"))
def test_stateful_calls_and_reset(case):
    desc, z = CASES[case], _load(case)
    model = _stateful_model(desc)
    model.compile("sgd", "mse")
    n_w = len([k for k in z.files if k.startswith("w_")])
    model.set_weights([z[f"w_{i}"] for i in range(n_w)])
    for k in (1, 2, 3):
        np.testing.assert_allclose(model.predict(z[f"x{k}"], verbose=0), z[f"y{k}"], rtol=1e-4, atol=1e-5)
    model.reset_states()
    np.testing.assert_allclose(model.predict(z["x1"], verbose=0), z["y4"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", _cases("train"))
def test_train(case):
    desc, z = CASES[case], _load(case)
    if desc.get("stateful"):
        model = _stateful_model(desc)
    else:
        model = Sequential([L.Input(tuple(desc["model"]["input_shape"]))] + [_layer(d) for d in desc["model"]["layers"]])
    opt = desc["compile"]["optimizer"]
    model.compile(getattr(keras.optimizers, opt["class"])(**opt["config"]), desc["compile"]["loss"],
                  metrics=desc["compile"].get("metrics", []))
    n_w = len([k for k in z.files if k.startswith("w0_")])
    model.set_weights([z[f"w0_{i}"] for i in range(n_w)])
    bs = desc["batch_size"]
    losses = []
    for s in range(desc["steps"]):
        out = model.train_on_batch(z["x"][s * bs:(s + 1) * bs], z["y"][s * bs:(s + 1) * bs], return_dict=True)
        losses.append(out["loss"])
    np.testing.assert_allclose(losses, z["losses"], rtol=1e-4)
    for i, w in enumerate(model.get_weights()):
        want = z[f"w{desc['steps']}_{i}"]
        np.testing.assert_allclose(w, want, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(want).max()))
