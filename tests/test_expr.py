"""The traced-expression path: seqc.keras.backend ops -> seqc.trace graph -> C (codegen.emit_expr).

Every formula below is compiled into a model whose output *is* a chosen y_pred: a bias-free
Dense(4) on an 8x8 identity input, so its kernel is y_pred and the kernel's gradient is
dL/dy_pred. Then

* values: formulas are compiled as metrics; the C value (engine.evaluate, one batch) is compared
  with seqc.trace.evaluate of the very graph the model describes (desc.metrics[k].expr),
  and that with an independent numpy formula (checks the tracing semantics);
* gradients: formulas are compiled as losses; the C gradient is compared with trace.evaluate of
  trace.grad (tight) and with central differences of trace.evaluate (float32, loose).

Losses/metrics see y_true and y_pred of shape (B, 4) with B = 8.
"""

import numpy as np
import pytest
from model_cache import ModelCache, selected_keys

from seqc import keras, trace
from seqc.keras import backend as K

B, N = 8, 4
EYE = np.eye(B, dtype=np.float32)


def named(name, fn):
    fn.__name__ = name
    return fn


# ------------------------------------------------------------------------------------------
# value formulas: name -> (formula over backend ops, the same in numpy)
# ------------------------------------------------------------------------------------------
VALUES = {
    "reductions": {
        "mean_all": (lambda t, p: K.mean(p), lambda t, p: p.mean()),
        "sum_all": (lambda t, p: K.sum(p * t), lambda t, p: (p * t).sum()),
        "max_all": (lambda t, p: K.max(p), lambda t, p: p.max()),
        "min_all": (lambda t, p: K.min(p), lambda t, p: p.min()),
        "mean_last": (lambda t, p: K.mean(p, axis=-1), lambda t, p: p.mean(-1)),
        "sum_last_keep": (lambda t, p: K.sum(p, axis=-1, keepdims=True) - p, lambda t, p: p.sum(-1, keepdims=True) - p),
        "max_last_keep": (lambda t, p: p - K.max(p, axis=-1, keepdims=True), lambda t, p: p - p.max(-1, keepdims=True)),
        "min_last": (lambda t, p: K.min(p, axis=-1), lambda t, p: p.min(-1)),
        "mean_0": (lambda t, p: K.mean(p, axis=0), lambda t, p: p.mean(0)),
        "mean_0_keep": (lambda t, p: K.mean(p, axis=0, keepdims=True) * p, lambda t, p: p.mean(0, keepdims=True) * p),
        "sum_0": (lambda t, p: K.sum(t, axis=0), lambda t, p: t.sum(0)),
        "max_0_keep": (lambda t, p: K.max(p, axis=0, keepdims=True) - p, lambda t, p: p.max(0, keepdims=True) - p),
        "min_0": (lambda t, p: K.min(p, axis=0), lambda t, p: p.min(0)),
        "max_none_keep": (lambda t, p: p / K.max(K.abs(p), axis=None, keepdims=True),
                          lambda t, p: p / np.abs(p).max(keepdims=True)),
        "prod_last": (lambda t, p: K.prod(p + 1.5, axis=-1), lambda t, p: (p + 1.5).prod(-1)),
        "argmax_last": (lambda t, p: K.argmax(p, axis=-1), lambda t, p: p.argmax(-1)),
        "argmax_0": (lambda t, p: K.argmax(p, axis=0), lambda t, p: p.argmax(0)),
        "argmin_last": (lambda t, p: K.argmin(p, axis=-1), lambda t, p: p.argmin(-1)),
        "cat_acc": (lambda t, p: K.cast(K.equal(K.argmax(t, axis=-1), K.argmax(p, axis=-1)), "float32"),
                    lambda t, p: (t.argmax(-1) == p.argmax(-1))),
    },
    "elementwise": {
        "clip": (lambda t, p: K.clip(p, -0.5, 0.5), lambda t, p: np.clip(p, -0.5, 0.5)),
        "maximum": (lambda t, p: K.maximum(p, t), lambda t, p: np.maximum(p, t)),
        "minimum_scalar": (lambda t, p: K.minimum(p, 0.2), lambda t, p: np.minimum(p, 0.2)),
        "equal": (lambda t, p: K.equal(K.round(p * 2.0), t), lambda t, p: np.rint(p * 2) == t),
        "not_equal": (lambda t, p: K.not_equal(K.round(p * 2.0), t), lambda t, p: np.rint(p * 2) != t),
        "cast_bool": (lambda t, p: K.cast(K.round(p), "bool"), lambda t, p: np.rint(p) != 0),
        "cast_int": (lambda t, p: K.cast(p * 3.0, "int32"), lambda t, p: np.trunc(p * 3)),
        "cast_float": (lambda t, p: K.cast(K.greater(p, 0.0), "float32"), lambda t, p: p > 0),
        "round_half_even": (lambda t, p: K.round(p * 2.0), lambda t, p: np.rint(p * 2)),
        "sqrt": (lambda t, p: K.sqrt(K.abs(p) + 0.1), lambda t, p: np.sqrt(np.abs(p) + 0.1)),
        "exp": (lambda t, p: K.exp(p), lambda t, p: np.exp(p)),
        "log": (lambda t, p: K.log(K.square(p) + 1.0), lambda t, p: np.log(p * p + 1)),
        "abs": (lambda t, p: K.abs(p - t), lambda t, p: np.abs(p - t)),
        "square": (lambda t, p: K.square(p - t), lambda t, p: (p - t) ** 2),
        "pow": (lambda t, p: K.pow(K.abs(p) + 1.0, 1.5), lambda t, p: (np.abs(p) + 1) ** 1.5),
        "where": (lambda t, p: K.where(p > 0, p, 0.1 * p), lambda t, p: np.where(p > 0, p, 0.1 * p)),
        "sign_floor_ceil": (lambda t, p: K.sign(p) + K.floor(p * 3.0) * 10.0 + K.ceil(p * 3.0) * 100.0,
                            lambda t, p: np.sign(p) + np.floor(p * 3) * 10 + np.ceil(p * 3) * 100),
        "tanh_sigmoid": (lambda t, p: K.tanh(p) * K.sigmoid(t), lambda t, p: np.tanh(p) / (1 + np.exp(-t))),
        "log1p_expm1": (lambda t, p: K.log1p(K.abs(p)) + K.expm1(p), lambda t, p: np.log1p(np.abs(p)) + np.expm1(p)),
        "reciprocal_relu": (lambda t, p: K.reciprocal(K.square(p) + 1.0) + K.relu(p),
                            lambda t, p: 1 / (p * p + 1) + np.maximum(p, 0)),
        "comparisons": (lambda t, p: K.greater_equal(p, 0.25) + 2.0 * K.less_equal(p, -0.25) + 4.0 * K.less(p, t),
                        lambda t, p: (p >= 0.25) + 2.0 * (p <= -0.25) + 4.0 * (p < t)),
        "logical": (lambda t, p: K.logical_and(p > 0, t > 0) + 2.0 * K.logical_or(p > 0.5, t > 1.5),
                    lambda t, p: ((p > 0) & (t > 0)) + 2.0 * ((p > 0.5) | (t > 1.5))),
        "neg_sub_div": (lambda t, p: -(p - 1.0) / (3.0 - t) + 3.0 - p,
                        lambda t, p: -(p - 1) / (3 - t) + 3 - p),
        "ones_zeros_like": (lambda t, p: K.ones_like(p) * 2.0 + K.zeros_like(t) + p,
                            lambda t, p: np.ones_like(p) * 2 + p),
    },
    "broadcasting": {
        "bn_b1": (lambda t, p: p * K.sum(t, axis=-1, keepdims=True), lambda t, p: p * t.sum(-1, keepdims=True)),
        "bn_n": (lambda t, p: p + K.mean(t, axis=0), lambda t, p: p + t.mean(0)),
        "b1_n": (lambda t, p: K.max(p, axis=-1, keepdims=True) - K.mean(t, axis=0),
                 lambda t, p: p.max(-1, keepdims=True) - t.mean(0)),
        "bn_scalar_expr": (lambda t, p: p / (K.mean(K.abs(t)) + 1.0), lambda t, p: p / (np.abs(t).mean() + 1)),
        "scalar_minus_bn": (lambda t, p: 2.0 - p, lambda t, p: 2 - p),
        "numpy_scalar": (lambda t, p: np.float32(3.0) * p + np.float64(0.5),
                         lambda t, p: 3 * p + 0.5),
        "b_vs_b1": (lambda t, p: K.mean(p, axis=-1) - K.squeeze(K.max(t, axis=-1, keepdims=True), -1),
                    lambda t, p: p.mean(-1) - t.max(-1)),
        "expand_dims": (lambda t, p: K.expand_dims(K.mean(p, axis=-1), -1) * t,
                        lambda t, p: p.mean(-1)[:, None] * t),
        "reshape": (lambda t, p: K.sum(K.reshape(p, (-1, 2, 2)), axis=-1), lambda t, p: p.reshape(-1, 2, 2).sum(-1)),
        "n_times_b1_sum": (lambda t, p: K.sum(K.mean(t, axis=0) * K.min(p, axis=-1, keepdims=True), axis=0),
                           lambda t, p: (t.mean(0) * p.min(-1, keepdims=True)).sum(0)),
    },
}


