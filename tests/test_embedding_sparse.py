"""The row-sparse Embedding update of seqc_train against the dense one it replaces.

In training, the gradient of the embeddings is kept for the rows a batch uses only, and the
optimizer updates those rows after catching up, in closed form, the zero-gradient steps each
missed (passes.plan_sparse_update, optim_*.c.j2). The result must stay Keras's dense update:
every test trains the same model twice, built with and without the sparse path
(pipeline.compile_spec(sparse_embedding=False)), on batches that leave most rows untouched for
long stretches and repeat indices within a batch, and compares weights, optimizer slots,
losses and outputs. Closed forms differ from repeated float steps by rounding only; the
updates that leave untouched rows alone (SGD without momentum, Adagrad) must match exactly.
"""
import json
import os

import numpy as np
import pytest
from model_cache import ModelCache, selected_keys

import seqc.keras as keras
from seqc import pipeline
from seqc.keras import layers as L
from seqc.keras import losses, metrics
from seqc.keras.models import Sequential
from seqc.keras.optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Ftrl, Lion, Nadam, RMSprop
from seqc.keras.schedules import ExponentialDecay, InverseTimeDecay
from seqc.runtime.model import Model as RuntimeModel
from seqc.spec import CompileSpec

V, E, T, C, BS = 50, 8, 6, 4, 8
RTOL = 1e-5

# name -> (optimizer factory, takes the sparse path, matches the dense path bit for bit)
OPTS = {
    "sgd": (lambda: SGD(0.1), True, True),
    "sgd_momentum": (lambda: SGD(0.1, momentum=0.9), True, False),
    "sgd_nesterov": (lambda: SGD(0.1, momentum=0.9, nesterov=True), True, False),
    "rmsprop": (lambda: RMSprop(0.01), True, False),
    "rmsprop_momentum": (lambda: RMSprop(0.01, momentum=0.9), True, False),
    "rmsprop_centered": (lambda: RMSprop(0.01, centered=True), True, False),
    "rmsprop_centered_momentum": (lambda: RMSprop(0.01, centered=True, momentum=0.5), True, False),
    "adagrad": (lambda: Adagrad(0.1), True, True),
    "adam": (lambda: Adam(0.01), False, True),
    "adamw": (lambda: AdamW(0.01), False, True),
    "sgd_weight_decay": (lambda: SGD(0.1, momentum=0.9, weight_decay=0.01), False, True),
    "sgd_clipnorm": (lambda: SGD(0.1, clipnorm=0.05), True, True),
    "sgd_momentum_clipnorm": (lambda: SGD(0.1, momentum=0.9, clipnorm=0.05), True, False),
    "rmsprop_global_clipnorm": (lambda: RMSprop(0.01, momentum=0.5, global_clipnorm=0.1), True, False),
    "adagrad_clipvalue": (lambda: Adagrad(0.1, clipvalue=0.01), True, True),
    "sgd_momentum_schedule": (lambda: SGD(ExponentialDecay(0.1, 5, 0.5), momentum=0.9), True, False),
    "rmsprop_momentum_schedule": (lambda: RMSprop(InverseTimeDecay(0.02, 4, 0.5), momentum=0.9), True, False),
    "rmsprop_keras2_decay": (lambda: RMSprop(0.01, momentum=0.9, decay=0.05), True, False),
    "sgd_momentum_0.99": (lambda: SGD(0.02, momentum=0.99), True, False),
    "rmsprop_rho_0.99_momentum_0.99": (lambda: RMSprop(0.002, rho=0.99, momentum=0.99), True, False),
    "adadelta": (lambda: Adadelta(1.0, rho=0.9), True, False),
    "adadelta_clipnorm": (lambda: Adadelta(1.0, clipnorm=0.05), True, False),
    "adamax": (lambda: Adamax(0.01), False, True),
    "nadam": (lambda: Nadam(0.01), False, True),
    "ftrl": (lambda: Ftrl(0.1), False, True),
    "lion": (lambda: Lion(0.001), False, True),
}


def _layers(head):
    pool = L.Flatten() if head == "flatten" else L.GlobalAveragePooling1D()
    return [L.Input((T,)), L.Embedding(V, E), pool, L.Dense(C, activation="softmax")]


