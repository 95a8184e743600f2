"""Golden reference data for the recurrent layers (LSTM, GRU, SimpleRNN) and
Embedding, from real Keras 3 (torch backend; one case also with the jax backend).

Run from the repository root, AFTER make_goldens.py (that script deletes every
tests/golden/*.npz, including the rnn_*.npz written here):

    KERAS_BACKEND=torch /work/refenv/bin/python tests/golden/make_rnn_goldens.py

Writes tests/golden/rnn_manifest.json and tests/golden/rnn_<case>.npz.
Deletes only tests/golden/rnn_*.npz beforehand. Deterministic: data and *all*
weights come from np.random.default_rng with fixed seeds and are installed
with set_weights. Every Keras result is recomputed by an independent float64
numpy reference (explicit gate formulas; gradients by central finite
differences; training by explicit optimizer formulas) to pin down the
semantics documented in README.md.

The case `rnn_train_stateful_stacked_lstm_jax` is produced by re-running this
file as a subprocess with KERAS_BACKEND=jax (`--jax-worker IN_DIR OUT_DIR`).
"""

import os
import sys

JAX_WORKER = len(sys.argv) > 1 and sys.argv[1] == "--jax-worker"
if JAX_WORKER:
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
else:
    os.environ.setdefault("KERAS_BACKEND", "torch")

import importlib.metadata
import json
import math
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import keras  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_common import (Goldens, resolved_layer_config, resolved_opt_config, set_and_verify,  # noqa: E402
                           weights_dict)

F32 = np.float32
F64 = np.float64
OUT = Path(__file__).resolve().parent
PREFIX = "rnn_"

GOLDENS = Goldens(OUT, PREFIX)
MANIFEST, CHECKS, check, add_case = GOLDENS.manifest, GOLDENS.checks, GOLDENS.check, GOLDENS.add_case


# ---------------------------------------------------------------------------
# layer descriptions (config = the exact keyword arguments passed to Keras)
# ---------------------------------------------------------------------------


def L(cls, **cfg):
    return {"class": cls, "config": cfg}


def build_model(desc):
    if "batch_shape" in desc:
        inp = keras.Input(batch_shape=tuple(desc["batch_shape"]), dtype=desc.get("input_dtype", "float32"))
    else:
        inp = keras.Input(shape=tuple(desc["input_shape"]), dtype=desc.get("input_dtype", "float32"))
    layers = [inp]
    for ld in desc["layers"]:
        layers.append(getattr(keras.layers, ld["class"])(**ld["config"]))
    return keras.Sequential(layers)


def describe_model(desc, model):
    layers = []
    for ld, layer in zip(desc["layers"], model.layers):
        d = dict(ld)
        d["resolved"] = resolved_layer_config(layer)
        d["weights"] = [{"name": v.name, "shape": list(v.shape)} for v in layer.weights]
        layers.append(d)
    out = {"input_shape": desc["input_shape"]}
    for k in ("batch_shape", "input_dtype"):
        if k in desc:
            out[k] = desc[k]
    out["layers"] = layers
    return out


def weight_order(model):
    """get_weights() order as 'layers[i] Class.variable'."""
    out = [f"layers[{i}] {type(l).__name__}.{v.name}" for i, l in enumerate(model.layers) for v in l.weights]
    assert len(out) == len(model.get_weights())
    return out


def init_weights(model, rng, scale=1.0):
    """Explicit weights in get_weights() order, by variable name:
    kernel / recurrent_kernel: U(-lim, lim), lim = scale*sqrt(6/(rows+cols));
    RNN bias: U(-0.3, 0.3) (GRU reset_after: both rows); Dense bias: U(-0.1, 0.1);
    embeddings: U(-1, 1)."""
    ws = []
    for layer in model.layers:
        is_rnn = isinstance(layer, keras.layers.RNN)
        for v in layer.weights:
            shp = tuple(v.shape)
            if v.name == "embeddings":
                ws.append(rng.uniform(-1.0, 1.0, shp).astype(F32))
            elif v.name in ("kernel", "recurrent_kernel"):
                lim = scale * math.sqrt(6.0 / (shp[0] + shp[1]))
                ws.append(rng.uniform(-lim, lim, shp).astype(F32))
            elif v.name == "bias":
                b = 0.3 if is_rnn else 0.1
                ws.append(rng.uniform(-b, b, shp).astype(F32))
            else:
                raise KeyError(v.name)
    return ws


def opt_slots(model):
    """Optimizer slot variables, aligned with get_weights() order.
    RMSprop: velocity (v), momentum (m) when momentum > 0. Adam: momentum (m), velocity (v).
    SGD: momentum (m) when momentum > 0. Adagrad: accumulator (acc)."""
    opt = model.optimizer
    tv = model.trainable_variables
    assert [id(v) for v in tv] == [id(v) for v in model.weights]
    out = {}
    for slot, attr in (("m", "_momentums"), ("v", "_velocities"), ("m", "momentums"), ("acc", "_accumulators")):
        lst = getattr(opt, attr, None)
        if lst:
            out[slot] = [np.asarray(keras.ops.convert_to_numpy(lst[opt._get_variable_index(v)].value), dtype=F32) for v in tv]
    out["iterations"] = int(keras.ops.convert_to_numpy(opt.iterations.value))
    return out


def rnn_states(model):
    """[(layer index, [h, c] or [h])] for every stateful RNN layer."""
    out = []
    for i, l in enumerate(model.layers):
        if isinstance(l, keras.layers.RNN) and l.stateful:
            out.append((i, [np.asarray(keras.ops.convert_to_numpy(v.value), dtype=F32) for v in l.states]))
    return out


# ---------------------------------------------------------------------------
# independent float64 numpy reference
# ---------------------------------------------------------------------------

KINKS = {"relu": [0.0], "hard_sigmoid": [-3.0, 3.0]}


def np_act(name, z):
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "hard_sigmoid":  # Keras 3: relu6(x+3)/6 = clip(x/6 + 1/2, 0, 1)
        return np.clip(z / 6.0 + 0.5, 0.0, 1.0)
    if name == "linear":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)
    raise KeyError(name)


def n_weights(ld):
    c, cfg = ld["class"], ld["config"]
    if c == "Embedding":
        return 1
    if c in ("LSTM", "GRU", "SimpleRNN"):
        return 3 if cfg.get("use_bias", True) else 2
    if c == "Dense":
        return 2 if cfg.get("use_bias", True) else 1
    return 0


def np_rnn(cls, cfg, ws, x, state, probe, gate_perm=None):
    """One recurrent layer. x (N,T,F) float64. state: list or None (zeros).
    probe: list collecting (activation name, pre-activation array).
    gate_perm: only for the 'is the gate order observable' checks."""
    u = cfg["units"]
    act = cfg.get("activation", "tanh")
    ract = cfg.get("recurrent_activation", "sigmoid")
    W, U = ws[0], ws[1]
    b = ws[2] if cfg.get("use_bias", True) else None
    N, T, _ = x.shape
    xs = x[:, ::-1] if cfg.get("go_backwards", False) else x
    outs = []
    if cls == "LSTM":
        h, c = (state if state is not None else [np.zeros((N, u)), np.zeros((N, u))])
        for t in range(T):
            z = xs[:, t] @ W + h @ U
            if b is not None:
                z = z + b
            parts = np.split(z, 4, axis=1)
            if gate_perm is not None:
                parts = [parts[k] for k in gate_perm]
            zi, zf, zc, zo = parts  # gate order i, f, c, o
            c = np_act(ract, zf) * c + np_act(ract, zi) * np_act(act, zc)
            h = np_act(ract, zo) * np_act(act, c)
            probe += [(ract, zi), (ract, zf), (ract, zo), (act, zc), (act, c)]
            outs.append(h)
        new_state = [h, c]
    elif cls == "GRU":
        reset_after = cfg.get("reset_after", True)
        h = state[0] if state is not None else np.zeros((N, u))
        for t in range(T):
            mx = xs[:, t] @ W
            if b is not None:
                mx = mx + (b[0] if reset_after else b)  # input bias
            xz, xr, xh = np.split(mx, 3, axis=1)  # gate order z, r, h
            if reset_after:
                mh = h @ U
                if b is not None:
                    mh = mh + b[1]  # recurrent bias
                hz, hr, hh = np.split(mh, 3, axis=1)
                if gate_perm is not None:
                    (xz, hz), (xr, hr) = (xr, hr), (xz, hz)
                z = np_act(ract, xz + hz)
                r = np_act(ract, xr + hr)
                pre = xh + r * hh  # reset applied AFTER the recurrent matmul (+ its bias)
            else:
                hz, hr = np.split(h @ U[:, : 2 * u], 2, axis=1)
                z = np_act(ract, xz + hz)
                r = np_act(ract, xr + hr)
                pre = xh + (r * h) @ U[:, 2 * u :]  # reset applied BEFORE the matmul
            probe += [(ract, xz + hz), (ract, xr + hr), (act, pre)]
            h = z * h + (1.0 - z) * np_act(act, pre)
            outs.append(h)
        new_state = [h]
    elif cls == "SimpleRNN":
        h = state[0] if state is not None else np.zeros((N, u))
        for t in range(T):
            pre = xs[:, t] @ W + h @ U
            if b is not None:
                pre = pre + b
            probe.append((act, pre))
            h = np_act(act, pre)
            outs.append(h)
        new_state = [h]
    else:
        raise KeyError(cls)
    # return_sequences: outputs in PROCESSING order (for go_backwards: not re-reversed)
    out = np.stack(outs, axis=1) if cfg.get("return_sequences", False) else h
    return out, new_state


