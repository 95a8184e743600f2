"""Finite-difference checks of every backward kernel seqc generates.

For each small model, `engine.gradients(x, y)` (the C backward, float32) is compared with
central differences of the loss the same engine computes, one parameter at a time. A
parameter is skipped when its +-h perturbation would move a pre-activation across a kink
of its activation (relu at 0, hard_sigmoid at +-3, a sparsemax support change, ...) or the
loss across one of its kinks (|y_pred - y_true| = 0 for mae, ...): a numpy replica of the
model (seqc.activations references, float64) decides; at least half of the parameters must
remain. Kinks aside, the losses and data are chosen well-conditioned for float32.

Models that also appear in test_golden.py are built identically (same names, no source
location), so within one session their libraries come from the build cache.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from model_cache import ModelCache, selected_keys

import seqc.activations as A
from seqc import keras
from seqc.keras import backend as K

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())

H = 1e-2          # finite-difference step
RTOL, ATOL = 2e-2, 1e-3


# ------------------------------------------------------------------------------------------
# model descriptions: ("dense", units, act, use_bias) | ("act", name) | ("dropout", rate, seed)
# ------------------------------------------------------------------------------------------
def act_loss(y_true, y_pred):
    """sum(y_pred * y_true): the same loss test_golden.py uses for the activation cases."""
    return K.sum(y_pred * y_true)


def custom_scalar_loss(y_true, y_pred):
    """A custom loss returning one scalar per batch, mixing reductions and broadcasting."""
    d = y_pred - y_true
    return K.mean(K.sum(K.square(d), axis=-1)) + 0.1 * K.sum(K.exp(-K.square(y_pred))) / 8.0 \
        + K.max(K.mean(d, axis=0))


def _finish(model, **compile_kwargs):
    model.loc = None          # C source independent of this file: shared cache with test_golden
    model.compile(**compile_kwargs)
    return model


def _seq(name, input_shape, layers):
    objs = []
    for i, l in enumerate(layers):
        kw = {"input_shape": input_shape} if i == 0 else {}
        if l[0] == "dense":
            objs.append(keras.layers.Dense(l[1], activation=l[2], use_bias=l[3], name=f"dense_{i}", **kw))
        elif l[0] == "act":
            objs.append(keras.layers.Activation(l[1], name=f"act_{i}", **kw))
        elif l[0] == "dropout":
            objs.append(keras.layers.Dropout(l[1], seed=l[2], name=f"dropout_{i}", **kw))
    return keras.Sequential(objs, name=name)


# golden-identical builders (see test_golden.py) --------------------------------------------
def lifted_layers(act):
    return [("dense", 5, "linear", False), ("dense", 6, act, True)]


def build_lifted(act):
    model = keras.Sequential([
        keras.layers.Dense(5, activation="linear", use_bias=False, input_shape=(8,), name="lift"),
        keras.layers.Dense(6, activation=act, name="golden"),
    ], name=f"lifted_{act}")
    return _finish(model, optimizer=keras.optimizers.SGD(0.1), loss=act_loss)


def _golden_custom_loss(source):
    ns = {"keras": keras}
    exec(source, ns)
    return [v for k, v in ns.items() if callable(v) and not k.startswith("__") and k != "keras"][0]


def golden_layers(case):
    return [("dense", l["config"]["units"], l["config"]["activation"], l["config"]["use_bias"])
            for l in MANIFEST[case]["model"]["layers"]]


def build_golden(case):
    c = MANIFEST[case]
    layers = []
    for i, l in enumerate(c["model"]["layers"]):
        cfg = l["config"]
        kw = {"input_shape": tuple(c["model"]["input_shape"])} if i == 0 else {}
        layers.append(keras.layers.Dense(cfg["units"], activation=cfg["activation"], use_bias=cfg["use_bias"],
                                         name=f"dense_{i}", **kw))
    model = keras.Sequential(layers, name=f"golden_{case}")
    comp = c["compile"]
    opt = comp["optimizer"]
    loss = _golden_custom_loss(c["loss_source"]) if c["kind"] == "custom_loss" else comp["loss"]
    return _finish(model, optimizer=getattr(keras.optimizers, opt["class"])(**opt["config"]), loss=loss,
                   metrics=list(comp["metrics"]))


# the models of this file ---------------------------------------------------------------------
L = keras.losses
OWN = {
    # name: (input_shape, layers, loss factory, label kind)
    "gc_softmax_mse": ((5,), [("dense", 6, "tanh", True), ("dense", 4, "softmax", True)], lambda: "mse", "float"),
    "gc_bce_logits": ((5,), [("dense", 6, "elu", True), ("dense", 3, "linear", True)],
                      lambda: L.BinaryCrossentropy(from_logits=True), "binary"),
    "gc_cce_logits": ((5,), [("dense", 6, "softplus", True), ("dense", 4, "linear", True)],
                      lambda: L.CategoricalCrossentropy(from_logits=True), "soft"),
    "gc_scce_logits": ((5,), [("dense", 6, "gelu", True), ("dense", 4, "linear", True)],
                       lambda: L.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
    "gc_cce_smoothing": ((5,), [("dense", 6, "tanh", True), ("dense", 4, "softmax", True)],
                         lambda: L.CategoricalCrossentropy(label_smoothing=0.1), "onehot"),
    "gc_bce_smoothing": ((5,), [("dense", 6, "sigmoid", True), ("dense", 3, "sigmoid", True)],
                         lambda: L.BinaryCrossentropy(label_smoothing=0.2), "binary"),
    "gc_huber": ((5,), [("dense", 6, "silu", True), ("dense", 3, "linear", True)],
                 lambda: L.Huber(delta=0.5), "float"),
    "gc_hinge": ((5,), [("dense", 6, "tanh", True), ("dense", 3, "tanh", True)], lambda: "hinge", "binary"),
    "gc_custom_scalar": ((5,), [("dense", 6, "mish", True), ("dense", 3, "linear", True)],
                         lambda: custom_scalar_loss, "float"),
    "gc_activation_layers": ((5,), [("dense", 8, "linear", True), ("act", "tanh"), ("act", "sigmoid"),
                                    ("dense", 8, "linear", True), ("act", "glu"),
                                    ("dense", 6, "linear", False), ("act", "log_softmax"),
                                    ("dense", 5, "linear", True), ("act", "sparsemax")], lambda: "mse", "float"),
    "gc_dropout": ((6,), [("dense", 8, "tanh", True), ("dropout", 0.3, 7), ("dense", 5, "gelu", False),
                          ("dropout", 0.5, None), ("dense", 2, "linear", True)], lambda: "mse", "float"),
    "gc_3d_mse": ((3, 4), [("dense", 6, "tanh", True), ("dense", 2, "linear", True)], lambda: "mse", "float"),
    "gc_3d_cce": ((3, 4), [("dense", 5, "softsign", True), ("dense", 4, "softmax", True)],
                  lambda: "categorical_crossentropy", "onehot"),
    "gc_3d_sigmoid_bce": ((3, 4), [("dense", 5, "selu", True), ("dense", 2, "sigmoid", True)],
                          lambda: "binary_crossentropy", "binary"),
}


def build_own(name):
    shape, layers, loss, _ = OWN[name]
    return _finish(_seq(name, shape, layers), optimizer=keras.optimizers.SGD(0.1), loss=loss())


GOLDEN_CASES = {  # golden model -> label kind
    "train_sgd_cce": "onehot", "train_sgd_bce": "binary", "train_sgd_momentum_scce": "sparse",
    "train_sgd_momentum_cce_soft": "soft", "train_sgd_momentum_bce_multilabel": "binary",
    "train_sgd_mse": "float", "train_sgd_momentum_mae": "float", "custom_loss_sgd": "float",
}
ACTS = sorted({A.get(n).name for n in A.KERAS_NAMES})


def _builder(key):
    kind, name = key
    return {"lifted": build_lifted, "golden": build_golden, "own": build_own}[kind](name)




# models used by tests that are not parametrized by model
_FIXED_KEYS = {"test_dropout_training_mode": [("own", "gc_dropout")],
               "test_dropout_inference_mode_gradients": [("own", "gc_dropout")],
               "test_mse_on_3d_output_gradient": [("own", "gc_3d_mse")],
               "test_gradients_match_train_step": [("own", "gc_cce_logits")]}


def _keys_of(item):
    params = getattr(getattr(item, "callspec", None), "params", {})
    keys = list(_FIXED_KEYS.get(item.originalname, ()))
    if "act" in params:
        keys.append(("lifted", params["act"]))
    if "case" in params:
        keys.append(("golden", params["case"]))
    if "name" in params:
        keys.append(("own", params["name"]))
    return keys


CACHE = ModelCache(_builder)


@pytest.fixture(scope="module", autouse=True)
def _prebuild(request):
    """Compile the models the selected tests need, in parallel (most are build-cache hits when
    test_golden.py ran first in the session). Failures are re-raised by the tests."""
    CACHE.prebuild(selected_keys(request, _keys_of))
    yield
    CACHE.clear()


def model_for(key):
    return CACHE.get(key)


# ------------------------------------------------------------------------------------------
# numpy replica (float64): pre-activation "regions" for kink detection
# ------------------------------------------------------------------------------------------
def _regions(layers, params, desc, x, loss_kink=None, y=None):
    """A tuple of integer arrays that changes iff some activation input crosses a kink
    (or, for rowwise sparsemax, the support changes), plus the loss's own kink pattern."""
    offs = [(p.offset, p.shape) for p in desc.params]
    k = 0
    h = x.astype(np.float64)
    out = []

    def act(name, z):
        a = A.get(name)
        if a.kind == "elementwise":
            if a.kinks:
                out.append(np.searchsorted(np.array(a.kinks), z))
        elif a.name == "sparsemax":   # Keras's sparsemax jumps when its sorted support changes
            support, order, _, _ = A._sparsemax_parts(z)
            out.extend([support, order, a.reference(z) > 0])
        return a.reference(z)

    for l in layers:
        if l[0] == "dense":
            (o, s) = offs[k]
            W = params[o:o + int(np.prod(s))].reshape(s).astype(np.float64)
            k += 1
            z = h @ W
            if l[3]:
                (o, s) = offs[k]
                z = z + params[o:o + s[0]].astype(np.float64)
                k += 1
            h = act(l[2], z)
        elif l[0] == "act":
            h = act(l[1], h)
        elif l[0] == "dropout":
            pass        # only used with smooth activations after it
    if loss_kink is not None:
        out.append(loss_kink(y.astype(np.float64), h))
    return out