def _build(key):
    """(desc, lib, C source) of the model for key = (optimizer name, sparse, head)."""
    opt, sparse, head = key
    model = Sequential(_layers(head))
    model._compile = CompileSpec(optimizer=OPTS[opt][0]().spec(), loss=losses.get("categorical_crossentropy"),
                                 metrics=[metrics.get("accuracy")])
    return pipeline.compile_spec(model.spec(), sparse_embedding=sparse)


CACHE = ModelCache(_build)
_FIXED = {"test_reads_and_writes_between_steps": ["rmsprop_centered_momentum", "sgd_nesterov", "adagrad"],
          "test_long_gap_closed_form": ["sgd_momentum_0.99", "rmsprop_rho_0.99_momentum_0.99"],
          "test_global_average_pooling_head": ["rmsprop_momentum"]}


def _keys_of(item):
    params = getattr(getattr(item, "callspec", None), "params", {})
    names = list(_FIXED.get(item.originalname, ())) + ([params["opt"]] if "opt" in params else [])
    head = "gap" if item.originalname == "test_global_average_pooling_head" else "flatten"
    return [(n, s, head) for n in names for s in (True, False)]


@pytest.fixture(scope="module", autouse=True)
def _prebuild(request):
    CACHE.prebuild(selected_keys(request, _keys_of))
    yield
    CACHE.clear()


def pair(opt, head="flatten", weights=None):
    """Fresh (sparse-path model, dense-path model) with the same initial weights."""
    weights = initial_weights(head) if weights is None else weights
    out = []
    for sparse in (True, False):
        desc, lib, _ = CACHE.get((opt, sparse, head))
        out.append(RuntimeModel(desc, lib, seed=0, weights=weights))
    return out


def initial_weights(head="flatten", seed=1):
    rng = np.random.default_rng(seed)
    k = T * E if head == "flatten" else E
    return [rng.uniform(-1, 1, (V, E)).astype(np.float32), rng.uniform(-0.3, 0.3, (k, C)).astype(np.float32),
            rng.uniform(-0.1, 0.1, C).astype(np.float32)]


def batches(steps, seed=0):
    """`steps` batches of BS sequences. Rows 0..2 appear in every batch; rows 3..44 in a window
    that moves by 5 rows per step (each row is left out for about 7 steps at a time); rows
    45..49 only in the first batch and in the third-last one. Indices repeat within a batch."""
    rng = np.random.default_rng(seed)
    xs = []
    for s in range(steps):
        window = np.concatenate([[0, 1, 2], 3 + (s * 5 + np.arange(6)) % 42])
        if s in (0, steps - 3):
            window = np.concatenate([window, np.arange(45, 50)])
        xs.append(rng.choice(window, (BS, T)))
    x = np.concatenate(xs).astype(np.float32)
    y = np.eye(C, dtype=np.float32)[x.sum(1).astype(int) % C]
    return x, y


def assert_close(got, want, exact=False, what=""):
    got, want = np.asarray(got), np.asarray(want)
    if exact:
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * max(1e-3, float(np.abs(want).max())),
                                   err_msg=what)


def assert_same_state(ms, md, exact=False):
    for i, (a, b) in enumerate(zip(ms.get_weights(), md.get_weights())):
        assert_close(a, b, exact, f"weight {i}")
    assert_close(ms._engine.slots, md._engine.slots, exact, "optimizer slots")
    assert ms.optimizer.iterations == md.optimizer.iterations


@pytest.mark.parametrize("opt", sorted(OPTS))
def test_sparse_matches_dense(opt):
    """Two epochs of 30 steps each (one C call per epoch), with validation in between."""
    _, sparse, exact = OPTS[opt]
    ms, md = pair(opt)
    assert (ms.desc.sparse_update is not None) == sparse, ms.desc.sparse_reason
    assert not sparse or ms.desc.sparse_update.endswith("/embeddings")
    assert md.desc.sparse_update is None
    x, y = batches(60)
    xv, yv = batches(5, seed=7)
    hs = ms.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0, validation_data=(xv, yv))
    hd = md.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0, validation_data=(xv, yv))
    for k in hd.history:
        assert_close(hs.history[k], hd.history[k], exact, k)
    assert_same_state(ms, md, exact)
    assert ms.optimizer.iterations == 120
    assert_close(ms.predict(xv, verbose=0), md.predict(xv, verbose=0), exact, "predict")
    assert_close(ms.evaluate(xv, yv, verbose=0), md.evaluate(xv, yv, verbose=0), exact, "evaluate")
    # the embedding did train, rows left out for long stretches included
    w0 = initial_weights()[0]
    assert np.abs(md.get_weights()[0] - w0)[45:].max() > 1e-3