def np_forward(desc, ws, x, states=None, probe=None, gate_perm=None):
    """Whole Sequential model in float64. states: {layer index: [..]} or None.
    Returns (y, new_states)."""
    probe = [] if probe is None else probe
    h = x if np.issubdtype(np.asarray(x).dtype, np.integer) else np.asarray(x, dtype=F64)
    k = 0
    new_states = {}
    for i, ld in enumerate(desc["layers"]):
        c, cfg = ld["class"], ld["config"]
        n = n_weights(ld)
        lw = ws[k : k + n]
        k += n
        if c == "Embedding":
            h = lw[0][h]
        elif c in ("LSTM", "GRU", "SimpleRNN"):
            st = None if states is None else states.get(i)
            h, new_states[i] = np_rnn(c, cfg, lw, h, st, probe, gate_perm)
        elif c == "Dense":
            z = h @ lw[0]
            if len(lw) > 1:
                z = z + lw[1]
            probe.append((cfg.get("activation", "linear"), z))
            h = np_act(cfg.get("activation", "linear"), z)
        elif c == "Flatten":
            h = h.reshape(h.shape[0], -1)
        else:
            raise KeyError(c)
    assert k == len(ws)
    return h, new_states


def fd_grads(f, params, eps=1e-6):
    """Central finite differences of scalar f() w.r.t. every float64 array in
    params (perturbed in place and restored)."""
    grads = []
    for p in params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            fp = f()
            p[idx] = old - eps
            fm = f()
            p[idx] = old
            g[idx] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads


def kink_gap(probe):
    """Smallest distance of any pre-activation feeding relu / hard_sigmoid from a kink.
    Exact zeros are skipped: they only arise as a relu-gated cell state that is
    identically 0 in a neighbourhood (c_0 = 0 and relu(z_c) = 0), where every
    sub-gradient convention agrees."""
    gap = np.inf
    for name, z in probe:
        for k in KINKS.get(name, []):
            d = np.abs(z - k)
            d = d[z != 0.0] if k == 0.0 else d
            if d.size:
                gap = min(gap, float(d.min()))
    return gap


def np_loss(loss, y, p):
    eps = 1e-7
    if loss == "categorical_crossentropy":
        q = np.clip(p / p.sum(-1, keepdims=True), eps, 1 - eps)
        return float(np.mean(-np.sum(y * np.log(q), -1)))
    if loss == "binary_crossentropy":
        q = np.clip(p, eps, 1 - eps)
        return float(np.mean(np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q)), -1)))
    if loss == "mse":
        return float(np.mean(np.mean((p - y) ** 2, -1)))
    raise KeyError(loss)


def np_accuracy(loss, y, p):
    if loss == "categorical_crossentropy":
        return float(np.mean(np.argmax(p, -1) == np.argmax(y, -1)))
    if loss == "binary_crossentropy":
        return float(np.mean((p > 0.5) == (y > 0.5)))
    raise KeyError(loss)


def np_train(desc, w0, x, y, loss, opt, bs, steps, stateful=False):
    """Replicates `steps` x train_on_batch in float64: forward, loss, gradient by
    finite differences, then the optimizer formula. With stateful=True the
    final RNN states of batch s (computed with the pre-update weights) are the
    initial states of batch s+1 (no gradient flows across batches)."""
    ws = [np.array(w, dtype=F64) for w in w0]
    m = [np.zeros_like(w) for w in ws]
    v = [np.zeros_like(w) for w in ws]
    states = None
    hist = {"losses": [], "acc": [], "w": [], "m": [], "v": []}
    for s in range(steps):
        xb, yb = x[s * bs : (s + 1) * bs], y[s * bs : (s + 1) * bs]
        st = states

        def f():
            return np_loss(loss, yb, np_forward(desc, ws, xb, st)[0])

        p, new_states = np_forward(desc, ws, xb, st)
        hist["losses"].append(np_loss(loss, yb, p))
        if loss != "mse":
            hist["acc"].append(np_accuracy(loss, yb, p))
        g = fd_grads(f, ws)
        t = s + 1
        for i in range(len(ws)):
            if opt == "rmsprop":  # rho 0.9, lr 1e-3, eps 1e-7 (inside the sqrt)
                v[i] = 0.9 * v[i] + 0.1 * g[i] ** 2
                ws[i] = ws[i] - 1e-3 * g[i] / np.sqrt(v[i] + 1e-7)
            elif opt == "adam":  # lr 1e-3, b1 0.9, b2 0.999, eps 1e-7
                m[i] = m[i] + (g[i] - m[i]) * 0.1
                v[i] = v[i] + (g[i] ** 2 - v[i]) * 0.001
                alpha = 1e-3 * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
                ws[i] = ws[i] - alpha * m[i] / (np.sqrt(v[i]) + 1e-7)
            elif opt == "sgd":  # lr 0.01
                ws[i] = ws[i] - 0.01 * g[i]
            else:
                raise KeyError(opt)
        hist["w"].append([w.copy() for w in ws])
        hist["m"].append([a.copy() for a in m])
        hist["v"].append([a.copy() for a in v])
        if stateful:
            states = new_states
    return hist


def max_err(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=F64) - np.asarray(b, dtype=F64))))


# ---------------------------------------------------------------------------
# 1. layer_forward
# ---------------------------------------------------------------------------

IN_SHAPE = [5, 4]  # timesteps 5, features 4; batch 3; units 3


def layer_case_specs():
    """(short name, group seed, weight scale, model desc). Cases with the same
    group seed and scale share x and the weights (kernel, recurrent_kernel in
    front; the bias-free case simply has no bias)."""
    S = IN_SHAPE
    lstm = lambda **k: L("LSTM", units=3, **k)  # noqa: E731
    gru = lambda **k: L("GRU", units=3, **k)  # noqa: E731
    srnn = lambda **k: L("SimpleRNN", units=3, **k)  # noqa: E731
    emb_in = {"input_shape": [5], "input_dtype": "int32"}
    return [
        ("lstm", 9100, 1.0, {"input_shape": S, "layers": [lstm()]}),
        ("lstm_return_sequences", 9100, 1.0, {"input_shape": S, "layers": [lstm(return_sequences=True)]}),
        ("lstm_go_backwards", 9100, 1.0, {"input_shape": S, "layers": [lstm(go_backwards=True)]}),
        ("lstm_go_backwards_return_sequences", 9100, 1.0, {"input_shape": S, "layers": [lstm(go_backwards=True, return_sequences=True)]}),
        ("lstm_relu", 9100, 1.0, {"input_shape": S, "layers": [lstm(activation="relu")]}),
        ("lstm_hard_sigmoid", 9200, 2.5, {"input_shape": S, "layers": [lstm(recurrent_activation="hard_sigmoid")]}),
        ("lstm_nobias", 9100, 1.0, {"input_shape": S, "layers": [lstm(use_bias=False)]}),
        ("lstm_no_unit_forget_bias", 9100, 1.0, {"input_shape": S, "layers": [lstm(unit_forget_bias=False)]}),
        ("embedding", 9300, 1.0, dict(emb_in, layers=[L("Embedding", input_dim=10, output_dim=4)])),
        ("embedding_lstm", 9400, 1.0, dict(emb_in, layers=[L("Embedding", input_dim=10, output_dim=4), lstm()])),
        ("gru", 9500, 1.0, {"input_shape": S, "layers": [gru()]}),
        ("gru_reset_after_false", 9500, 1.0, {"input_shape": S, "layers": [gru(reset_after=False)]}),
        ("gru_return_sequences", 9500, 1.0, {"input_shape": S, "layers": [gru(return_sequences=True)]}),
        ("gru_go_backwards", 9500, 1.0, {"input_shape": S, "layers": [gru(go_backwards=True)]}),
        ("gru_go_backwards_return_sequences", 9500, 1.0, {"input_shape": S, "layers": [gru(go_backwards=True, return_sequences=True)]}),
        ("simplernn", 9600, 1.0, {"input_shape": S, "layers": [srnn()]}),
        ("simplernn_return_sequences", 9600, 1.0, {"input_shape": S, "layers": [srnn(return_sequences=True)]}),
        ("simplernn_relu", 9600, 1.0, {"input_shape": S, "layers": [srnn(activation="relu")]}),
        ("simplernn_go_backwards", 9600, 1.0, {"input_shape": S, "layers": [srnn(go_backwards=True)]}),
        ("simplernn_go_backwards_return_sequences", 9600, 1.0, {"input_shape": S, "layers": [srnn(go_backwards=True, return_sequences=True)]}),
    ]