def data(seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(-1, 1, (B, N)).astype(np.float32)
    p[0] = [0.25, -0.25, 0.75, 0.1]          # exact halves for round(2 p): 0.5, -0.5, 1.5
    p[1] = [0.3, 0.9, 0.9, -0.2]             # a tie for argmax
    p[2] = [-0.6, -0.6, 0.1, 0.1]            # ties for argmin / argmax
    t = rng.integers(0, 3, (B, N)).astype(np.float32) - 0.0
    t[3] = [0, 0, 1, 0]
    return t, p


def _finish(model, **kw):
    model.loc = None
    model.compile(**kw)
    return model


def _lift(name):
    return keras.Sequential([keras.layers.Dense(N, activation="linear", use_bias=False, input_shape=(B,),
                                                name="lift")], name=name)


def build_values(group):
    metrics = [named(f"{group}_{k}", fn) for k, (fn, _) in VALUES[group].items()]
    return _finish(_lift(f"ex_values_{group}"), optimizer="sgd", loss="mse", metrics=metrics)


# ------------------------------------------------------------------------------------------
# differentiable formulas, compiled as losses; `kink(t, p)`: pattern that must not change
# under the finite-difference step
# ------------------------------------------------------------------------------------------
GRADS = {
    "mean_all_sq": (lambda t, p: K.mean(K.square(p - t)), None),
    "mean_last_abs": (lambda t, p: K.mean(K.abs(p - t), axis=-1), lambda t, p: p > t),
    "logsumexp_keep": (lambda t, p: K.log(K.sum(K.exp(p - K.max(p, axis=-1, keepdims=True)), axis=-1))
                       + K.max(p, axis=-1), lambda t, p: p.argmax(-1)),
    "batch_axis_mean": (lambda t, p: K.sum(K.square(p - K.mean(p, axis=0, keepdims=True))), None),
    "batch_axis_mean_nokeep": (lambda t, p: K.mean(K.square(K.mean(p, axis=0) - 0.1)), None),
    "min0_clip": (lambda t, p: K.sum(K.min(p, axis=0)) + K.sum(K.clip(p, -0.5, 0.5)),
                  lambda t, p: np.concatenate([p.argmin(0), np.digitize(p, [-0.5, 0.5]).ravel()])),
    "max_min_scalar": (lambda t, p: K.mean(K.maximum(p, t) - 0.5 * K.minimum(p, 0.2), axis=-1),
                       lambda t, p: np.concatenate([(p > t).ravel(), (p < 0.2).ravel()])),
    "sqrt_exp_log_abs": (lambda t, p: K.mean(K.sqrt(K.square(p) + 1.0) + K.log(K.exp(p) + 1.0)
                                             + 0.1 * K.abs(p), axis=-1), lambda t, p: p > 0),
    "broadcast_mix": (lambda t, p: K.sum(p * K.sum(t, axis=-1, keepdims=True) + p * K.mean(t, axis=0)
                                         + 2.0 * p / (K.mean(K.abs(p)) + 1.0)) / 8.0, lambda t, p: p > 0),
    "pow_where_tanh": (lambda t, p: K.mean(K.pow(K.abs(p) + 1.0, 1.5) + K.where(p > 0, p, 0.1 * p)
                                           + K.tanh(p) * K.sigmoid(t)), lambda t, p: p > 0),
    "masked_by_nondiff": (lambda t, p: K.sum(K.expand_dims(K.cast(K.equal(K.argmax(p, -1), K.argmax(t, -1)),
                                                                  "float32"), -1) * K.square(p)
                                             + K.round(t * 3.0) * p, axis=-1), lambda t, p: p.argmax(-1)),
    "prod_log1p_expm1_recip": (lambda t, p: K.mean(K.prod(p + 2.0, axis=-1)) + K.mean(
        K.log1p(K.square(p)) + K.expm1(0.5 * p) + K.reciprocal(K.square(p) + 1.0)), None),
    "max_none_keepdims": (lambda t, p: K.sum(p * K.max(p, axis=None, keepdims=True)),
                          lambda t, p: p.argmax()),
    "pow_variable_exponent": (lambda t, p: K.sum(K.pow(2.0, p) + K.pow(K.abs(p) + 1.0, p)
                                                 + K.sum(p, axis=0, keepdims=True) * t) / 8.0, lambda t, p: p > 0),
    "divide_both": (lambda t, p: K.mean((p + 2.0) / (K.square(p) + t + 1.0), axis=-1), None),
}


def build_grad(name):
    fn = named(f"loss_{name}", GRADS[name][0])
    return _finish(_lift(f"ex_grad_{name}"), optimizer="sgd", loss=fn)


KEYS = [("values", g) for g in VALUES] + [("grad", g) for g in GRADS]


def _build(key):
    return build_values(key[1]) if key[0] == "values" else build_grad(key[1])


_FIXED_KEYS = {"test_values_over_several_batches": [("values", "reductions")],
               "test_gradient_of_mean_over_batch_and_feature_axes": [("grad", "mean_all_sq")],
               "test_loss_gradient_through_scalar_subexpression_compiles": [("grad", "broadcast_mix")]}


def _keys_of(item):
    params = getattr(getattr(item, "callspec", None), "params", {})
    keys = list(_FIXED_KEYS.get(item.originalname, ()))
    if "group" in params:
        keys.append(("values", params["group"]))
    if "name" in params:
        keys.append(("grad", params["name"]))
    if "key" in params:
        keys.append(params["key"])
    return keys


CACHE = ModelCache(_build)


@pytest.fixture(scope="module", autouse=True)
def _prebuild(request):
    """Compile the models the selected tests need, in parallel; failures are re-raised by the
    tests that use the model."""
    CACHE.prebuild(selected_keys(request, _keys_of))
    yield
    CACHE.clear()


def model_for(key):
    return CACHE.get(key)


def _with_prediction(model, p):
    model.set_weights([p])
    np.testing.assert_array_equal(model.predict(EYE, batch_size=B, verbose=0), p)
    return model._runtime._engine


# ------------------------------------------------------------------------------------------
# values
# ------------------------------------------------------------------------------------------
VALUE_CASES = [(g, k) for g in VALUES for k in VALUES[g]]


@pytest.mark.parametrize("group,formula", VALUE_CASES, ids=[f"{g}-{k}" for g, k in VALUE_CASES])
@pytest.mark.parametrize("seed", [0, 1])
def test_value(group, formula, seed):
    model = model_for(("values", group))
    t, p = data(seed)
    eng = _with_prediction(model, p)
    desc = model._runtime.desc
    k = [m.name for m in desc.metrics].index(f"{group}_{formula}")
    c_val = float(eng.evaluate(EYE, t, B)[0, 1 + k])
    expr = trace.Expr.from_json(desc.metrics[k].expr)
    ref = float(trace.evaluate(expr, t, p))
    np.testing.assert_allclose(c_val, ref, rtol=2e-6, atol=2e-6, err_msg="C vs trace.evaluate")
    # the traced formula means what the numpy formula means (metric = mean of its values)
    want = np.mean(np.asarray(VALUES[group][formula][1](t.astype(np.float64), p.astype(np.float64)), np.float64))
    np.testing.assert_allclose(ref, want, rtol=1e-5, atol=1e-5, err_msg="trace.evaluate vs numpy")


def test_values_over_several_batches():
    """evaluate with batch 3 on 8 rows: per-sample metrics are weighted by batch size, scalar
    ones averaged over batches; each batch's formula sees only its rows."""
    model = model_for(("values", "reductions"))
    t, p = data(3)
    _with_prediction(model, p)
    desc = model._runtime.desc
    res = model.evaluate(EYE, t, batch_size=3, verbose=0, return_dict=True)
    for k, m in enumerate(desc.metrics):
        expr = trace.Expr.from_json(m.expr)
        vals, sizes = [], []
        for s in range(0, B, 3):
            vals.append(float(trace.evaluate(expr, t[s:s + 3], p[s:s + 3])))
            sizes.append(min(3, B - s))
        want = np.average(vals, weights=sizes) if m.per_sample else np.mean(vals)
        np.testing.assert_allclose(res[m.name], want, rtol=1e-5, atol=1e-6, err_msg=m.name)


# ------------------------------------------------------------------------------------------
# gradients
# ------------------------------------------------------------------------------------------
def _loss_graph(model):
    root = trace.Expr.from_json(model._runtime.desc.loss.expr)
    yp = next((n for n in trace.topo_order(root) if n.op == "y_pred"), None)
    return root, yp


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradient(name):
    model = model_for(("grad", name))
    t, p = data(5)
    p = p + np.where(np.abs(p) < 0.05, 0.1, 0.0).astype(np.float32)   # stay off the kinks at 0
    eng = _with_prediction(model, p)
    loss, g = eng.gradients(EYE, t)
    g = g.reshape(B, N)
    root, yp = _loss_graph(model)
    ref_loss = float(trace.evaluate(root, t, p))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5, atol=1e-6, err_msg="loss: C vs trace.evaluate")
    # C against the symbolic gradient evaluated in numpy
    sym = np.broadcast_to(trace.evaluate(trace.grad(root, yp), t, p), (B, N))
    # central differences of trace.evaluate (float32), skipping kink crossings
    kink = GRADS[name][1]
    h = 1e-2
    num = np.full((B, N), np.nan)
    for i in range(B):
        for j in range(N):
            pp, pm = p.copy(), p.copy()
            pp[i, j] += h
            pm[i, j] -= h
            if kink is not None and not (np.array_equal(kink(t, pp), kink(t, p))
                                         and np.array_equal(kink(t, pm), kink(t, p))):
                continue
            num[i, j] = (float(trace.evaluate(root, t, pp)) - float(trace.evaluate(root, t, pm))) / (
                float(pp[i, j]) - float(pm[i, j]))
    ok = ~np.isnan(num)
    assert ok.mean() > 0.5
    noise = 64 * 2.0 ** -24 * max(1.0, abs(ref_loss)) / h
    np.testing.assert_allclose(g[ok], num[ok], rtol=2e-2, atol=1e-3 + noise,
                               err_msg="C gradient vs finite differences of trace.evaluate")
    np.testing.assert_allclose(g, sym, rtol=1e-4, atol=1e-6, err_msg="C gradient vs trace.grad (numpy)")


