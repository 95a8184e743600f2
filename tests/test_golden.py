"""seqc against the real-Keras golden data in tests/golden (Keras 3.15.1, torch backend).

Every case in manifest.json is rebuilt through `seqc.keras` from its description, given the
golden initial weights with set_weights, and run the way the generator ran Keras:

* activation  Dense(6, act) on 8 rows: predict vs y; the backward against torch's gradients
              of sum(y * r). The model is "lifted": a first Dense(5, linear, no bias) on an
              8x8 identity input whose kernel is the golden x, so the golden layer sees x exactly
              and the first kernel's gradient is dL/dx (checks the dx GEMM too).
* train       5 x train_on_batch on consecutive 8-row batches: losses, weights after steps 1 and 5.
* custom_loss the same with the loss rebuilt from its source over seqc.keras.ops.
* evaluate    evaluate(batch_size=16) incl. a scalar custom metric (mean of batch means).
* fit         fit(epochs=2, batch_size=16, shuffle=False): history (keys, order, values) and
              weights at the end of each epoch.

Run with -s to see the per-kind maximum differences (test_zz_summary prints them).
Needs only numpy, cffi, jinja2 and a C compiler.
"""
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import seqc.activations
from seqc import keras
from seqc.keras import backend as K


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


GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
CASES = {k: v for k, v in MANIFEST.items() if not k.startswith("_")}


def _cases(*kinds):
    return sorted(k for k, v in CASES.items() if v["kind"] in kinds)


ACTIVATION_CASES = _cases("activation")
TRAIN_CASES = _cases("train", "custom_loss")
EVALUATE_CASES = _cases("evaluate")
FIT_CASES = _cases("fit")

# max differences seen, per case and quantity: {case: {what: (max |diff|, max |golden|)}}
DIFFS = {}


def _load(case):
    with np.load(GOLDEN / f"{case}.npz") as z:
        return {k: z[k] for k in z.files}