EMB_X = np.array([[0, 9, 3, 3, 1], [9, 9, 0, 5, 2], [4, 0, 7, 9, 3]], dtype=np.int32)  # 0 and 9 present, repeats


def draw_inputs(desc, rng, batch=3):
    if desc.get("input_dtype") == "int32":
        return EMB_X.copy()
    return rng.standard_normal((batch, *desc["input_shape"])).astype(F32)


def grads_through_model(model, x, r):
    import torch

    for v in model.weights:
        v.value.grad = None
    is_int = np.issubdtype(x.dtype, np.integer)
    xt = torch.tensor(x) if is_int else torch.tensor(x, requires_grad=True)
    yt = model(xt)
    (yt * torch.tensor(r)).sum().backward()
    dws = []
    for v in model.weights:
        g = v.value.grad
        dws.append(np.zeros(v.shape, F32) if g is None else g.detach().numpy().copy())
    return yt.detach().numpy(), (None if is_int else xt.grad.numpy().copy()), dws


def layer_forward_cases():
    results = {}
    for idx, (short, seed, scale, desc) in enumerate(layer_case_specs()):
        name = f"{PREFIX}layer_{short}"
        model = build_model(desc)
        keras_init = [np.asarray(w) for w in model.get_weights()]  # Keras's own initial values
        rng = np.random.default_rng(seed)
        special = any(ld["config"].get("activation") == "relu" or ld["config"].get("recurrent_activation") == "hard_sigmoid" for ld in desc["layers"])
        for _attempt in range(200):
            x = draw_inputs(desc, rng)
            ws = init_weights(model, rng, scale)
            probe = []
            np_forward(desc, [w.astype(F64) for w in ws], x, probe=probe)
            gap = kink_gap(probe)
            if not special or gap > 1e-3:
                break
        else:
            raise RuntimeError(f"{name}: could not keep pre-activations away from kinks")
        set_and_verify(model, ws)
        y = model.predict(x, batch_size=len(x), verbose=0)
        r = np.random.default_rng(seed + 100 + idx).standard_normal(y.shape).astype(F32)
        y_direct, dx, dws = grads_through_model(model, x, r)
        check(f"{name}: predict == model(x)", np.allclose(y, y_direct, rtol=1e-6, atol=1e-6), f"{max_err(y, y_direct)}")

        # float64 reference: forward, and gradients of sum(y*r) by finite differences
        w64 = [w.astype(F64) for w in ws]
        probe = []
        ry, _ = np_forward(desc, w64, x, probe=probe)
        is_int = np.issubdtype(x.dtype, np.integer)
        x64 = None if is_int else x.astype(F64)

        def f():
            return float(np.sum(np_forward(desc, w64, x if is_int else x64)[0] * r))

        rgrads = fd_grads(f, ([] if is_int else [x64]) + w64)
        rdx = None if is_int else rgrads[0]
        rdws = rgrads if is_int else rgrads[1:]
        check(f"{name}: output shape", list(ry.shape) == list(y.shape), f"{ry.shape} vs {y.shape}")
        check(f"{name}: y == numpy ref", np.allclose(y, ry, rtol=1e-5, atol=1e-6), f"max err {max_err(y, ry)}")
        if dx is not None:
            check(f"{name}: dx == numpy ref (FD)", np.allclose(dx, rdx, rtol=1e-4, atol=1e-5), f"max err {max_err(dx, rdx)}")
        for i, (a, bref) in enumerate(zip(dws, rdws)):
            check(f"{name}: dw_{i} == numpy ref (FD)", np.allclose(a, bref, rtol=1e-4, atol=1e-5), f"max err {max_err(a, bref)}")
        check(f"{name}: #grads", len(dws) == len(rdws) == len(ws))
        gap = kink_gap(probe)
        if special:
            check(f"{name}: no relu/hard_sigmoid pre-activation within 1e-3 of a kink", gap > 1e-3, str(gap))

        desc_out = {
            "kind": "layer_forward",
            "model": describe_model(desc, model),
            "batch": int(x.shape[0]),
            "output_shape": list(y.shape),
            "weight_order": weight_order(model),
        }
        arrays = {"x": x}
        arrays.update(weights_dict("w", ws))
        arrays.update({"y": y.astype(F32), "r": r})
        if dx is not None:
            arrays["dx"] = dx
        arrays.update(weights_dict("dw", dws))
        info = {}
        if special:
            info["min_distance_of_preactivations_from_kinks"] = gap
            if any(ld["config"].get("recurrent_activation") == "hard_sigmoid" for ld in desc["layers"]):
                gz = np.concatenate([z.ravel() for n_, z in probe if n_ == "hard_sigmoid"])
                info["hard_sigmoid_preactivations"] = {"total": int(gz.size), "below_-3": int(np.sum(gz < -3)), "above_3": int(np.sum(gz > 3))}
                check(f"{name}: both hard_sigmoid saturation regions exercised", np.sum(gz < -3) > 0 and np.sum(gz > 3) > 0, str(info["hard_sigmoid_preactivations"]))
            if any(ld["config"].get("activation") == "relu" for ld in desc["layers"]):
                rz = np.concatenate([z.ravel() for n_, z in probe if n_ == "relu"])
                info["relu_inputs"] = {"total": int(rz.size), "negative": int(np.sum(rz < 0)), "exact_zero": int(np.sum(rz == 0)), "positive": int(np.sum(rz > 0))}
                check(f"{name}: relu sees both signs", np.sum(rz < 0) > 0 and np.sum(rz > 0) > 0, str(info["relu_inputs"]))
        if info:
            desc_out["activation_coverage"] = info
        first = desc["layers"][-1]  # the recurrent layer (or the lone Embedding)
        if first["class"] == "LSTM" and first["config"].get("use_bias", True):
            # what Keras's own bias initializer produces (not used: weights are set explicitly)
            arrays["keras_initial_bias"] = np.asarray(keras_init[-1], dtype=F32)
            desc_out["keras_initial_bias_note"] = (
                "keras_initial_bias = the bias Keras itself initialised before set_weights: "
                "unit_forget_bias=True gives zeros except ones in the forget-gate block [u:2u]; "
                "False gives all zeros. It does not affect any other array (weights are set explicitly)."
            )
        if first["class"] == "GRU":
            desc_out["gru_bias_layout"] = (
                "reset_after=True: bias (2, 3u); row 0 = input bias (added to x@kernel), row 1 = recurrent bias "
                "(added to h@recurrent_kernel, so its h-block is multiplied by r); columns [z | r | h]"
                if first["config"].get("reset_after", True)
                else "reset_after=False: bias (3u,), columns [z | r | h], added to x@kernel only"
            )
        if first["config"].get("go_backwards"):
            desc_out["go_backwards_semantics"] = (
                "the layer reads x[:, T-1], x[:, T-2], ..., x[:, 0]; with return_sequences the output is in "
                "PROCESSING order (y[:, k] = state after consuming x[:, T-1-k]), NOT re-reversed; y[:, -1] is the "
                "final state = the return_sequences=False output"
            )
        if first["class"] == "Embedding" and len(desc["layers"]) == 1:
            desc_out["embedding_gradient"] = (
                "dw_0 (input_dim, output_dim) is dense: row k = sum of r over all positions where x == k "
                "(repeated indices accumulate), rows of unused indices are exactly 0"
            )
        add_case(name, desc_out, arrays)
        results[short] = {"x": x, "ws": ws, "y": y, "desc": desc}

    # --- cross-case semantics checks ----------------------------------------
    R = results
    check("lstm: return_sequences[:, -1] == default output", np.allclose(R["lstm_return_sequences"]["y"][:, -1], R["lstm"]["y"], atol=1e-6))
    check("lstm: go_backwards+return_sequences[:, -1] == go_backwards output", np.allclose(R["lstm_go_backwards_return_sequences"]["y"][:, -1], R["lstm_go_backwards"]["y"], atol=1e-6))
    check("lstm: go_backwards == default LSTM on time-reversed x", np.allclose(R["lstm_go_backwards"]["y"], np_forward(R["lstm"]["desc"], [w.astype(F64) for w in R["lstm"]["ws"]], R["lstm"]["x"][:, ::-1])[0], atol=1e-5))
    gbrs = R["lstm_go_backwards_return_sequences"]
    rev = np_forward(R["lstm_return_sequences"]["desc"], [w.astype(F64) for w in gbrs["ws"]], gbrs["x"][:, ::-1])[0]
    check("lstm: go_backwards+return_sequences == forward-LSTM sequence on reversed x (processing order)", np.allclose(gbrs["y"], rev, atol=1e-5))
    check("lstm: go_backwards+return_sequences is NOT re-reversed to input time order", not np.allclose(gbrs["y"], rev[:, ::-1], atol=1e-3))
    check("lstm: unit_forget_bias=False gives the same output as default with explicit weights", np.array_equal(R["lstm_no_unit_forget_bias"]["y"], R["lstm"]["y"]))
    for fam in ("gru", "simplernn"):
        check(f"{fam}: return_sequences[:, -1] == default", np.allclose(R[f"{fam}_return_sequences"]["y"][:, -1], R[fam]["y"], atol=1e-6))
        check(f"{fam}: go_backwards+return_sequences[:, -1] == go_backwards", np.allclose(R[f"{fam}_go_backwards_return_sequences"]["y"][:, -1], R[f"{fam}_go_backwards"]["y"], atol=1e-6))
    # the reference's gate order is actually observable (a permuted order would not match)
    for fam, perm in (("lstm", [1, 0, 2, 3]), ("gru", "swap_zr")):
        d = R[fam]
        alt = np_forward(d["desc"], [w.astype(F64) for w in d["ws"]], d["x"], gate_perm=perm)[0]
        check(f"{fam}: a permuted gate order does NOT reproduce Keras", not np.allclose(alt, d["y"], atol=1e-3))
    check("gru: reset_after True/False differ with the same kernels", not np.allclose(R["gru"]["y"], R["gru_reset_after_false"]["y"], atol=1e-3))


