"""Golden reference data for the convolution / pooling / reshaping layers, from
real Keras 3 (torch backend).

Run from the repository root, AFTER make_goldens.py (that script deletes every
tests/golden/*.npz, including the conv_*.npz written here):

    KERAS_BACKEND=torch /work/refenv/bin/python tests/golden/make_conv_goldens.py

Writes tests/golden/conv_manifest.json and tests/golden/conv_<case>.npz.
Deletes only tests/golden/conv_*.npz beforehand. Deterministic: data and *all*
weights come from np.random.default_rng with fixed seeds and are installed
with set_weights. Every Keras result is also recomputed with an independent
float64 numpy reference (explicit padding / window loops) to pin down the
padding, pooling and flatten semantics documented in README.md.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_goldens as mg  # noqa: E402  (sets torch threads = 1, imports keras)
from golden_common import Goldens, resolved_layer_config  # noqa: E402

import keras  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
assert keras.backend.backend() == "torch", keras.backend.backend()

OUT = mg.OUT
F32 = np.float32
PREFIX = "conv_"

GOLDENS = Goldens(OUT, PREFIX)
MANIFEST, CHECKS, check, add_case = GOLDENS.manifest, GOLDENS.checks, GOLDENS.check, GOLDENS.add_case


# ---------------------------------------------------------------------------
# layer descriptions (config = the exact keyword arguments passed to Keras)
# ---------------------------------------------------------------------------


def conv2d(filters=4, kernel_size=(3, 3), strides=(1, 1), padding="valid", dilation_rate=(1, 1), activation="linear", use_bias=True):
    return {
        "class": "Conv2D",
        "config": {
            "filters": filters,
            "kernel_size": list(kernel_size),
            "strides": list(strides),
            "padding": padding,
            "dilation_rate": list(dilation_rate),
            "activation": activation,
            "use_bias": use_bias,
        },
    }


def conv1d(filters=3, kernel_size=3, strides=1, padding="valid", dilation_rate=1, activation="linear", use_bias=True):
    return {
        "class": "Conv1D",
        "config": {
            "filters": filters,
            "kernel_size": [kernel_size],
            "strides": [strides],
            "padding": padding,
            "dilation_rate": [dilation_rate],
            "activation": activation,
            "use_bias": use_bias,
        },
    }


def pool(cls, pool_size, strides=None, padding="valid"):
    cfg = {"pool_size": list(pool_size)}
    if strides is not None:
        cfg["strides"] = list(strides)
    cfg["padding"] = padding
    return {"class": cls, "config": cfg}


def simple(cls, **cfg):
    return {"class": cls, "config": cfg}


def describe_model(model_desc, model):
    """model_desc plus each layer's resolved get_config (defaults filled in)."""
    layers = []
    for ld, layer in zip(model_desc["layers"], model.layers):
        d = dict(ld)
        d["resolved"] = resolved_layer_config(layer)
        layers.append(d)
    return {"input_shape": model_desc["input_shape"], "layers": layers}


def init_weights(model, rng):
    """Glorot-uniform kernels (fan from the receptive field), U(-0.1,0.1) biases."""
    ws = []
    for w in model.get_weights():
        shp = w.shape
        if len(shp) >= 2:
            rf = int(np.prod(shp[:-2])) if len(shp) > 2 else 1
            lim = math.sqrt(6.0 / (rf * shp[-2] + rf * shp[-1]))
            ws.append(rng.uniform(-lim, lim, shp).astype(F32))
        else:
            ws.append(rng.uniform(-0.1, 0.1, shp).astype(F32))
    return ws


# ---------------------------------------------------------------------------
# independent float64 numpy reference (channels_last)
# ---------------------------------------------------------------------------