def _same(r1, r2):
    return all(np.array_equal(a, b) for a, b in zip(r1, r2))


def gradcheck(model, x, y, layers=None, loss_kink=None, training=False, h=H, rtol=RTOL, atol=ATOL,
              min_checked=0.5):
    """Compare engine.gradients with central differences; returns (max abs err, n checked)."""
    eng = model._runtime._engine
    desc = model._runtime.desc
    x = np.ascontiguousarray(x, np.float32)
    y = np.ascontiguousarray(y, np.float32)
    p0 = eng.params.copy()
    loss0, g = eng.gradients(x, y, training)
    assert np.isfinite(loss0) and np.all(np.isfinite(g))
    base = _regions(layers, p0, desc, x, loss_kink, y) if layers is not None else None
    num = np.full(g.shape, np.nan)
    for i in range(len(p0)):
        vals = []
        for sgn in (1, -1):
            eng.params[i] = p0[i] + sgn * h
            if base is not None and not _same(base, _regions(layers, eng.params, desc, x, loss_kink, y)):
                vals = None
                break
            vals.append((float(eng.params[i]), eng.gradients(x, y, training)[0]))
        eng.params[i] = p0[i]
        if vals:
            (pp, lp), (pm, lm) = vals
            num[i] = (lp - lm) / (pp - pm)
    eng.params[:] = p0
    loss1, g1 = eng.gradients(x, y, training)
    assert loss1 == loss0 and np.array_equal(g, g1), "gradients() is not repeatable"
    ok = ~np.isnan(num)
    assert ok.mean() >= min_checked, f"only {ok.sum()} of {ok.size} parameters away from kinks"
    err = np.abs(g[ok] - num[ok])
    # float32 rounding of the loss, amplified by 1/(2h), on top of the tolerances
    noise = 32 * 2.0 ** -24 * max(1.0, abs(loss0)) / h
    bad = err > atol + noise + rtol * np.abs(num[ok])
    if bad.any():
        idx = np.flatnonzero(ok)[bad]
        names = []
        for i in idx[:8]:
            p = next(p for p in desc.params if p.offset <= i < p.offset + p.size)
            names.append(f"{p['name']}[{i - p['offset']}]: C {g[i]:.6g} vs fd {num[i]:.6g}")
        raise AssertionError(f"{bad.sum()} of {ok.sum()} gradients differ from finite differences:\n  "
                             + "\n  ".join(names))
    return float(err.max()), int(ok.sum())