# ---------------------------------------------------------------------------
# 2. stateful predict
# ---------------------------------------------------------------------------


def stateful_cases():
    specs = [
        (
            "lstm",
            {"input_shape": [4, 3], "batch_shape": [2, 4, 3], "layers": [L("LSTM", units=3, stateful=True, return_sequences=True)]},
        ),
        (
            "stacked",
            {
                "input_shape": [4, 3],
                "batch_shape": [2, 4, 3],
                "layers": [
                    L("LSTM", units=4, stateful=True, return_sequences=True),
                    L("LSTM", units=3, stateful=True),
                    L("Dense", units=2, activation="softmax"),
                ],
            },
        ),
    ]
    for idx, (short, desc) in enumerate(specs):
        name = f"{PREFIX}stateful_{short}"
        rng = np.random.default_rng(9700 + idx)
        model = build_model(desc)
        ws = init_weights(model, rng)
        set_and_verify(model, ws)
        xs = [rng.standard_normal((2, 4, 3)).astype(F32) for _ in range(3)]
        arrays = {f"x{k + 1}": x for k, x in enumerate(xs)}
        arrays.update(weights_dict("w", ws))
        ys, sts = [], []
        for x in xs:
            ys.append(model.predict(x, batch_size=2, verbose=0))
            sts.append(rnn_states(model))
        has_model_reset = hasattr(model, "reset_states") or hasattr(model, "reset_state")
        for layer in model.layers:
            if isinstance(layer, keras.layers.RNN) and layer.stateful:
                layer.reset_states()
        zero_after_reset = all(np.all(s == 0) for _, st in rnn_states(model) for s in st)
        ys.append(model.predict(xs[0], batch_size=2, verbose=0))
        sts.append(rnn_states(model))
        for k, (y, st) in enumerate(zip(ys, sts)):
            arrays[f"y{k + 1}"] = y.astype(F32)
            for li, states in st:
                for j, s in enumerate(states):
                    arrays[f"state{k + 1}_l{li}_{j}"] = s
        # checks against the float64 reference with carried state
        w64 = [w.astype(F64) for w in ws]
        states = None
        for k, x in enumerate(xs + [xs[0]]):
            if k == 3:
                states = None  # reset
            ry, states = np_forward(desc, w64, x, states)
            check(f"{name}: y{k + 1} == numpy ref (state carried)", np.allclose(ys[k], ry, rtol=1e-5, atol=1e-6), f"max err {max_err(ys[k], ry)}")
            for li, kst in sts[k]:
                for j, s in enumerate(kst):
                    check(f"{name}: state{k + 1} layer {li}[{j}] == numpy ref", np.allclose(s, states[li][j], rtol=1e-5, atol=1e-6))
        fresh = np_forward(desc, w64, xs[1])[0]
        check(f"{name}: y2 depends on the carried state", not np.allclose(ys[1], fresh, atol=1e-3))
        check(f"{name}: y4 (after reset, x1 again) == y1", np.allclose(ys[3], ys[0], rtol=0, atol=1e-7), f"{max_err(ys[3], ys[0])}")
        check(f"{name}: layer.reset_states() zeroes the state", zero_after_reset)
        check(f"{name}: Keras 3 Sequential has no reset_states()", not has_model_reset)
        state_names = []
        for li, st in sts[0]:
            cls = type(model.layers[li]).__name__
            state_names += [f"state{{k}}_l{li}_{j}: layers[{li}] {cls} {'h' if j == 0 else 'c'} (2,{st[j].shape[1]})" for j in range(len(st))]
        desc_out = {
            "kind": "stateful",
            "model": describe_model(desc, model),
            "weight_order": weight_order(model),
            "procedure": "y1 = predict(x1); y2 = predict(x2); y3 = predict(x3) (batch_size 2, state carried from call "
            "to call); then layer.reset_states() on every stateful RNN layer; y4 = predict(x1). "
            "state{k}_l{i}_{j} = the layer's state variables right after call k (j: 0 = h, 1 = c).",
            "state_arrays": state_names,
            "reset": "Keras 3 Sequential/Model has no reset_states(); call layer.reset_states() (alias of "
            "layer.reset_state()) on each stateful RNN layer. It assigns zeros to the layer's state variables, "
            "which were created as zeros (batch, units) when the layer was built.",
            "y4_equals_y1": bool(np.allclose(ys[3], ys[0], rtol=0, atol=1e-7)),
        }
        add_case(name, desc_out, arrays)


# ---------------------------------------------------------------------------
# 3. train
# ---------------------------------------------------------------------------


def stacked_lstm_data(rng, n):
    x = rng.standard_normal((n, 6, 5)).astype(F32)
    y = rng.random((n, 3)).astype(F32)  # NOT normalised, as in the stacked-LSTM tutorial
    return x, y


def embedding_data(rng, n):
    """Integer sequences of length 7 over a vocabulary of 20. Batch 0 (rows 0..7)
    uses indices 0..16, batches 1..4 only 0..13: rows 14, 15, 16 of the
    embedding matrix get a gradient in step 1 only, rows 17, 18, 19 never.
    Some rows use only one or two distinct indices."""
    x = np.zeros((n, 7), dtype=np.int32)
    x[:8] = rng.integers(0, 17, (8, 7))
    x[0, :3] = [14, 15, 16]
    x[8:] = rng.integers(0, 14, (n - 8, 7))
    x[9] = 3  # one index only
    x[17] = [1, 2, 1, 2, 1, 2, 1]
    x[26] = [5, 5, 5, 5, 5, 5, 0]
    x[35] = 13
    y = (x.mean(axis=1) > 6.5).astype(F32).reshape(n, 1)
    return x, y


def gru_data(rng, n):
    x = rng.standard_normal((n, 6, 3)).astype(F32)
    a = rng.standard_normal(3)
    cls = ((x.sum(axis=1) @ a + 0.3 * rng.standard_normal(n)) > 0).astype(int)
    return x, np.eye(2, dtype=F32)[cls]


def simplernn_data(rng, n):
    x = rng.standard_normal((n, 6, 3)).astype(F32)
    a = rng.standard_normal((6, 3)) / math.sqrt(18)
    y = (np.tanh(np.einsum("ntf,tf->n", x, a)) + 0.1 * rng.standard_normal(n)).astype(F32).reshape(n, 1)
    return x, y


EMB_NET = {"input_shape": [7], "input_dtype": "int32", "layers": [L("Embedding", input_dim=20, output_dim=6), L("LSTM", units=5), L("Dense", units=1, activation="sigmoid")]}