def test_sparse_path_is_in_the_generated_c():
    c_sparse = CACHE.get(("rmsprop_momentum", True, "flatten"))[2]
    c_dense = CACHE.get(("rmsprop_momentum", False, "flatten"))[2]
    for marker in ("_used_rows(", "_backward_rows(", "catch_up_row(", "sparse_begin(m, B);", "optimizer_update(m, 1);"):
        assert marker in c_sparse and marker not in c_dense, marker
    c_adam = CACHE.get(("adam", True, "flatten"))[2]
    assert "catch_up_row" not in c_adam and "optimizer_update(m);" in c_adam


def test_dense_fallback_reasons():
    assert "Adam" in CACHE.get(("adam", True, "flatten"))[0].sparse_reason
    assert "Adam" in CACHE.get(("adamw", True, "flatten"))[0].sparse_reason
    for name, kind in (("adamax", "Adamax"), ("nadam", "Nadam"), ("ftrl", "Ftrl"), ("lion", "Lion")):
        assert f"{kind}: a zero-gradient step" in CACHE.get((name, True, "flatten"))[0].sparse_reason
    assert CACHE.get(("adadelta", True, "flatten"))[0].sparse_reason == "sparse"
    assert "weight_decay" in CACHE.get(("sgd_weight_decay", True, "flatten"))[0].sparse_reason
    assert "forced" in CACHE.get(("sgd", False, "flatten"))[0].sparse_reason


def test_global_average_pooling_head():
    ms, md = pair("rmsprop_momentum", head="gap")
    x, y = batches(30)
    for m in (ms, md):
        m.fit(x, y, batch_size=BS, epochs=1, shuffle=False, verbose=0)
    assert_same_state(ms, md)


@pytest.mark.parametrize("opt", ["rmsprop_centered_momentum", "sgd_nesterov", "adagrad"])
def test_reads_and_writes_between_steps(opt):
    """Everything that reads or writes the weights or slots between steps sees the dense state:
    get_weights, predict/evaluate, set_weights, dense gradients and apply_gradients, the
    optimizer counter and reset, partial last batches."""
    _, _, exact = OPTS[opt]
    ms, md = pair(opt)
    x, y = batches(40)
    rng = np.random.default_rng(3)
    for s in range(40):
        xb, yb = x[s * BS:(s + 1) * BS], y[s * BS:(s + 1) * BS]
        if s % 3 == 2:
            xb, yb = xb[:5], yb[:5]     # a smaller batch
        ls, ld = ms.train_on_batch(xb, yb), md.train_on_batch(xb, yb)
        assert_close(ls, ld, exact, f"step {s} loss")
        if s % 7 == 3:
            assert_same_state(ms, md, exact)
            assert_close(ms.predict_on_batch(xb), md.predict_on_batch(xb), exact)
        if s == 12:                     # new weights: no pending catch-up may apply to them
            w = [a + rng.normal(0, 0.01, a.shape).astype(np.float32) for a in md.get_weights()]
            ms.set_weights(w)
            md.set_weights(w)
        if s == 20:                     # dense gradients of the current weights, then a dense update
            gs, gd = ms._engine.gradients(xb, yb), md._engine.gradients(xb, yb)
            assert_close(gs[0], gd[0], exact, "gradients: loss")
            assert_close(gs[1], gd[1], exact, "gradients: dense array")
            ms._engine.apply_gradients()
            md._engine.apply_gradients()
            assert_same_state(ms, md, exact)
        if s == 27:                     # the optimizer counter moved (as when switching models)
            for m in (ms, md):
                m._engine.set_iterations(m._engine.get_iterations() + 5)
        if s == 33:
            for m in (ms, md):
                m._engine.reset_optimizer()
            assert ms.optimizer.iterations == 0
    assert_same_state(ms, md, exact)
    assert_close(ms.evaluate(x, y, verbose=0), md.evaluate(x, y, verbose=0), exact)