def test_gradient_of_mean_over_batch_and_feature_axes():
    """K.mean(K.square(p - t)) over all axes: dL/dp = 2 (p - t) / (B N). (Fails if trace._vjp's
    'mean' returns g/B as soon as the batch axis is among the reduced axes, dropping 1/N.)"""
    model = model_for(("grad", "mean_all_sq"))
    t, p = data(8)
    eng = _with_prediction(model, p)
    loss, g = eng.gradients(EYE, t)
    np.testing.assert_allclose(loss, np.mean((p.astype(np.float64) - t) ** 2), rtol=1e-5)
    np.testing.assert_allclose(g.reshape(B, N), 2 * (p.astype(np.float64) - t) / (B * N), rtol=1e-4, atol=1e-7)


def test_loss_gradient_through_scalar_subexpression_compiles():
    """A loss dividing by a batch statistic, p / (mean(|p|) + 1): the gradient sums back into a
    scalar node (reshape (1, 1) -> ()). (Fails if the emitter memcpy's into a scalar float.)"""
    model_for(("grad", "broadcast_mix"))


@pytest.mark.parametrize("name", sorted(GRADS))
def test_loss_reduction_is_mean_of_all_returned_values(name):
    """Keras's 'sum_over_batch_size': the compiled loss is the mean of everything the function
    returns (a scalar is taken as is)."""
    model = model_for(("grad", name))
    t, p = data(7)
    eng = _with_prediction(model, p)
    raw = trace.trace(GRADS[name][0], (N,), (N,), name)
    want = float(np.mean(trace.evaluate(raw, t, p), dtype=np.float64))
    np.testing.assert_allclose(eng.gradients(EYE, t)[0], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.test_on_batch(EYE, t), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("key", KEYS, ids=[f"{a}-{b}" for a, b in KEYS])
def test_json_round_trip_preserves_graphs(key):
    """The model description's expression graphs (their JSON form, as model.json holds them)
    re-serialise identically."""
    import json
    desc = model_for(key)._runtime.desc
    for nodes in [desc.loss.expr] + [m.expr for m in desc.metrics]:
        assert json.loads(json.dumps(trace.Expr.from_json(nodes).to_json())) == nodes