def train_specs():
    return [
        (
            "stacked_lstm_rmsprop",
            {
                "input_shape": [6, 5],
                "layers": [
                    L("LSTM", units=4, return_sequences=True),
                    L("LSTM", units=4, return_sequences=True),
                    L("LSTM", units=4),
                    L("Dense", units=3, activation="softmax"),
                ],
            },
            stacked_lstm_data,
            9801,
            "categorical_crossentropy",
            ["accuracy"],
            "rmsprop",
            "non-normalised random float targets in [0,1) (N,3), as in the stacked-LSTM tutorial",
        ),
        ("embedding_lstm_rmsprop", EMB_NET, embedding_data, 9802, "binary_crossentropy", ["accuracy"], "rmsprop", "0/1 float labels (N,1): mean index > 6.5"),
        ("embedding_lstm_adam", EMB_NET, embedding_data, 9802, "binary_crossentropy", ["accuracy"], "adam", "0/1 float labels (N,1): mean index > 6.5"),
        (
            "gru_adam",
            {"input_shape": [6, 3], "layers": [L("GRU", units=4), L("Dense", units=2, activation="softmax")]},
            gru_data,
            9803,
            "categorical_crossentropy",
            [],
            "adam",
            "one-hot float labels (N,2)",
        ),
        (
            "simplernn_sgd",
            {"input_shape": [6, 3], "layers": [L("SimpleRNN", units=4, return_sequences=True), L("Flatten"), L("Dense", units=1)]},
            simplernn_data,
            9804,
            "mse",
            [],
            "sgd",
            "float targets (N,1)",
        ),
    ]


OPT_DESC = {
    "rmsprop": {"class": "RMSprop", "config": {}, "as_written": "rmsprop"},
    "adam": {"class": "Adam", "config": {}, "as_written": "adam"},
    "sgd": {"class": "SGD", "config": {}, "as_written": "sgd"},
}


def slot_arrays(k, slots):
    out = {}
    for s in ("m", "v", "acc"):
        if s in slots:
            out.update(weights_dict(f"{s}{k}", slots[s]))
    return out


def slot_doc(opt):
    return {
        "rmsprop": "v{k}_i = RMSprop velocity slot of weight i after k steps (no momentum, not centered: no other slots)",
        "adam": "m{k}_i / v{k}_i = Adam first / second moment slots of weight i after k steps",
        "sgd": "SGD without momentum has no slots",
    }[opt]


def compare_train(name, arrays, ref, n_w, steps, opt, tol=2e-5):
    for s in range(steps):
        check(f"{name}: loss[{s}] == numpy ref", abs(arrays["losses"][s] - ref["losses"][s]) < 1e-5 * max(1.0, abs(ref["losses"][s])), f"{arrays['losses'][s]} vs {ref['losses'][s]}")
    errs = [max_err(arrays[f"w{k + 1}_{i}"], ref["w"][k][i]) for k in range(steps) for i in range(n_w)]
    check(f"{name}: w1..w{steps} == numpy ref ({opt} formula, FD gradients)", max(errs) < tol, f"max err {max(errs)}")
    return max(errs)


def full_batch_loss(desc, ws, x, y, loss):
    m = build_model(desc)
    m.compile(optimizer="sgd", loss=loss)
    set_and_verify(m, ws)
    return float(m.evaluate(x, y, batch_size=len(x), verbose=0))


def train_cases():
    n, bs, steps = 40, 8, 5
    results = {}
    for short, desc, data_fn, seed, loss, metrics, opt, label_format in train_specs():
        name = f"{PREFIX}train_{short}"
        rng = np.random.default_rng(seed)
        x, y = data_fn(rng, n)
        model = build_model(desc)
        w0 = init_weights(model, rng)
        model.compile(optimizer=opt, loss=loss, metrics=metrics)
        set_and_verify(model, w0)
        arrays = {"x": x, "y": y}
        arrays.update(weights_dict("w0", w0))
        losses, accs = [], []
        for s in range(steps):
            xb, yb = x[s * bs : (s + 1) * bs], y[s * bs : (s + 1) * bs]
            if s == 0:
                pre = full_batch_loss(desc, model.get_weights(), xb, yb, loss)
            out = model.train_on_batch(xb, yb, return_dict=True)
            if s == 0:
                check(f"{name}: train_on_batch returns pre-update batch loss", abs(out["loss"] - pre) < 1e-6 * max(1, abs(pre)), f"{out['loss']} vs {pre}")
            losses.append(float(out["loss"]))
            if "accuracy" in out:
                accs.append(float(out["accuracy"]))
            arrays.update(weights_dict(f"w{s + 1}", model.get_weights()))
            slots = opt_slots(model)
            check(f"{name}: iterations == {s + 1}", slots["iterations"] == s + 1)
            arrays.update(slot_arrays(s + 1, slots))
        arrays["losses"] = np.array(losses, dtype=F64)
        if accs:
            arrays["accuracy"] = np.array(accs, dtype=F64)
        ref = np_train(desc, w0, x, y, loss, opt, bs, steps)
        err = compare_train(name, arrays, ref, len(w0), steps, opt)
        if accs:
            check(f"{name}: per-batch accuracy == numpy ref", np.allclose(accs, ref["acc"], atol=1e-6), f"{accs} vs {ref['acc']}")
        slot_err = 0.0
        for k in range(steps):
            for s_ in ("m", "v"):
                if f"{s_}{k + 1}_0" in arrays:
                    slot_err = max(slot_err, max(max_err(arrays[f"{s_}{k + 1}_{i}"], ref[s_][k][i]) / max(1e-3, float(np.abs(ref[s_][k][i]).max())) for i in range(len(w0))))
        check(f"{name}: optimizer slots == numpy ref (relative)", slot_err < 1e-3, f"{slot_err}")
        full0 = full_batch_loss(desc, w0, x, y, loss)
        full5 = full_batch_loss(desc, model.get_weights(), x, y, loss)
        check(f"{name}: full-data loss decreased", full5 < full0, f"{full0:.6f} -> {full5:.6f}")
        check(f"{name}: finite", all(np.all(np.isfinite(v)) for v in arrays.values()))
        odesc = dict(OPT_DESC[opt])
        odesc["resolved"] = resolved_opt_config(model.optimizer)
        desc_out = {
            "kind": "train",
            "model": describe_model(desc, model),
            "layer_output_shapes": [list(l.output.shape[1:]) for l in model.layers],
            "compile": {"optimizer": odesc, "loss": loss, "metrics": metrics},
            "n_samples": n,
            "batch_size": bs,
            "steps": steps,
            "procedure": "for s in 0..steps-1: out = model.train_on_batch(x[s*bs:(s+1)*bs], y[s*bs:(s+1)*bs], "
            "return_dict=True); losses[s] = out['loss'] (pre-update batch loss); w{s+1}_i = model.get_weights()[i] after that step"
            + ("; accuracy[s] = out['accuracy'] (metrics are reset on every train_on_batch call, so this is the per-batch value)" if accs else ""),
            "label_format": label_format,
            "weight_order": weight_order(model),
            "optimizer_slots": slot_doc(opt),
            "full_data_loss_initial": full0,
            "full_data_loss_final": full5,
            "numpy_reference_max_weight_error": err,
        }
        if short.startswith("embedding"):
            E = [arrays[f"w{k}_0"] for k in range(steps + 1)]
            touched = [sorted(set(np.unique(x[s * bs : (s + 1) * bs]).tolist())) for s in range(steps)]
            never = sorted(set(range(20)) - set().union(*map(set, touched)))
            first_only = sorted(set(touched[0]) - set().union(*map(set, touched[1:])))
            moved = [[int(r) for r in range(20) if not np.array_equal(E[k + 1][r], E[k][r])] for k in range(steps)]
            desc_out["embedding_rows_touched_per_step"] = touched
            desc_out["embedding_rows_never_touched"] = never
            desc_out["embedding_rows_touched_in_step_1_only"] = first_only
            desc_out["embedding_rows_changed_per_step"] = moved
            check(f"{name}: rows {never} never touched and never change", all(np.array_equal(E[5][r], E[0][r]) for r in never))
            if opt == "rmsprop":
                check(f"{name}: rows touched only in step 1 do not move afterwards (RMSprop: g=0 -> update 0)", all(np.array_equal(E[k][r], E[1][r]) for r in first_only for k in range(2, 6)))
                v = [arrays[f"v{k}_0"] for k in range(1, steps + 1)]
                check(f"{name}: ... but their velocity slot decays by rho=0.9 per step", all(np.allclose(v[k][r], 0.9 * v[k - 1][r], rtol=1e-6, atol=0) and np.all(v[k][r] > 0) for r in first_only for k in range(1, steps)))
                desc_out["embedding_optimizer_semantics"] = (
                    "gradients are dense (zero rows for unused indices) and RMSprop updates every row: v = 0.9 v + 0.1 g^2 "
                    "decays the slot of an untouched row while its weight update lr*g/sqrt(v+eps) is exactly 0"
                )
            else:
                check(f"{name}: rows touched only in step 1 keep moving in steps 2..5 (Adam momentum)", all(not np.array_equal(E[k][r], E[k - 1][r]) for r in first_only for k in range(2, 6)))
                m = [arrays[f"m{k}_0"] for k in range(1, steps + 1)]
                check(f"{name}: ... and their m slot decays by beta_1=0.9 per step", all(np.allclose(m[k][r], 0.9 * m[k - 1][r], rtol=1e-6, atol=0) for r in first_only for k in range(1, steps)))
                desc_out["embedding_optimizer_semantics"] = (
                    "gradients are dense and Adam updates every row: for a row with g=0 in this step, m and v decay "
                    "(m = 0.9 m, v = 0.999 v) and the weight still moves by alpha*m/(sqrt(v)+eps) if it was touched in an "
                    "earlier step (rows never touched have m = v = 0 and stay exactly unchanged)"
                )
        add_case(name, desc_out, arrays)
        results[short] = arrays
    check("embedding_lstm: rmsprop and adam cases share x, y and w0", all(np.array_equal(results["embedding_lstm_rmsprop"][a], results["embedding_lstm_adam"][a]) for a in ["x", "y"] + [f"w0_{i}" for i in range(6)]))