@pytest.mark.parametrize("opt", ["sgd_momentum_0.99", "rmsprop_rho_0.99_momentum_0.99"])
def test_long_gap_closed_form(opt):
    """Rows 40..49 are used in the first step only, then left out for 1000 steps: their weights
    and slots, caught up in one closed-form step, equal 1000 dense float steps to rounding
    (measured about 2e-6 of the row's scale: the dense loop's own accumulated rounding; the
    closed form is within a few ulp of the exact float64 value)."""
    steps = 1001
    rng = np.random.default_rng(5)
    x = rng.integers(0, 10, (steps * BS, T))
    x[:BS, :3] = rng.integers(40, 50, (BS, 3))
    y = np.eye(C, dtype=np.float32)[x.sum(1) % C]
    x = x.astype(np.float32)
    ms, md = pair(opt)
    one = pair(opt)[1]
    one.fit(x[:BS], y[:BS], batch_size=BS, epochs=1, shuffle=False, verbose=0)
    for m in (ms, md):
        m.fit(x, y, batch_size=BS, epochs=1, shuffle=False, verbose=0)
    rows = slice(40 * E, 50 * E)
    ws, wd = ms._engine.params[rows], md._engine.params[rows]
    assert_close(ws, wd)
    n = ms._engine.n_params
    ns = ms._engine.slots.size // n
    for k in range(ns):
        assert_close(ms._engine.slots[k * n:][rows], md._engine.slots[k * n:][rows], what=f"slot {k}")
    # against the exact value from the state after the first step (float64 geometric sum)
    w1 = one._engine.params[rows].astype(np.float64)
    mom1 = one._engine.slots[(ns - 1) * n:][rows].astype(np.float64)
    cfg = ms.desc.optimizer.config
    mu = float(np.float32(cfg["momentum"]))
    kk = steps - 1
    s = mu * (1 - mu ** kk) / (1 - mu)
    exact = w1 + s * mom1 if ms.desc.optimizer.kind == "SGD" else w1 - s * mom1
    assert np.abs(ws - exact).max() <= 1e-6 * np.abs(exact).max()
    assert np.abs(ws - w1).max() > 1e-2     # the rows did keep moving


# ---- against Keras 3 (tests/golden/rnn_train_embedding_sparse_*, make_rnn_goldens.py) ----------
GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
MANIFEST = json.load(open(os.path.join(GOLDEN, "rnn_manifest.json")))
SPARSE_CASES = sorted(k for k in MANIFEST if k.startswith("rnn_train_embedding_sparse_"))


def _slot_index(opt):
    """Keras slot name -> index of that slot in seqc's `slots` (NUM_SLOTS blocks of NPARAMS)."""
    cls, cfg = opt["class"], opt["config"]
    if cls == "SGD":
        return {"m": 0}
    if cls == "Adagrad":
        return {"acc": 0}
    return {"v": 0, "m": 1} if cfg.get("momentum") else {"v": 0}


@pytest.mark.parametrize("case", SPARSE_CASES)
def test_keras_golden_per_step(case):
    """Embedding(100, 8) / Flatten / Dense: 8 train_on_batch steps where most rows are left out
    of most steps; the embeddings and their optimizer slots after every step equal Keras's."""
    desc, z = MANIFEST[case], np.load(os.path.join(GOLDEN, case + ".npz"))
    model = Sequential([L.Input(tuple(desc["model"]["input_shape"]))]
                       + [getattr(L, d["class"])(**d["config"]) for d in desc["model"]["layers"]])
    opt = desc["compile"]["optimizer"]
    model.compile(getattr(keras.optimizers, opt["class"])(**opt["config"]), desc["compile"]["loss"])
    assert model._runtime.desc.sparse_update is not None, model._runtime.desc.sparse_reason
    model.set_weights([z[f"w0_{i}"] for i in range(3)])
    engine = model._runtime._engine
    n, size = engine.n_params, 100 * 8
    bs = desc["batch_size"]
    for s in range(desc["steps"]):
        loss = model.train_on_batch(z["x"][s * bs:(s + 1) * bs], z["y"][s * bs:(s + 1) * bs])
        np.testing.assert_allclose(loss, z["losses"][s], rtol=1e-5)
        want = z[f"w{s + 1}_0"]
        np.testing.assert_allclose(model.get_weights()[0], want, rtol=1e-5, atol=1e-6 * np.abs(want).max(),
                                   err_msg=f"embeddings after step {s + 1}")
        for name, k in _slot_index(opt).items():
            want = z[f"{name}{s + 1}_0"]
            got = engine.slots[k * n:k * n + size].reshape(want.shape)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max(),
                                       err_msg=f"slot {name} after step {s + 1}")
    for i, w in enumerate(model.get_weights()):
        want = z[f"w{desc['steps']}_{i}"]
        np.testing.assert_allclose(w, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