def same_pad(n, k, s, d=1):
    """Keras 'same' padding along one dim: total = max(0,(ceil(n/s)-1)*s + d*(k-1)+1 - n),
    left = total//2, right = total - left (extra cell at the end)."""
    eff = d * (k - 1) + 1
    o = -(-n // s)
    total = max(0, (o - 1) * s + eff - n)
    return [total // 2, total - total // 2]


def out_len(n, k, s, d, padding):
    if padding == "valid":
        return (n - d * (k - 1) - 1) // s + 1
    return -(-n // s)  # same / causal


def as2d(x):
    """(N,L,C) -> (N,1,L,C); (N,H,W,C) unchanged."""
    return x[:, None] if x.ndim == 3 else x


def ref_conv(x, w, b, strides, padding, dil, act, r):
    """Returns y, dx, dw, db (float64). 1-D handled as H=1."""
    one_d = x.ndim == 3
    x = as2d(x.astype(np.float64))
    r = as2d(r.astype(np.float64))
    w = w.astype(np.float64)
    if one_d:
        w = w[None]
        strides, dil = [1] + list(strides), [1] + list(dil)
    N, H, W, C = x.shape
    kh, kw, _, F = w.shape
    sh, sw = strides
    dh, dw_ = dil
    if padding == "valid":
        pads = [[0, 0], [0, 0]]
    elif padding == "same":
        pads = [same_pad(H, kh, sh, dh), same_pad(W, kw, sw, dw_)]
    elif padding == "causal":
        pads = [[0, 0], [dw_ * (kw - 1), 0]]
    xp = np.pad(x, [[0, 0], pads[0], pads[1], [0, 0]])
    OH = (xp.shape[1] - dh * (kh - 1) - 1) // sh + 1
    OW = (xp.shape[2] - dw_ * (kw - 1) - 1) // sw + 1
    z = np.zeros((N, OH, OW, F))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * dh : i * dh + sh * (OH - 1) + 1 : sh, j * dw_ : j * dw_ + sw * (OW - 1) + 1 : sw, :]
            z += patch @ w[i, j]
    if b is not None:
        z += b.astype(np.float64)
    if act == "linear":
        y, dz = z, r
    elif act == "relu":
        y, dz = np.maximum(z, 0), r * (z > 0)
    elif act == "tanh":
        y = np.tanh(z)
        dz = r * (1 - y * y)
    else:
        raise KeyError(act)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            sl = (slice(None), slice(i * dh, i * dh + sh * (OH - 1) + 1, sh), slice(j * dw_, j * dw_ + sw * (OW - 1) + 1, sw), slice(None))
            dw[i, j] = np.einsum("nhwc,nhwf->cf", xp[sl], dz)
            dxp[sl] += dz @ w[i, j].T
    dx = dxp[:, pads[0][0] : pads[0][0] + H, pads[1][0] : pads[1][0] + W, :]
    db = dz.sum(axis=(0, 1, 2)) if b is not None else None
    if one_d:
        y, dx, dw = y[:, 0], dx[:, 0], dw[0]
    zmin = float(np.min(np.abs(z)))
    return y, dx, dw, db, pads, zmin


def pool_windows(n, k, s, padding):
    """Per output index: the window's tap positions in input coordinates
    (negative or >= n for a padded cell), and the (left, right) padding."""
    lr = [0, 0] if padding == "valid" else same_pad(n, k, s)
    o = (n + lr[0] + lr[1] - k) // s + 1
    return [[p - lr[0] for p in range(t * s, t * s + k)] for t in range(o)], lr


def ref_pool(x, mode, pool_size, strides, padding, r, avg_rule):
    """Pooling reference. Padded cells: max ignores them (the same as -inf
    padding, and the same as edge replication); for avg, avg_rule 'exclude'
    divides by the number of real cells, avg_rule 'replicate' fills padded
    cells with the nearest edge value (per-axis clamp) and divides by the
    full window."""
    one_d = x.ndim == 3
    x = as2d(x.astype(np.float64))
    r = as2d(r.astype(np.float64))
    if one_d:
        pool_size, strides = [1] + list(pool_size), [1] + list(strides)
    N, H, W, C = x.shape
    wh, padh = pool_windows(H, pool_size[0], strides[0], padding)
    ww, padw = pool_windows(W, pool_size[1], strides[1], padding)
    y = np.zeros((N, len(wh), len(ww), C))
    dx = np.zeros_like(x)
    for a, hs in enumerate(wh):
        for bb, ws in enumerate(ww):
            taps = []
            for hi in hs:
                for wi in ws:
                    if 0 <= hi < H and 0 <= wi < W:
                        taps.append((hi, wi))
                    elif mode == "avg" and avg_rule == "replicate":
                        taps.append((min(max(hi, 0), H - 1), min(max(wi, 0), W - 1)))
            vals = np.stack([x[:, hi, wi, :] for hi, wi in taps], axis=0)  # (T,N,C)
            if mode == "max":
                am = np.argmax(vals, axis=0)
                y[:, a, bb, :] = np.max(vals, axis=0)
                for t, (hi, wi) in enumerate(taps):
                    dx[:, hi, wi, :] += r[:, a, bb, :] * (am == t)
            else:
                y[:, a, bb, :] = vals.mean(axis=0)
                for hi, wi in taps:
                    dx[:, hi, wi, :] += r[:, a, bb, :] / len(taps)
    if one_d:
        y, dx = y[:, 0], dx[:, 0]
    return y, dx, [padw] if one_d else [padh, padw]


def max_window_gap(x, mode, pool_size, strides, padding):
    """Smallest gap between the largest and second-largest real value over all
    max-pool windows (0 would mean a tie)."""
    one_d = x.ndim == 3
    x = as2d(x.astype(np.float64))
    if one_d:
        pool_size, strides = [1] + list(pool_size), [1] + list(strides)
    N, H, W, C = x.shape
    wh, _ = pool_windows(H, pool_size[0], strides[0], padding)
    ww, _ = pool_windows(W, pool_size[1], strides[1], padding)
    gap = np.inf
    for hs in wh:
        for ws in ww:
            idx = [(h, w) for h in hs for w in ws if 0 <= h < H and 0 <= w < W]
            if len(idx) < 2:
                continue
            v = np.sort(np.stack([x[:, h, w, :] for h, w in idx]), axis=0)
            gap = min(gap, float(np.min(v[-1] - v[-2])))
    return gap


# ---------------------------------------------------------------------------
# 1. layer_forward
# ---------------------------------------------------------------------------

S2 = [7, 8, 3]
S1 = [11, 4]


def layer_case_specs():
    C, P = conv2d, pool
    specs = [
        # Conv2D (filters 4 unless noted, input (7,8,3))
        ("conv2d_k3_valid", S2, [C()]),
        ("conv2d_k3_same", S2, [C(padding="same")]),
        ("conv2d_k2x3_valid", S2, [C(kernel_size=(2, 3))]),
        ("conv2d_k2x3_same", S2, [C(kernel_size=(2, 3), padding="same")]),
        ("conv2d_s2_valid_7x8", S2, [C(strides=(2, 2))]),
        ("conv2d_s2_same_7x8", S2, [C(strides=(2, 2), padding="same")]),
        ("conv2d_s2_valid_8x8", [8, 8, 3], [C(strides=(2, 2))]),
        ("conv2d_s2_same_8x8", [8, 8, 3], [C(strides=(2, 2), padding="same")]),
        ("conv2d_s2_same_7x7", [7, 7, 3], [C(strides=(2, 2), padding="same")]),
        ("conv2d_s2x1_valid", S2, [C(strides=(2, 1))]),
        ("conv2d_s2x1_same", S2, [C(strides=(2, 1), padding="same")]),
        ("conv2d_d2_valid", S2, [C(dilation_rate=(2, 2))]),
        ("conv2d_d2_same", S2, [C(dilation_rate=(2, 2), padding="same")]),
        ("conv2d_nobias", S2, [C(use_bias=False)]),
        ("conv2d_relu", S2, [C(activation="relu")]),
        ("conv2d_tanh", S2, [C(activation="tanh")]),
        ("conv2d_k1", S2, [C(kernel_size=(1, 1))]),
        ("conv2d_kfull", S2, [C(kernel_size=(7, 8))]),
        ("conv2d_f5_c3", S2, [C(filters=5)]),
        # Conv1D (filters 3, input (11,4))
        ("conv1d_k3_valid", S1, [conv1d()]),
        ("conv1d_k3_same", S1, [conv1d(padding="same")]),
        ("conv1d_k3_causal", S1, [conv1d(padding="causal")]),
        ("conv1d_k2_same", S1, [conv1d(kernel_size=2, padding="same")]),
        ("conv1d_s2_valid", S1, [conv1d(strides=2)]),
        ("conv1d_s2_same", S1, [conv1d(strides=2, padding="same")]),
        ("conv1d_s2_same_len12", [12, 4], [conv1d(strides=2, padding="same")]),
        ("conv1d_d2_valid", S1, [conv1d(dilation_rate=2)]),
        ("conv1d_d2_same", S1, [conv1d(dilation_rate=2, padding="same")]),
        ("conv1d_d2_causal", S1, [conv1d(dilation_rate=2, padding="causal")]),
        ("conv1d_relu", S1, [conv1d(activation="relu")]),
        ("conv1d_nobias", S1, [conv1d(use_bias=False)]),
    ]
    for cls, short in [("MaxPooling2D", "maxpool2d"), ("AveragePooling2D", "avgpool2d")]:
        specs += [
            (f"{short}_p2", S2, [P(cls, (2, 2))]),
            (f"{short}_p3_s2", S2, [P(cls, (3, 3), (2, 2))]),
            (f"{short}_p2x3", S2, [P(cls, (2, 3))]),
            (f"{short}_p2_s1", S2, [P(cls, (2, 2), (1, 1))]),
            (f"{short}_p2_same", S2, [P(cls, (2, 2), padding="same")]),
            (f"{short}_p2x3_same", S2, [P(cls, (2, 3), padding="same")]),
            (f"{short}_p3_s2_same", S2, [P(cls, (3, 3), (2, 2), "same")]),
            (f"{short}_p3_s2_same_7x7", [7, 7, 3], [P(cls, (3, 3), (2, 2), "same")]),
            (f"{short}_p3_s1_same", S2, [P(cls, (3, 3), (1, 1), "same")]),
        ]
    for cls, short in [("MaxPooling1D", "maxpool1d"), ("AveragePooling1D", "avgpool1d")]:
        specs += [
            (f"{short}_p2", S1, [P(cls, (2,))]),
            (f"{short}_p3", S1, [P(cls, (3,))]),
            (f"{short}_p3_s1", S1, [P(cls, (3,), (1,))]),
            (f"{short}_p2_same", S1, [P(cls, (2,), padding="same")]),
            (f"{short}_p3_same", S1, [P(cls, (3,), padding="same")]),
            (f"{short}_p3_s1_same", S1, [P(cls, (3,), (1,), "same")]),
            (f"{short}_p3_s2_same", S1, [P(cls, (3,), (2,), "same")]),
        ]
    for cls, short, shp in [
        ("GlobalAveragePooling1D", "gap1d", S1),
        ("GlobalMaxPooling1D", "gmp1d", S1),
        ("GlobalAveragePooling2D", "gap2d", S2),
        ("GlobalMaxPooling2D", "gmp2d", S2),
    ]:
        specs += [
            (short, shp, [simple(cls)]),
            (f"{short}_keepdims", shp, [simple(cls, keepdims=True)]),
        ]
    specs += [
        ("flatten_3d", [4, 5, 3], [simple("Flatten")]),
        ("flatten_2d", S1, [simple("Flatten")]),
        ("reshape_14x12", S2, [simple("Reshape", target_shape=[14, 12])]),
        ("reshape_m1x6", S2, [simple("Reshape", target_shape=[-1, 6])]),
        ("zeropad2d_1", S2, [simple("ZeroPadding2D", padding=1)]),
        ("zeropad2d_asym", S2, [simple("ZeroPadding2D", padding=[[1, 2], [0, 3]])]),
    ]
    return specs


def grads_through_model(model, x, r):
    for v in model.weights:
        v.value.grad = None
    xt = torch.tensor(x, requires_grad=True)
    yt = model(xt)
    (yt * torch.tensor(r)).sum().backward()
    dws = []
    for v in model.weights:
        g = v.value.grad
        dws.append(np.zeros(v.shape, F32) if g is None else g.detach().numpy().copy())
    return yt.detach().numpy(), xt.grad.numpy().copy(), dws


def numpy_reference(ld, x, ws, r, avg_rule):
    """Returns (y, dx, dws, info) from the float64 reference for one layer."""
    cls, cfg = ld["class"], ld["config"]
    info = {}
    if cls in ("Conv1D", "Conv2D"):
        b = ws[1] if cfg["use_bias"] else None
        y, dx, dw, db, pads, zmin = ref_conv(x, ws[0], b, cfg["strides"], cfg["padding"], cfg["dilation_rate"], cfg["activation"], r)
        dws = [dw] + ([db] if b is not None else [])
        if cfg["padding"] != "valid":
            info["padding_applied"] = pads[1:] if cls == "Conv1D" else pads
        info["min_abs_preactivation"] = zmin
        return y, dx, dws, info
    if "Pooling" in cls and not cls.startswith("Global"):
        mode = "max" if cls.startswith("Max") else "avg"
        strides = cfg.get("strides", cfg["pool_size"])
        y, dx, pads = ref_pool(x, mode, cfg["pool_size"], strides, cfg["padding"], r, avg_rule)
        if cfg["padding"] == "same":
            info["padding_applied"] = pads
        if mode == "max":
            info["min_gap_top2_in_window"] = max_window_gap(x, mode, cfg["pool_size"], strides, cfg["padding"])
        return y, dx, [], info
    x64, r64 = x.astype(np.float64), r.astype(np.float64)
    if cls.startswith("Global"):
        axes = tuple(range(1, x.ndim - 1))
        keep = cfg.get("keepdims", False)
        rk = r64 if keep else np.expand_dims(r64, axes)
        if "Average" in cls:
            y = x64.mean(axis=axes, keepdims=keep)
            cnt = int(np.prod([x.shape[a] for a in axes]))
            dx = np.broadcast_to(rk / cnt, x.shape).copy()
        else:
            y = x64.max(axis=axes, keepdims=keep)
            dx = (x64 == x64.max(axis=axes, keepdims=True)) * rk
        return y, dx, [], info
    if cls in ("Flatten", "Reshape"):
        n = x.shape[0]
        shape = (n, -1) if cls == "Flatten" else (n, *cfg["target_shape"])
        return x64.reshape(shape), r64.reshape(x.shape), [], info  # C (row-major) order
    if cls == "ZeroPadding2D":
        p = cfg["padding"]
        p = [[p, p], [p, p]] if isinstance(p, int) else p
        y = np.pad(x64, [[0, 0], p[0], p[1], [0, 0]])
        dx = r64[:, p[0][0] : p[0][0] + x.shape[1], p[1][0] : p[1][0] + x.shape[2], :]
        return y, dx, [], info
    raise KeyError(cls)


def avg_same_rule(ld, input_shape):
    """What Keras 3.15.1's torch average_pool does for padding='same':
    if every spatial dim has left == right padding, torch's implicit padding with
    count_include_pad=False is used (divide by the number of real cells);
    otherwise the input is explicitly padded with mode='replicate' (edge values
    repeated) and the full window is averaged."""
    cfg = ld["config"]
    if cfg["padding"] != "same":
        return None
    ps, st = cfg["pool_size"], cfg.get("strides", cfg["pool_size"])
    pads = [same_pad(n, k, s) for n, k, s in zip(input_shape[:-1], ps, st)]
    return "exclude" if all(l == r for l, r in pads) else "replicate"


DISTINGUISH = {}


def layer_forward_cases():
    for idx, (short, in_shape, layers) in enumerate(layer_case_specs()):
        name = f"{PREFIX}layer_{short}"
        rng = np.random.default_rng(5000 + idx)
        model_desc = {"input_shape": in_shape, "layers": layers}
        model = mg.build_model(model_desc)
        ws = init_weights(model, rng)
        mg.set_and_verify(model, ws)
        x = rng.standard_normal((2, *in_shape)).astype(F32)
        y = model.predict(x, batch_size=2, verbose=0)
        r = rng.standard_normal(y.shape).astype(F32)
        y_direct, dx, dws = grads_through_model(model, x, r)
        check(f"{name}: predict == model(x)", np.allclose(y, y_direct, rtol=1e-6, atol=1e-6))
        ld = layers[0]
        rule = avg_same_rule(ld, in_shape) if ld["class"].startswith("Average") else None
        ry, rdx, rdws, info = numpy_reference(ld, x, ws, r, rule or "exclude")
        check(f"{name}: output shape", list(ry.shape) == list(y.shape), f"{ry.shape} vs {y.shape}")
        check(f"{name}: y == numpy ref", ry.shape == y.shape and np.allclose(y, ry, rtol=1e-5, atol=1e-5), f"max err {np.abs(y - ry).max() if ry.shape == y.shape else 'shape'}")
        check(f"{name}: dx == numpy ref", np.allclose(dx, rdx, rtol=1e-5, atol=1e-5), f"max err {np.abs(dx - rdx).max()}")
        for i, (a, bref) in enumerate(zip(dws, rdws)):
            check(f"{name}: dw_{i} == numpy ref", np.allclose(a, bref, rtol=1e-4, atol=1e-4), f"max err {np.abs(a - bref).max()}")
        check(f"{name}: #grads", len(dws) == len(rdws) == len(ws))
        distinguishable = None
        if rule is not None:
            # does the other rule give a different output? (not when every padded
            # window holds just one real cell per padded axis, e.g. pool 2, pad (0,1))
            oy, _, _, _ = numpy_reference(ld, x, ws, r, "replicate" if rule == "exclude" else "exclude")
            distinguishable = not np.allclose(y, oy, rtol=1e-5, atol=1e-5)
            DISTINGUISH.setdefault((ld["class"], rule), []).append(distinguishable)
        if ld["config"].get("activation") == "relu":
            check(f"{name}: no pre-activation near 0", info["min_abs_preactivation"] > 1e-4, str(info["min_abs_preactivation"]))
        if "min_gap_top2_in_window" in info:
            check(f"{name}: no max-pool ties", info["min_gap_top2_in_window"] > 1e-4, str(info["min_gap_top2_in_window"]))
        desc = {
            "kind": "layer_forward",
            "model": describe_model(model_desc, model),
            "batch": int(x.shape[0]),
            "output_shape": list(y.shape),
        }
        if "padding_applied" in info:
            desc["padding_applied"] = info["padding_applied"]
        if rule is not None:
            desc["avg_pool_same_rule"] = rule
            desc["avg_pool_same_rule_distinguishable"] = distinguishable
        arrays = {"x": x}
        arrays.update(mg.weights_dict("w", ws))
        arrays.update({"y": y.astype(F32), "r": r, "dx": dx})
        arrays.update(mg.weights_dict("dw", dws))
        add_case(name, desc, arrays)
    for cls in ("AveragePooling1D", "AveragePooling2D"):
        for rule in ("exclude", "replicate"):
            check(f"{cls}: some 'same' case tells rule '{rule}' apart from the other", any(DISTINGUISH.get((cls, rule), [])))


# ---------------------------------------------------------------------------
# 2. train / 3. evaluate
# ---------------------------------------------------------------------------

VGG = {
    "input_shape": [10, 10, 2],
    "layers": [
        conv2d(4, (3, 3), activation="relu"),
        conv2d(4, (3, 3), activation="relu"),
        pool("MaxPooling2D", (2, 2)),
        simple("Flatten"),
        mg.dense(8, "relu"),
        mg.dense(3, "softmax"),
    ],
}

# The brief's Input (12,5) is too short: 12 -conv3-> 10 -conv3-> 8 -pool3-> 2 and
# Conv1D(kernel 3) cannot run on length 2. Length 16 gives 14 -> 12 -> 4 -> 2.
CONV1D_NET = {
    "input_shape": [16, 5],
    "layers": [
        conv1d(4, 3, activation="relu"),
        conv1d(4, 3, activation="relu"),
        pool("MaxPooling1D", (3,)),
        conv1d(6, 3, activation="relu"),
        simple("GlobalAveragePooling1D"),
        mg.dense(1, "sigmoid"),
    ],
}

STRIDED_NET = {
    "input_shape": [10, 10, 2],
    "layers": [
        conv2d(4, (3, 3), strides=(2, 2), padding="same", activation="relu"),
        pool("AveragePooling2D", (2, 2)),
        simple("GlobalMaxPooling2D"),
        mg.dense(2, "softmax"),
    ],
}

CAUSAL_NET = {
    "input_shape": [12, 3],
    "layers": [
        conv1d(4, 3, padding="causal", dilation_rate=2, activation="tanh"),
        pool("AveragePooling1D", (2,)),
        simple("Flatten"),
        mg.dense(3, "linear"),
    ],
}


def make_data(model_desc, target, n, rng):
    x = rng.standard_normal((n, *model_desc["input_shape"])).astype(F32)
    flat = x.reshape(n, -1).astype(np.float64)
    if target == "onehot3" or target == "onehot2":
        k = 3 if target == "onehot3" else 2
        a = rng.standard_normal((flat.shape[1], k))
        cls = np.argmax(flat @ a + 0.3 * rng.standard_normal((n, k)), axis=1)
        y = np.eye(k, dtype=F32)[cls]
    elif target == "binary":
        a = rng.standard_normal(flat.shape[1])
        y = ((flat @ a + 0.3 * rng.standard_normal(n)) > 0).astype(F32).reshape(n, 1)
    elif target == "float3":
        a = rng.standard_normal((flat.shape[1], 3)) / math.sqrt(flat.shape[1])
        y = (np.tanh(flat @ a) + 0.1 * rng.standard_normal((n, 3))).astype(F32)
    return x, y


def train_specs():
    S = keras.optimizers
    sched = keras.optimizers.schedules.InverseTimeDecay
    return [
        (
            "vgg_sgd_nesterov",
            VGG,
            "onehot3",
            "categorical_crossentropy",
            {"class": "SGD", "config": {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True}},
            lambda: S.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
        ),
        (
            "vgg_sgd_decay",
            VGG,
            "onehot3",
            "categorical_crossentropy",
            {
                "class": "SGD",
                "config": {"learning_rate": 0.01, "decay": 0.01, "momentum": 0.9, "nesterov": True},
                "keras3_equivalent": "SGD(learning_rate=InverseTimeDecay(0.01, decay_steps=1, "
                "decay_rate=0.01), momentum=0.9, nesterov=True); lr_t = 0.01/(1+0.01*t), t = 0,1,2,...",
            },
            lambda: S.SGD(learning_rate=sched(0.01, decay_steps=1, decay_rate=0.01), momentum=0.9, nesterov=True),
        ),
        (
            "conv1d_rmsprop",
            CONV1D_NET,
            "binary",
            "binary_crossentropy",
            {"class": "RMSprop", "config": {}, "as_written": "rmsprop"},
            lambda: "rmsprop",
        ),
        (
            "strided_adam",
            STRIDED_NET,
            "onehot2",
            "categorical_crossentropy",
            {"class": "Adam", "config": {}, "as_written": "adam"},
            lambda: "adam",
        ),
        (
            "causal_sgd",
            CAUSAL_NET,
            "float3",
            "mse",
            {"class": "SGD", "config": {}, "as_written": "sgd"},
            lambda: "sgd",
        ),
    ]


def weight_order(model):
    """get_weights() order as 'layers[i] Class.variable' (no auto-generated names)."""
    out = [f"layers[{i}] {type(l).__name__}.{v.name}" for i, l in enumerate(model.layers) for v in l.weights]
    assert [v.path.split("/", 1)[1] for v in model.weights] == [f"{l.name}/{v.name}" for l in model.layers for v in l.weights]
    return out


def full_batch_loss(model_desc, ws, x, y, loss):
    m = mg.build_model(model_desc)
    m.compile(optimizer="sgd", loss=loss)
    mg.set_and_verify(m, ws)
    return float(m.evaluate(x, y, batch_size=len(x), verbose=0))


def train_cases():
    n, bs, steps = 40, 8, 5
    results = {}
    for idx, (short, model_desc, target, loss, odesc, ofac) in enumerate(train_specs()):
        name = f"{PREFIX}train_{short}"
        rng = np.random.default_rng(6000 + (0 if short.startswith("vgg") else idx))
        x, y = make_data(model_desc, target, n, rng)
        model = mg.build_model(model_desc)
        w0 = init_weights(model, rng)
        model.compile(optimizer=ofac(), loss=loss, metrics=[])
        mg.set_and_verify(model, w0)
        arrays = {"x": x, "y": y}
        arrays.update(mg.weights_dict("w0", w0))
        losses = []
        for s in range(steps):
            xb, yb = x[s * bs : (s + 1) * bs], y[s * bs : (s + 1) * bs]
            if s == 0:
                pre = full_batch_loss(model_desc, model.get_weights(), xb, yb, loss)
            out = model.train_on_batch(xb, yb)
            assert isinstance(out, float), type(out)
            if s == 0:
                check(f"{name}: train_on_batch returns pre-update batch loss", abs(out - pre) < 1e-6 * max(1, abs(pre)), f"{out} vs {pre}")
            losses.append(out)
            arrays.update(mg.weights_dict(f"w{s + 1}", model.get_weights()))
        arrays["losses"] = np.array(losses, dtype=np.float64)
        full0 = full_batch_loss(model_desc, w0, x, y, loss)
        full5 = full_batch_loss(model_desc, model.get_weights(), x, y, loss)
        check(f"{name}: full-data loss decreased", full5 < full0, f"{full0:.6f} -> {full5:.6f}")
        check(f"{name}: finite", all(np.all(np.isfinite(v)) for v in arrays.values()))
        check(f"{name}: every weight moved", all(not np.array_equal(arrays[f"w0_{i}"], arrays[f"w5_{i}"]) for i in range(len(w0))))
        odesc = dict(odesc)
        odesc["resolved"] = mg.resolved_opt_config(model.optimizer)
        desc = {
            "kind": "train",
            "model": describe_model(model_desc, model),
            "layer_output_shapes": [list(l.output.shape[1:]) for l in model.layers],
            "compile": {"optimizer": odesc, "loss": loss, "metrics": []},
            "n_samples": n,
            "batch_size": bs,
            "steps": steps,
            "procedure": "for s in 0..steps-1: losses[s] = model.train_on_batch(x[s*bs:(s+1)*bs], "
            "y[s*bs:(s+1)*bs]); w{s+1}_i = model.get_weights()[i] after that step",
            "weight_order": weight_order(model),
            "full_data_loss_initial": full0,
            "full_data_loss_final": full5,
        }
        if model_desc is CONV1D_NET:
            desc["note"] = "input length 16 instead of 12: with 12 the last Conv1D(kernel 3) would see length 2"
        add_case(name, desc, arrays)
        results[short] = arrays
    a, b = results["vgg_sgd_nesterov"], results["vgg_sgd_decay"]
    check("vgg: sgd_decay step1 == nesterov step1", all(np.array_equal(a[f"w1_{i}"], b[f"w1_{i}"]) for i in range(8)))
    check("vgg: sgd_decay differs after step 2", any(not np.array_equal(a[f"w2_{i}"], b[f"w2_{i}"]) for i in range(8)))


def evaluate_cases():
    n, bs = 21, 8
    name = f"{PREFIX}evaluate_vgg"
    rng = np.random.default_rng(7000)
    x, y = make_data(VGG, "onehot3", n, rng)
    model = mg.build_model(VGG)
    ws = init_weights(model, rng)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True), loss="categorical_crossentropy", metrics=["accuracy"])
    mg.set_and_verify(model, ws)
    res = model.evaluate(x, y, batch_size=bs, verbose=0)
    resd = model.evaluate(x, y, batch_size=bs, verbose=0, return_dict=True)
    y_pred = model.predict(x, batch_size=bs, verbose=0)
    ref = mg.numpy_eval("cce", y, y_pred.astype(np.float64))
    for k in ("loss", "accuracy"):
        check(f"{name}: {k} == per-sample numpy mean", abs(resd[k] - ref[k]) < 2e-6, f"{resd[k]} vs {ref[k]}")
    # numpy forward of the whole net (conv -> conv -> pool -> flatten(H,W,C) -> dense)
    h = x
    for i in (0, 2):
        h, _, _, _, _, _ = ref_conv(h, ws[i], ws[i + 1], [1, 1], "valid", [1, 1], "relu", np.zeros((n, h.shape[1] - 2, h.shape[2] - 2, 4)))
    h, _, _ = ref_pool(h, "max", [2, 2], [2, 2], "valid", np.zeros((n, 3, 3, 4)), "exclude")
    h = np.maximum(h.reshape(n, -1) @ ws[4] + ws[5], 0) @ ws[6] + ws[7]
    p = np.exp(h - h.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    check(f"{name}: numpy forward (Flatten in H,W,C order) == predict", np.allclose(p, y_pred, rtol=1e-5, atol=1e-6), f"{np.abs(p - y_pred).max()}")
    desc = {
        "kind": "evaluate",
        "model": describe_model(VGG, model),
        "compile": {
            "optimizer": {"class": "SGD", "config": {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True}},
            "loss": "categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "n_samples": n,
        "batch_size": bs,
        "label_format": "one-hot float labels (N,3)",
        "result": [float(v) for v in res],
        "result_names": list(resd.keys()),
        "result_dict": {k: float(v) for k, v in resd.items()},
    }
    arrays = {"x": x, "y": y, "y_pred": y_pred.astype(F32), "result": np.array(res, dtype=np.float64)}
    arrays.update(mg.weights_dict("w", ws))
    add_case(name, desc, arrays)


# ---------------------------------------------------------------------------


def main():
    for f in OUT.glob(f"{PREFIX}*.npz"):
        f.unlink()
    layer_forward_cases()
    train_cases()
    evaluate_cases()
    meta = {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "floatx": keras.config.floatx(),
        "epsilon": keras.config.epsilon(),
        "image_data_format": keras.config.image_data_format(),
        "generator": "tests/golden/make_conv_goldens.py",
    }
    return GOLDENS.finish(meta, "conv_manifest.json")


if __name__ == "__main__":
    sys.exit(main())