# ---------------------------------------------------------------------------
# 3e. stateful stacked LSTM training (torch use_cudnn=False, and jax)
# ---------------------------------------------------------------------------

STATEFUL_BATCH_SHAPE = [4, 5, 3]


def stateful_train_desc(use_cudnn_false):
    extra = {"use_cudnn": False} if use_cudnn_false else {}
    return {
        "input_shape": STATEFUL_BATCH_SHAPE[1:],
        "batch_shape": STATEFUL_BATCH_SHAPE,
        "layers": [
            L("LSTM", units=4, stateful=True, return_sequences=True, **extra),
            L("LSTM", units=4, stateful=True, **extra),
            L("Dense", units=2, activation="softmax"),
        ],
    }


def stateful_train_data():
    rng = np.random.default_rng(9900)
    x = rng.standard_normal((20, 5, 3)).astype(F32)
    y = rng.random((20, 2)).astype(F32)  # non-normalised, as in the stateful stacked-LSTM tutorial
    return x, y, rng


def run_stateful_train(desc, x, y, w0, bs=4, steps=5):
    """5 x train_on_batch on consecutive batches of 4 with state carried; returns arrays."""
    model = build_model(desc)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    set_and_verify(model, w0)
    arrays = {}
    losses = []
    for s in range(steps):
        out = model.train_on_batch(x[s * bs : (s + 1) * bs], y[s * bs : (s + 1) * bs])
        losses.append(float(out))
        arrays.update(weights_dict(f"w{s + 1}", model.get_weights()))
        arrays.update(slot_arrays(s + 1, opt_slots(model)))
        for li, st in rnn_states(model):
            for j, v in enumerate(st):
                arrays[f"state{s + 1}_l{li}_{j}"] = v
    arrays["losses"] = np.array(losses, dtype=F64)
    return model, arrays


def jax_worker(in_dir, out_dir):
    """Runs in a subprocess with KERAS_BACKEND=jax."""
    import jax

    keras.utils.set_random_seed(0)
    inp = np.load(Path(in_dir) / "in.npz")
    n_w = int(inp["n_w"])
    w0 = [inp[f"w0_{i}"] for i in range(n_w)]
    desc = stateful_train_desc(False)
    model, arrays = run_stateful_train(desc, inp["x"], inp["y"], w0)
    # does predict carry state in this backend?
    for layer in model.layers:
        if isinstance(layer, keras.layers.RNN):
            layer.reset_states()
    p1 = model.predict(inp["x"][:4], batch_size=4, verbose=0)
    p2 = model.predict(inp["x"][:4], batch_size=4, verbose=0)
    np.savez(Path(out_dir) / "out.npz", **arrays)
    info = {
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "jax_version": jax.__version__,
        "jaxlib_version": importlib.metadata.version("jaxlib"),
        "jax_devices": [str(d) for d in jax.devices()],
        "optimizer_resolved": resolved_opt_config(model.optimizer),
        "layer_resolved": [resolved_layer_config(l) for l in model.layers],
        "weight_order": weight_order(model),
        "predict_twice_same_output": bool(np.array_equal(p1, p2)),
        "states_after_training_all_zero": bool(all(np.all(arrays[k] == 0) for k in arrays if k.startswith("state"))),
    }
    (Path(out_dir) / "info.json").write_text(json.dumps(info))