# ------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------
def _set_random_weights(model, rng, scale=0.6):
    ws = [rng.normal(0, scale, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(ws)
    return ws


def _labels(kind, rng, shape):
    """Labels of per-sample `shape` (the model output's) for a label kind."""
    if kind == "float":
        return rng.normal(0, 1, shape).astype(np.float32)
    if kind == "binary":
        return (rng.uniform(size=shape) < 0.5).astype(np.float32)
    if kind == "soft":
        return rng.uniform(size=shape).astype(np.float32)
    n = shape[-1]
    idx = rng.integers(0, n, shape[:-1])
    if kind == "sparse":
        return idx[..., None].astype(np.float32)
    return np.eye(n, dtype=np.float32)[idx]


# loss kinks, as functions (y_true, y_pred) -> pattern
def _mae_kink(yt, yp):
    return yp > yt


def _custom_golden_kink(yt, yp):
    return yp > 0


def _hinge_kink(yt, yp):
    s = np.where(yt == 0, -1.0, yt)
    return 1 - s * yp > 0


def _huber_kink(yt, yp):
    return np.abs(yp - yt) > 0.5


def _custom_scalar_kink(yt, yp):
    return np.argmax((yp - yt).mean(axis=0), axis=-1)


# ------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act", ACTS)
def test_dense_activation_backward(act):
    """Dense(6, act) after a bias-free Dense: the activation's backward (GEMM epilogue or rowwise
    op), dW, db, and dx through the first layer."""
    model = model_for(("lifted", act))
    rng = np.random.default_rng(sum(map(ord, act)))
    _set_random_weights(model, rng, 0.45)
    x = rng.uniform(-1, 1, (7, 8)).astype(np.float32)
    r = rng.normal(0, 1, (7, model._runtime.desc.output_shape[-1])).astype(np.float32)
    # Keras's sparsemax is discontinuous where its sorted support changes: smaller steps
    gradcheck(model, x, r, layers=lifted_layers(act), h=2e-3 if act == "sparsemax" else H)


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_models(case):
    """Fused softmax/sigmoid cross-entropies (dense and sparse labels, soft targets,
    multi-label), mse, mae and the golden custom loss, on the golden architectures."""
    model = model_for(("golden", case))
    rng = np.random.default_rng(len(case))
    _set_random_weights(model, rng)
    shape = tuple(model._runtime.desc.output_shape)
    x = rng.uniform(-1, 1, (6,) + tuple(model._runtime.desc.input_shape)).astype(np.float32)
    y = _labels(GOLDEN_CASES[case], rng, (6,) + shape)
    kink = {"train_sgd_momentum_mae": _mae_kink, "custom_loss_sgd": _custom_golden_kink}.get(case)
    if case == "train_sgd_momentum_mae":     # keep |y_pred - y_true| clear of 0
        y = y + np.sign(y) * 0.3
    gradcheck(model, x, y, layers=golden_layers(case), loss_kink=kink)
    fused = model._runtime.desc.fused
    if case in ("train_sgd_cce", "train_sgd_bce", "train_sgd_momentum_scce"):
        assert any("fused loss" in f for f in fused), fused


@pytest.mark.parametrize("name", sorted(n for n in OWN if n not in ("gc_dropout", "gc_3d_mse")))
def test_own_models(name):
    """Non-fused paths: softmax+mse, from_logits BCE/CCE/SCCE, label smoothing, huber, hinge,
    a scalar custom loss, standalone Activation layers (elementwise after an activation, glu,
    log_softmax, sparsemax), 3-D inputs with fused CCE / BCE."""
    model = model_for(("own", name))
    shape_in, layers, _, label_kind = OWN[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    _set_random_weights(model, rng)
    out_shape = tuple(model._runtime.desc.output_shape)
    x = rng.uniform(-1, 1, (6,) + shape_in).astype(np.float32)
    y = _labels(label_kind, rng, (6,) + out_shape)
    kink = {"gc_hinge": _hinge_kink, "gc_huber": _huber_kink, "gc_custom_scalar": _custom_scalar_kink}.get(name)
    gradcheck(model, x, y, layers=layers, loss_kink=kink)
    fused = " ".join(model._runtime.desc.fused)
    if name in ("gc_softmax_mse", "gc_cce_smoothing", "gc_bce_smoothing", "gc_bce_logits", "gc_cce_logits"):
        assert "fused loss" not in fused
    if name in ("gc_3d_cce", "gc_3d_sigmoid_bce"):
        assert "fused loss" in fused


def _dropout_setup():
    model = model_for(("own", "gc_dropout"))
    shape_in = OWN["gc_dropout"][0]
    rng = np.random.default_rng(11)
    _set_random_weights(model, rng)
    x = rng.uniform(-1, 1, (5,) + shape_in).astype(np.float32)
    y = rng.normal(0, 1, (5, 2)).astype(np.float32)
    return model, x, y


def test_dropout_training_mode():
    """Dropout masks are a fixed function of (seed, iteration): gradients(training=True) is a
    differentiable function of the parameters, and training mode really drops something."""
    model, x, y = _dropout_setup()
    gradcheck(model, x, y, training=True)
    eng = model._runtime._engine
    lt, gt = eng.gradients(x, y, True)
    li, gi = eng.gradients(x, y, False)
    assert lt != li and not np.allclose(gt, gi), "training=True made no difference: dropout inactive?"
    # inference-mode loss equals evaluate's (dropout is the identity there)
    np.testing.assert_allclose(li, eng.evaluate(x, y, 5)[0, 0], rtol=1e-6)


def test_dropout_inference_mode_gradients():
    """gradients(training=False): the forward skips dropout, so the backward must too.
    (Fails if the dropout backward applies its mask regardless of `training`.)"""
    model, x, y = _dropout_setup()
    gradcheck(model, x, y, training=False)


def test_mse_on_3d_output_gradient():
    """mse on a (3, 2) per-sample output: the loss is the mean over batch *and* the 3 rows, so
    its gradient carries 1/(3 B). (Fails if trace._vjp's 'mean' drops the non-batch factor.)"""
    model = model_for(("own", "gc_3d_mse"))
    shape_in, layers, _, _ = OWN["gc_3d_mse"]
    rng = np.random.default_rng(12)
    _set_random_weights(model, rng)
    x = rng.uniform(-1, 1, (5,) + shape_in).astype(np.float32)
    y = rng.normal(0, 1, (5, 3, 2)).astype(np.float32)
    gradcheck(model, x, y, layers=layers)


def test_gradients_match_train_step():
    """One SGD(0.1) train_on_batch moves the weights by exactly -0.1 * engine.gradients."""
    model = model_for(("own", "gc_cce_logits"))
    rng = np.random.default_rng(5)
    w0 = _set_random_weights(model, rng)
    x = rng.uniform(-1, 1, (6, 5)).astype(np.float32)
    y = _labels("soft", rng, (6, 4))
    loss, g = model._runtime._engine.gradients(x, y)
    flat0 = np.concatenate([w.ravel() for w in w0])
    out = model.train_on_batch(x, y)
    flat1 = np.concatenate([w.ravel() for w in model.get_weights()])
    np.testing.assert_allclose(out, loss, rtol=1e-6)
    np.testing.assert_allclose(flat1, flat0 - np.float32(0.1) * g, rtol=1e-6, atol=1e-7)
    model._runtime._engine.reset_optimizer()