def _record(case, what, got, want, rtol, atol):
    """Record the max abs / rel difference, then assert_allclose."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{case} {what}: shape {got.shape} != golden {want.shape}"
    diff = np.abs(got - want)
    mabs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(want).max()) if diff.size else 0.0
    DIFFS.setdefault(case, {})[what] = (mabs, scale)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{case}: {what}")


# ------------------------------------------------------------------------------------------
# building models from the manifest
# ------------------------------------------------------------------------------------------
def mean_pred(y_true, y_pred):
    return K.mean(y_pred)


def act_loss(y_true, y_pred):
    """sum(y_pred * r) with y_true = r: a scalar, so no reduction divides it."""
    return K.sum(y_pred * y_true)


def _custom_loss(source):
    ns = {"keras": keras}
    exec(source, ns)
    fns = [v for k, v in ns.items() if callable(v) and not k.startswith("__") and k != "keras"]
    assert len(fns) == 1, source
    return fns[0]


def _optimizer(opt):
    if opt.get("as_written"):
        return opt["as_written"]
    return getattr(keras.optimizers, opt["class"])(**opt["config"])


def _metric(name):
    return mean_pred if name == "mean_pred" else name


def _dense_layers(desc, prefix):
    layers = []
    for i, layer in enumerate(desc["layers"]):
        assert layer["class"] == "Dense"
        cfg = dict(layer["config"])
        kw = {"input_shape": tuple(desc["input_shape"])} if i == 0 else {}
        layers.append(keras.layers.Dense(cfg["units"], activation=cfg["activation"], use_bias=cfg["use_bias"],
                                         name=f"{prefix}{i}", **kw))
    return layers


def _finish(model, compile_kwargs):
    model.loc = None          # keep the C source independent of this file (shared build cache)
    model.compile(**compile_kwargs)
    return model


def build(case):
    """The seqc model for a golden case, compiled (not yet given the golden weights)."""
    c = CASES[case]
    if c["kind"] == "activation":
        act = seqc.activations.get(c["activation"]).name
        return build_lifted_activation(act)
    model = keras.Sequential(_dense_layers(c["model"], "dense_"), name=f"golden_{case}")
    comp = c["compile"]
    loss = _custom_loss(c["loss_source"]) if c["kind"] == "custom_loss" else comp["loss"]
    return _finish(model, dict(optimizer=_optimizer(comp["optimizer"]), loss=loss,
                               metrics=[_metric(m) for m in comp["metrics"]]))


def build_lifted_activation(act):
    """[Dense(5, linear, no bias) on 8 inputs] + Dense(6, act), loss sum(y_pred * y_true)."""
    model = keras.Sequential([
        keras.layers.Dense(5, activation="linear", use_bias=False, input_shape=(8,), name="lift"),
        keras.layers.Dense(6, activation=act, name="golden"),
    ], name=f"lifted_{act}")
    return _finish(model, dict(optimizer=keras.optimizers.SGD(0.1), loss=act_loss))


# cases used by tests that are not parametrized by case
_FIXED_CASES = {"test_evaluate_return_dict_key_order": ["evaluate_categorical"]}


@pytest.fixture(scope="module", autouse=True)
def _prebuild(request):
    """Compile the golden models the selected tests need up front, in parallel, to warm the
    build cache; each test then builds its own fresh model (a cache hit). Build failures
    resurface in the tests themselves."""
    needed = set()
    for item in request.session.items:
        if item.module is not request.module:
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "case" in params:
            needed.add(params["case"])
        needed.update(_FIXED_CASES.get(item.originalname, ()))

    def one(case):
        try:
            build(case)
            return None
        except Exception as e:   # noqa: BLE001 - the test that builds this case fails on it too
            return f"{case}: {type(e).__name__}: {e}"
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        failed = [f for f in pool.map(one, sorted(needed)) if f]
    if failed:
        warnings.warn("golden models that did not build up front:\n" + "\n".join(failed))


def _engine(model):
    return model._runtime._engine


def _param_slices(model):
    return [(w.offset, w.offset + w.size, w.shape) for w in model._runtime.desc.params]


# ------------------------------------------------------------------------------------------
# activation cases
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ACTIVATION_CASES)
def test_activation(case):
    c, d = CASES[case], _load(case)
    model = build(case)
    x, r = d["x"], d["r"]
    assert d["y"].shape == tuple(c["output_shape"])
    lift_input = np.eye(8, dtype=np.float32)
    model.set_weights([x, d["kernel"], d["bias"]])
    y = model.predict(lift_input, batch_size=8, verbose=0)
    _record(case, "y", y, d["y"], 1e-4, 1e-5)

    loss, g = _engine(model).gradients(lift_input, np.ascontiguousarray(r, np.float32))
    (a0, a1, s0), (b0, b1, s1), (c0, c1, s2) = _param_slices(model)
    _record(case, "loss sum(y*r)", loss, np.sum(d["y"].astype(np.float64) * r), 1e-4, 1e-5)
    _record(case, "dx", g[a0:a1].reshape(s0), d["dx"], 1e-4, 1e-5)
    _record(case, "dkernel", g[b0:b1].reshape(s1), d["dkernel"], 1e-4, 1e-5)
    _record(case, "dbias", g[c0:c1].reshape(s2), d["dbias"], 1e-4, 1e-5)


# ------------------------------------------------------------------------------------------
# train_on_batch cases
# ------------------------------------------------------------------------------------------
def _weights(d, k, n=4):
    return [d[f"{k}_{i}"] for i in range(n)]


@pytest.mark.parametrize("case", TRAIN_CASES)
def test_train(case):
    c, d = CASES[case], _load(case)
    model = build(case)
    model.set_weights(_weights(d, "w0"))
    bs = c["batch_size"]
    losses = []
    for s in range(c["steps"]):
        out = model.train_on_batch(d["x"][s * bs:(s + 1) * bs], d["y"][s * bs:(s + 1) * bs])
        assert isinstance(out, float), f"train_on_batch without metrics returns a float, got {out!r}"
        losses.append(out)
        if s == 0:
            for i, w in enumerate(model.get_weights()):
                _record(case, f"w1_{i}", w, d[f"w1_{i}"], 1e-4, 1e-5)
    _record(case, "losses", losses, d["losses"], 1e-4, 1e-6)
    for i, w in enumerate(model.get_weights()):
        _record(case, f"w5_{i}", w, d[f"w5_{i}"], 1e-4, 1e-5)
    assert model.optimizer.iterations == c["steps"]


# ------------------------------------------------------------------------------------------
# evaluate cases
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", EVALUATE_CASES)
def test_evaluate(case):
    c, d = CASES[case], _load(case)
    model = build(case)
    model.set_weights(_weights(d, "w"))
    _record(case, "y_pred", model.predict(d["x"], batch_size=16, verbose=0), d["y_pred"], 1e-4, 1e-6)
    res = model.evaluate(d["x"], d["y"], batch_size=c["batch_size"], verbose=0)
    _record(case, "result", res, c["result"], 1e-4, 1e-6)
    np.testing.assert_allclose(res, d["result"], rtol=1e-4, atol=1e-6)
    rd = model.evaluate(d["x"], d["y"], batch_size=c["batch_size"], verbose=0, return_dict=True)
    assert sorted(rd) == sorted(c["result_dict"])
    _record(case, "result_dict", [rd[k] for k in c["result_names"]],
            [c["result_dict"][k] for k in c["result_names"]], 1e-4, 1e-6)
    if "mean_pred_if_mean_of_batch_means" in c:   # Keras averages a scalar metric over batches
        assert abs(rd["mean_pred"] - c["mean_pred_if_mean_of_batch_means"]) < 1e-6
        assert abs(rd["mean_pred"] - c["mean_pred_if_mean_over_samples"]) > 1e-3


def test_evaluate_return_dict_key_order():
    """Keras 3 returns evaluate(return_dict=True) with alphabetically sorted keys."""
    case = "evaluate_categorical"
    c, d = CASES[case], _load(case)
    model = build(case)
    model.set_weights(_weights(d, "w"))
    rd = model.evaluate(d["x"], d["y"], batch_size=16, verbose=0, return_dict=True)
    assert list(rd) == c["result_names"]


# ------------------------------------------------------------------------------------------
# fit cases
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", FIT_CASES)
def test_fit(case):
    c, d = CASES[case], _load(case)
    model = build(case)
    model.set_weights(_weights(d, "w0"))
    epoch_weights = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epoch_weights.append(model.get_weights()))
    kw = dict(epochs=c["epochs"], batch_size=c["batch_size"], shuffle=False, verbose=0, callbacks=[cb])
    if "validation_split" in c:
        kw["validation_split"] = c["validation_split"]
    else:
        kw["validation_data"] = (d["xv"], d["yv"])
    hist = model.fit(d["x"], d["y"], **kw)
    h = hist.history
    assert sorted(h) == sorted(c["history"]), f"history keys {list(h)} != {c['history_keys']}"
    for key, want in c["history"].items():
        _record(case, f"history[{key}]", h[key], want, 1e-4, 1e-6)
    assert len(epoch_weights) == c["epochs"]
    for e, ws in enumerate(epoch_weights, 1):
        for i, w in enumerate(ws):
            _record(case, f"we{e}_{i}", w, d[f"we{e}_{i}"], 1e-4, 1e-5)
    for i, w in enumerate(model.get_weights()):
        _record(case, f"wfinal_{i}", w, d[f"wfinal_{i}"], 1e-4, 1e-5)


@pytest.mark.parametrize("case", FIT_CASES)
def test_fit_history_key_order(case):
    """History.history keys come in Keras's order (alphabetical)."""
    c, d = CASES[case], _load(case)
    model = build(case)
    model.set_weights(_weights(d, "w0"))
    kw = dict(epochs=1, batch_size=16, shuffle=False, verbose=0)
    if "validation_split" in c:
        kw["validation_split"] = c["validation_split"]
    else:
        kw["validation_data"] = (d["xv"], d["yv"])
    h = model.fit(d["x"], d["y"], **kw).history
    assert list(h) == c["history_keys"]