def stateful_train_cases():
    x, y, rng = stateful_train_data()
    probe_model = build_model(stateful_train_desc(False))
    w0 = init_weights(probe_model, rng)
    bs, steps = 4, 5
    carried = np_train(stateful_train_desc(False), w0, x, y, "categorical_crossentropy", "rmsprop", bs, steps, stateful=True)
    reset = np_train(stateful_train_desc(False), w0, x, y, "categorical_crossentropy", "rmsprop", bs, steps, stateful=False)

    # default torch path: fails
    torch_error = None
    m_def = build_model(stateful_train_desc(False))
    m_def.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    set_and_verify(m_def, w0)
    try:
        m_def.train_on_batch(x[:4], y[:4])
    except Exception as e:  # noqa: BLE001
        torch_error = f"{type(e).__name__}: {str(e).splitlines()[0].split(' Hint:')[0]}"
    check("stateful train: torch default LSTM path raises the in-place autograd error", torch_error is not None and "inplace" in torch_error, str(torch_error))

    # use_cudnn=False: the generic RNN loop, whose step() copies the states on torch
    desc = stateful_train_desc(True)
    m_chk = build_model(desc)
    m_ref = build_model({k: v for k, v in stateful_train_desc(False).items()})
    set_and_verify(m_chk, w0)
    set_and_verify(m_ref, w0)
    a_ = m_chk.predict(x[:4], batch_size=4, verbose=0)
    b_ = m_ref.predict(x[:4], batch_size=4, verbose=0)
    check("stateful train: use_cudnn=False forward == default forward (same math)", np.allclose(a_, b_, rtol=1e-6, atol=1e-7), f"{max_err(a_, b_)}")
    model, arrays = run_stateful_train(desc, x, y, w0, bs, steps)
    name = f"{PREFIX}train_stateful_stacked_lstm"
    err = compare_train(name, arrays, carried, len(w0), steps, "rmsprop")
    check(f"{name}: differs from the state-reset-every-batch reference", max_err(arrays["losses"], reset["losses"]) > 1e-4, f"{max_err(arrays['losses'], reset['losses'])}")
    vel_err = max(max_err(arrays[f"v{k + 1}_{i}"], carried["v"][k][i]) / max(1e-3, float(np.abs(carried["v"][k][i]).max())) for k in range(steps) for i in range(len(w0)))
    check(f"{name}: velocity slots == numpy ref (relative)", vel_err < 1e-3, str(vel_err))
    # state after step s == numpy forward of batch s from the carried state, pre-update weights
    states = None
    ws_hist = [[w.astype(F64) for w in w0]] + [[arrays[f"w{k}_{i}"].astype(F64) for i in range(len(w0))] for k in range(1, steps + 1)]
    st_ok = True
    for s in range(steps):
        _, states = np_forward(stateful_train_desc(False), ws_hist[s], x[s * bs : (s + 1) * bs], states)
        for li in (0, 1):
            for j in (0, 1):
                st_ok &= np.allclose(arrays[f"state{s + 1}_l{li}_{j}"], states[li][j], rtol=1e-5, atol=1e-6)
    check(f"{name}: stored states == forward of the batch with pre-update weights from the carried state", st_ok)
    full_arrays = {"x": x, "y": y}
    full_arrays.update(weights_dict("w0", w0))
    full_arrays.update(arrays)
    common = {
        "kind": "train",
        "compile": {
            "optimizer": dict(OPT_DESC["rmsprop"], resolved=resolved_opt_config(model.optimizer)),
            "loss": "categorical_crossentropy",
            "metrics": [],
        },
        "n_samples": 20,
        "batch_size": bs,
        "steps": steps,
        "stateful": True,
        "label_format": "non-normalised random float targets in [0,1) (N,2), as in the stateful stacked-LSTM tutorial",
        "weight_order": weight_order(model),
        "optimizer_slots": slot_doc("rmsprop"),
    }
    desc_out = dict(common)
    desc_out.update(
        {
            "model": describe_model(desc, model),
            "layer_output_shapes": [list(l.output.shape[1:]) for l in model.layers],
            "procedure": "fresh model (states zero); for s in 0..4: losses[s] = model.train_on_batch(x[4s:4s+4], y[4s:4s+4]) "
            "with NO reset in between: row j of batch s+1 starts from the final (h, c) of row j of batch s, computed in "
            "step s's forward pass with the pre-update weights; no gradient flows across batches. "
            "w{s+1}_i = get_weights()[i], v{s+1}_i = RMSprop velocity, state{s+1}_l{i}_{j} = layers[i] state j (0 = h, 1 = c) after step s+1.",
            "state_carried": True,
            "backend_note": "torch backend. The layers are built with use_cudnn=False, which only selects Keras's generic "
            "RNN loop (same LSTM formulas; the forward pass was checked equal to the default path). With the default "
            f"use_cudnn='auto' Keras 3.15.1 + torch (CPU) fails in backward: {torch_error} LSTM.inner_loop calls backend.lstm "
            "(torch _fallback_lstm on CPU), which keeps the state tensor for backward, and RNN.call then overwrites the state "
            "variable in place (assign). The generic loop's step() copies the states on torch (fix for keras-team/keras "
            "#20875, PR #20916); the fused path lacks it (same bug class as #23462, fixed by PR #23464 after 3.15.1). "
            "The state-carry semantics were verified against a float64 numpy reference.",
            "numpy_reference_max_weight_error": err,
        }
    )
    add_case(name, desc_out, full_arrays)

    # --- jax subprocess ------------------------------------------------------
    with tempfile.TemporaryDirectory() as td:
        np.savez(Path(td) / "in.npz", x=x, y=y, n_w=len(w0), **weights_dict("w0", w0))
        env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1", TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--jax-worker", td, td], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            check("stateful train (jax): subprocess ran", False, proc.stderr[-2000:])
            return None
        with np.load(Path(td) / "out.npz") as z:
            jarr = {k: z[k] for k in z.files}
        info = json.loads((Path(td) / "info.json").read_text())
    jname = f"{PREFIX}train_stateful_stacked_lstm_jax"
    jerr_reset = max(max_err(jarr[f"w{k + 1}_{i}"], reset["w"][k][i]) for k in range(steps) for i in range(len(w0)))
    jerr_carry = max(max_err(jarr[f"w{k + 1}_{i}"], carried["w"][k][i]) for k in range(steps) for i in range(len(w0)))
    check(f"{jname}: backend is jax", info["backend"] == "jax")
    for s in range(steps):
        check(f"{jname}: loss[{s}] == numpy ref with the state RESET every batch", abs(jarr["losses"][s] - reset["losses"][s]) < 1e-5, f"{jarr['losses'][s]} vs {reset['losses'][s]}")
    check(f"{jname}: weights == numpy ref with state reset every batch", jerr_reset < 2e-5, str(jerr_reset))
    check(f"{jname}: weights != numpy ref with state carried", jerr_carry > 1e-4, str(jerr_carry))
    check(f"{jname}: state variables stay zero", info["states_after_training_all_zero"])
    check(f"{jname}: first step identical to torch (state zero in both)", np.allclose(jarr["w1_0"], arrays["w1_0"], atol=1e-6) and abs(jarr["losses"][0] - arrays["losses"][0]) < 1e-6)
    jfull = {"x": x, "y": y}
    jfull.update(weights_dict("w0", w0))
    jfull.update(jarr)
    jdesc = dict(common)
    jdesc.update(
        {
            "model": describe_model(stateful_train_desc(False), m_def),
            "procedure": desc_out["procedure"].replace("with NO reset in between", "with NO reset in between (but see state_carried)"),
            "state_carried": False,
            "backend_note": f"jax backend (jax {info['jax_version']}, jaxlib {info['jaxlib_version']}, {info['jax_devices']}), "
            "default use_cudnn. Produced in a subprocess with the same x, y, w0 as rnn_train_stateful_stacked_lstm. "
            "FINDING: in Keras 3.15.1 + jax the stateful state is NOT carried by train_on_batch (nor by predict: "
            f"predict twice on the same batch gives identical output = {info['predict_twice_same_output']}); the RNN state "
            "variables are created untracked (no_automatic_dependency_tracking), so the jitted stateless train/predict "
            "step drops their assignments and every batch starts from zeros. losses/weights equal a float64 reference "
            "with the state reset before every batch and differ from the carried-state reference. Do NOT use this case "
            "as the stateful reference; use rnn_train_stateful_stacked_lstm (torch). Step 1 is identical in both.",
            "jax_optimizer_resolved": info["optimizer_resolved"],
            "numpy_reference_max_weight_error_vs_reset_every_batch": jerr_reset,
            "numpy_reference_max_weight_error_vs_state_carried": jerr_carry,
        }
    )
    add_case(jname, jdesc, jfull)
    return info


# ---------------------------------------------------------------------------
# 3f. Embedding trained with rows left out of most steps (seqc's row-sparse update)
# ---------------------------------------------------------------------------

EMB_SPARSE_NET = {"input_shape": [6], "input_dtype": "int32", "layers": [L("Embedding", input_dim=100, output_dim=8), L("Flatten"), L("Dense", units=1, activation="sigmoid")]}

# short name -> (optimizer class, config): the update of an untouched (g = 0) row differs
EMB_SPARSE_OPTS = {
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}),  # v decays, w still
    "rmsprop_momentum": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9}),  # v, momentum decay, w moves
    "sgd_momentum": ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),  # m decays, w moves
    "sgd_nesterov": ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {"learning_rate": 0.1}),  # nothing changes
}

EMB_SPARSE_STEPS, EMB_SPARSE_BS = 8, 8


def embedding_sparse_data(rng):
    """8 batches of 8 sequences of 6 indices over a vocabulary of 100 (48 positions a batch).
    Rows 0..9 are in every batch; 10..39 in batch 0 only; 40..49 in batches 0 and 5; 50..59
    in batch 3 only; 60..99 never. So most rows are untouched in most steps, some for the
    last 7 steps, some for 4 steps before being used again. Indices repeat within a batch."""
    steps, bs, t = EMB_SPARSE_STEPS, EMB_SPARSE_BS, 6
    extra = {0: np.arange(10, 50), 3: np.arange(50, 60), 5: np.arange(40, 50)}
    xs = []
    for s in range(steps):
        cells = list(extra.get(s, []))
        cells += list(rng.integers(0, 10, bs * t - len(cells)))
        xs.append(rng.permutation(np.array(cells)).reshape(bs, t))
    x = np.concatenate(xs).astype(np.int32)
    y = (x.sum(axis=1) % 2).astype(F32).reshape(-1, 1)
    return x, y


def np_train_opt(desc, w0, x, y, loss, cls, cfg, bs, steps):
    """float64 replay of steps x train_on_batch with the dense update of every weight
    (gradients by central finite differences) for SGD (momentum, nesterov), RMSprop
    (momentum, centered) and Adagrad, Keras 3's formulas and defaults."""
    ws = [np.array(w, dtype=F64) for w in w0]
    lr = cfg.get("learning_rate")
    slot = {k: [np.zeros_like(w) for w in ws] for k in ("m", "v", "a")}
    if cls == "Adagrad":
        slot["acc"] = [np.full_like(w, cfg.get("initial_accumulator_value", 0.1)) for w in ws]
    hist = {"losses": [], "w": [], "m": [], "v": [], "acc": []}
    for s in range(steps):
        xb, yb = x[s * bs : (s + 1) * bs], y[s * bs : (s + 1) * bs]
        hist["losses"].append(np_loss(loss, yb, np_forward(desc, ws, xb)[0]))
        g = fd_grads(lambda: np_loss(loss, yb, np_forward(desc, ws, xb)[0]), ws)
        for i in range(len(ws)):
            if cls == "SGD":
                mu = cfg.get("momentum", 0.0)
                slot["m"][i] = mu * slot["m"][i] - lr * g[i]
                ws[i] = ws[i] + (mu * slot["m"][i] - lr * g[i] if cfg.get("nesterov") else slot["m"][i])
            elif cls == "RMSprop":
                rho, mu, eps = cfg.get("rho", 0.9), cfg.get("momentum", 0.0), cfg.get("epsilon", 1e-7)
                slot["v"][i] = rho * slot["v"][i] + (1 - rho) * g[i] ** 2
                den = slot["v"][i] + eps
                if cfg.get("centered"):
                    slot["a"][i] = rho * slot["a"][i] + (1 - rho) * g[i]
                    den = den - slot["a"][i] ** 2
                inc = lr * g[i] / np.sqrt(den)
                if mu > 0:
                    slot["m"][i] = mu * slot["m"][i] + inc
                    ws[i] = ws[i] - slot["m"][i]
                else:
                    ws[i] = ws[i] - inc
            elif cls == "Adagrad":
                slot["acc"][i] = slot["acc"][i] + g[i] ** 2
                ws[i] = ws[i] - lr * g[i] / np.sqrt(slot["acc"][i] + cfg.get("epsilon", 1e-7))
            else:
                raise KeyError(cls)
        hist["w"].append([w.copy() for w in ws])
        for k in ("m", "v", "acc"):
            if k in slot:
                hist[k].append([a.copy() for a in slot[k]])
    return hist


def ranges(rows):
    """[0, 1, 2, 5, 7, 8] -> '0..2, 5, 7..8' (keeps the manifest short)."""
    out, rows = [], sorted(rows)
    i = 0
    while i < len(rows):
        j = i
        while j + 1 < len(rows) and rows[j + 1] == rows[j] + 1:
            j += 1
        out.append(str(rows[i]) if i == j else f"{rows[i]}..{rows[j]}")
        i = j + 1
    return ", ".join(out)


def embedding_sparse_cases():
    desc = EMB_SPARSE_NET
    steps, bs, loss = EMB_SPARSE_STEPS, EMB_SPARSE_BS, "binary_crossentropy"
    rng = np.random.default_rng(9805)
    x, y = embedding_sparse_data(rng)
    w0 = init_weights(build_model(desc), rng)
    touched = [sorted(set(np.unique(x[s * bs : (s + 1) * bs]).tolist())) for s in range(steps)]
    for short, (cls, cfg) in EMB_SPARSE_OPTS.items():
        name = f"{PREFIX}train_embedding_sparse_{short}"
        model = build_model(desc)
        model.compile(optimizer=getattr(keras.optimizers, cls)(**cfg), loss=loss)
        set_and_verify(model, w0)
        arrays = {"x": x, "y": y}
        arrays.update(weights_dict("w0", w0))
        losses = []
        for s in range(steps):
            out = model.train_on_batch(x[s * bs : (s + 1) * bs], y[s * bs : (s + 1) * bs], return_dict=True)
            losses.append(float(out["loss"]))
            arrays.update(weights_dict(f"w{s + 1}", model.get_weights()))
            slots = opt_slots(model)
            check(f"{name}: iterations == {s + 1}", slots["iterations"] == s + 1)
            arrays.update(slot_arrays(s + 1, slots))
        arrays["losses"] = np.array(losses, dtype=F64)
        ref = np_train_opt(desc, w0, x, y, loss, cls, cfg, bs, steps)
        err = compare_train(name, arrays, ref, len(w0), steps, short)
        slot_names = [k for k in ("m", "v", "acc") if f"{k}1_0" in arrays]
        slot_err = 0.0
        for s_ in slot_names:
            for k in range(steps):
                for i in range(len(w0)):
                    want = ref[s_][k][i]
                    slot_err = max(slot_err, max_err(arrays[f"{s_}{k + 1}_{i}"], want) / max(1e-3, float(np.abs(want).max())))
        check(f"{name}: optimizer slots {slot_names} == numpy ref (relative)", slot_names and slot_err < 1e-3, f"{slot_err}")
        check(f"{name}: finite", all(np.all(np.isfinite(v)) for v in arrays.values()))
        # what a g = 0 step does to a row: the catch-up a row-sparse update has to reproduce
        Em = [arrays[f"w{k}_0"] for k in range(steps + 1)]
        moved = [[int(r) for r in range(100) if not np.array_equal(Em[k + 1][r], Em[k][r])] for k in range(steps)]
        untouched_moved = sorted({r for k in range(steps) for r in moved[k] if r not in touched[k]})
        never = list(range(60, 100))
        check(f"{name}: rows never used never change", all(np.array_equal(Em[steps][r], Em[0][r]) for r in never))
        w_moves = cls == "SGD" or cfg.get("momentum", 0) > 0
        if w_moves:
            check(f"{name}: rows left out of a step keep moving (momentum)", set(range(10, 50)) <= set(untouched_moved), str(untouched_moved))
        else:
            check(f"{name}: rows left out of a step do not move", untouched_moved == [], str(untouched_moved))
        if cls == "RMSprop":
            v = [arrays[f"v{k}_0"] for k in range(1, steps + 1)]
            check(f"{name}: velocity of rows 10..39 decays by rho=0.9 per step after step 1", all(np.allclose(v[k][10:40], 0.9 * v[k - 1][10:40], rtol=1e-6, atol=0) for k in range(1, steps)))
        if cls == "Adagrad":
            acc = [arrays[f"acc{k}_0"] for k in range(1, steps + 1)]
            check(f"{name}: accumulator of rows 10..39 unchanged after step 1", all(np.array_equal(acc[k][10:40], acc[0][10:40]) for k in range(1, steps)))
        desc_out = {
            "kind": "train",
            "model": describe_model(desc, model),
            "layer_output_shapes": [list(l.output.shape[1:]) for l in model.layers],
            "compile": {"optimizer": {"class": cls, "config": cfg, "as_written": f"keras.optimizers.{cls}(**config)", "resolved": resolved_opt_config(model.optimizer)}, "loss": loss, "metrics": []},
            "n_samples": len(x),
            "batch_size": bs,
            "steps": steps,
            "procedure": "for s in 0..steps-1: out = model.train_on_batch(x[s*bs:(s+1)*bs], y[s*bs:(s+1)*bs], return_dict=True); "
            "losses[s] = out['loss'] (pre-update batch loss); w{s+1}_i = model.get_weights()[i] after that step",
            "label_format": "0/1 float labels (N,1): sum of the indices mod 2",
            "weight_order": weight_order(model),
            "optimizer_slots": "after k steps, aligned with get_weights(): m{k}_i = momentum (SGD momentum, or RMSprop momentum), "
            "v{k}_i = RMSprop velocity, acc{k}_i = Adagrad accumulator",
            "numpy_reference_max_weight_error": err,
            "embedding_rows_touched_per_step": [ranges(t) for t in touched],
            "embedding_rows_changed_per_step": [ranges(m) for m in moved],
            "embedding_rows_changed_while_untouched": ranges(untouched_moved),
            "embedding_optimizer_semantics": "the embedding gradient is dense (zero rows for unused indices) and the optimizer "
            "updates every row: " + {
                "SGD": "m = mu m and w += m (nesterov: w += mu m) for a row with g = 0, so rows used earlier keep moving",
                "RMSprop": "v = rho v for a row with g = 0; without momentum its update is 0, with momentum mom = mu mom and w -= mom keeps it moving",
                "Adagrad": "a row with g = 0 changes in neither its weight nor its accumulator",
            }[cls],
        }
        add_case(name, desc_out, arrays)


# ---------------------------------------------------------------------------


def main():
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    keras.utils.set_random_seed(0)  # irrelevant (weights are explicit) but harmless
    assert keras.backend.backend() == "torch", keras.backend.backend()
    for f in OUT.glob(f"{PREFIX}*.npz"):
        f.unlink()
    layer_forward_cases()
    stateful_cases()
    train_cases()
    jinfo = stateful_train_cases()
    embedding_sparse_cases()
    meta = {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "floatx": keras.config.floatx(),
        "epsilon": keras.config.epsilon(),
        "jax_version_for_jax_case": None if jinfo is None else jinfo["jax_version"],
        "jaxlib_version_for_jax_case": None if jinfo is None else jinfo["jaxlib_version"],
        "generator": "tests/golden/make_rnn_goldens.py",
        "formulas": {
            "LSTM": "z = x_t@kernel + h@recurrent_kernel + bias, split into 4 blocks of u columns in order [i | f | c | o]; "
            "i = ra(z_i), f = ra(z_f), o = ra(z_o), c = f*c + i*a(z_c), h = o*a(c); output h. a = activation (tanh), "
            "ra = recurrent_activation (sigmoid). kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,)",
            "GRU_reset_after_true": "bias (2, 3u); mx = x_t@kernel + bias[0]; mh = h@recurrent_kernel + bias[1]; blocks [z | r | h]; "
            "z = ra(mx_z + mh_z), r = ra(mx_r + mh_r), hh = a(mx_h + r*mh_h), h = z*h + (1-z)*hh",
            "GRU_reset_after_false": "bias (3u,); mx = x_t@kernel + bias; z = ra(mx_z + h@U_z), r = ra(mx_r + h@U_r), "
            "hh = a(mx_h + (r*h)@U_h), h = z*h + (1-z)*hh (U_z, U_r, U_h = column blocks of recurrent_kernel)",
            "SimpleRNN": "h = a(x_t@kernel + bias + h@recurrent_kernel)",
            "hard_sigmoid": "Keras 3: clip(x/6 + 0.5, 0, 1) (torch hardsigmoid); NOT Keras 2's clip(0.2x + 0.5, 0, 1)",
            "initial_state": "zeros",
        },
    }
    return GOLDENS.finish(meta, "rnn_manifest.json")


if __name__ == "__main__":
    if JAX_WORKER:
        jax_worker(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(main())