# ------------------------------------------------------------------------------------------
# summary
# ------------------------------------------------------------------------------------------
def golden_summary():
    """The largest differences to the goldens, per kind and quantity; printed at the end of the
    session by conftest.pytest_terminal_summary."""
    if not DIFFS:
        return ""

    def rel(mabs, scale):
        return mabs / scale if scale > 0 else mabs

    per_kind = {}
    for case, whats in DIFFS.items():
        kind = CASES[case]["kind"]
        for what, (mabs, scale) in whats.items():
            q = what.split("_")[0] if what[:2] in ("w1", "w5", "we") or what.startswith("wfinal") else what
            q = q.split("[")[0]
            cur = per_kind.setdefault((kind, q), [0.0, 0.0, "", ""])
            if mabs >= cur[0]:
                cur[0], cur[2] = mabs, case
            if rel(mabs, scale) >= cur[1]:
                cur[1], cur[3] = rel(mabs, scale), case
    lines = ["", "seqc vs Keras 3.15.1 goldens, per kind and quantity: max |diff| and max-norm relative "
             "difference max|diff| / max|golden| (per array), with the worst case"]
    for (kind, q), (mabs, mrel, ca, cr) in sorted(per_kind.items()):
        lines.append(f"  {kind:12s} {q:16s} abs {mabs:9.2e} ({ca})   rel {mrel:9.2e} ({cr})")
    lines.append("per training case: max |diff| and max|diff| / max|golden| over the losses (or history) "
                 "and over all weights checked")
    for case in sorted(DIFFS):
        if CASES[case]["kind"] not in ("train", "custom_loss", "fit"):
            continue
        groups = ([v for k, v in DIFFS[case].items() if not k.startswith("w")],
                  [v for k, v in DIFFS[case].items() if k.startswith("w")])
        cols = []
        for vals in groups:
            mabs = max((a for a, _ in vals), default=0.0)
            cols.append(f"{mabs:9.2e} {rel(mabs, max((sc for _, sc in vals), default=0.0)):9.2e}")
        lines.append(f"  {case:40s} losses/history {cols[0]}   weights {cols[1]}")
    lines.append(f"  cases compared: {len(DIFFS)} of {len(CASES)}")
    return "\n".join(lines)
