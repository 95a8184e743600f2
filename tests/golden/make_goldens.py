"""Generate golden reference data for seqc from real Keras 3 (torch backend).

Run from the repository root:

    KERAS_BACKEND=torch /work/refenv/bin/python tests/golden/make_goldens.py

Writes tests/golden/manifest.json and tests/golden/<case>.npz.
Everything is deterministic: data and *all* weights come from
np.random.default_rng with fixed seeds and are installed with set_weights;
Keras's own initialiser RNG is never relied upon.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import inspect
import math
import sys
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
torch.manual_seed(0)

import keras  # noqa: E402

assert keras.backend.backend() == "torch", keras.backend.backend()
keras.utils.set_random_seed(0)  # irrelevant (weights are explicit) but harmless

from golden_common import Goldens, resolved_opt_config, set_and_verify, weights_dict  # noqa: E402

OUT = Path(__file__).resolve().parent
F32 = np.float32

GOLDENS = Goldens(OUT)
MANIFEST, CHECKS, check, add_case = GOLDENS.manifest, GOLDENS.checks, GOLDENS.check, GOLDENS.add_case


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def dense(units, activation="linear", use_bias=True):
    return {
        "class": "Dense",
        "config": {"units": units, "activation": activation, "use_bias": use_bias},
    }


def build_model(model_desc):
    layers = [keras.Input(shape=tuple(model_desc["input_shape"]))]
    for ld in model_desc["layers"]:
        cls = getattr(keras.layers, ld["class"])
        layers.append(cls(**ld["config"]))
    return keras.Sequential(layers)


def init_weights(model_desc, rng):
    """Glorot-uniform-like kernels and small non-zero biases, in get_weights order."""
    ws = []
    fan_in = model_desc["input_shape"][-1]
    for ld in model_desc["layers"]:
        assert ld["class"] == "Dense"
        units = ld["config"]["units"]
        lim = math.sqrt(6.0 / (fan_in + units))
        ws.append(rng.uniform(-lim, lim, (fan_in, units)).astype(F32))
        if ld["config"].get("use_bias", True):
            ws.append(rng.uniform(-0.1, 0.1, (units,)).astype(F32))
        fan_in = units
    return ws


# custom metric / loss used by several cases ---------------------------------


def mean_pred(y_true, y_pred):
    return keras.ops.mean(y_pred)


def my_loss(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_pred - y_true) + keras.ops.abs(y_pred), axis=-1)


MEAN_PRED_SRC = inspect.getsource(mean_pred)
MY_LOSS_SRC = inspect.getsource(my_loss)


def resolve_metrics(names):
    return [mean_pred if m == "mean_pred" else m for m in names]


# ---------------------------------------------------------------------------
# 1. activations
# ---------------------------------------------------------------------------


def activation_names():
    from keras.src.activations import ALL_OBJECTS_DICT

    names = sorted(n for n in ALL_OBJECTS_DICT if n != "threshold")
    # sanity: every name resolves through the public getter
    for n in names:
        keras.activations.get(n)
    return names


# Kinks of piecewise activations; pre-activations are kept away from them so the
# gradient goldens do not depend on a backend's sub-gradient convention.
KINKS = [0.0, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 3.0, -3.0, 6.0, -6.0]


def make_activation_data():
    rng = np.random.default_rng(1001)
    for _attempt in range(1000):
        x = rng.uniform(-2.0, 2.0, (8, 5)).astype(F32)
        kernel = rng.uniform(-1.2, 1.2, (5, 6)).astype(F32)
        bias = rng.uniform(-0.5, 0.5, (6,)).astype(F32)
        bias[0] = F32(1e-3)  # zero row -> pre-activation just above 0
        bias[1] = F32(-1e-3)  # zero row -> pre-activation just below 0
        x[3] = 0.0  # one row of exact zeros
        # two rows pushed to large |z| (beyond +-3, and past relu6's cap)
        x[6] = 2.0 * np.sign(kernel[:, 2])
        x[7] = -2.0 * np.sign(kernel[:, 4])
        z = x @ kernel + bias
        others = np.delete(z, 3, axis=0)
        away = all(np.min(np.abs(others - k)) > 0.02 for k in KINKS)
        if z.max() > 6.0 and z.min() < -3.0 and away:
            r = rng.standard_normal((8, 6)).astype(F32)
            return x, kernel, bias, r
    raise RuntimeError("could not draw activation data")


def activation_cases():
    x, kernel, bias, r_full = make_activation_data()
    for name in activation_names():
        units = 6
        model_desc = {"input_shape": [5], "layers": [dense(units, name, True)]}
        model = build_model(model_desc)
        set_and_verify(model, [kernel, bias])
        y = model.predict(x, verbose=0, batch_size=8)
        out_dim = y.shape[-1]
        r = r_full[:, :out_dim].copy()

        # autograd through the Keras layer itself
        layer = model.layers[0]
        for v in layer.trainable_variables:
            v.value.grad = None
        xt = torch.tensor(x, requires_grad=True)
        yt = layer(xt)
        (yt * torch.tensor(r)).sum().backward()
        y_direct = yt.detach().numpy()
        dx = xt.grad.numpy().copy()
        dkernel = layer.kernel.value.grad.detach().numpy().copy()
        dbias = layer.bias.value.grad.detach().numpy().copy()

        # activation alone, on the pre-activation z (for debugging)
        act = keras.activations.get(name)
        zt = torch.tensor(x @ kernel + bias, requires_grad=True)
        at = act(zt)
        (at * torch.tensor(r)).sum().backward()
        dz = zt.grad.numpy().copy()

        check(f"activation_{name}: predict == layer(x)", np.allclose(y, y_direct, rtol=1e-6, atol=1e-6))
        check(f"activation_{name}: act(z) == y", np.allclose(at.detach().numpy(), y, rtol=1e-5, atol=1e-6))
        check(f"activation_{name}: finite", all(np.all(np.isfinite(a)) for a in (y, dx, dkernel, dbias)))
        # chain rule consistency: dkernel = x^T dz, dbias = sum dz (non-glu)
        if name != "glu":
            check(
                f"activation_{name}: dkernel == x^T dz",
                np.allclose(dkernel, x.T @ dz, rtol=1e-4, atol=1e-5),
            )
        desc = {
            "kind": "activation",
            "activation": name,
            "model": model_desc,
            "output_shape": list(y.shape),
            "note": "r is the cotangent: dx, dkernel, dbias = grad of sum(y*r); "
            "z = x@kernel+bias, dz = grad of sum(act(z)*r) w.r.t. z",
        }
        add_case(
            f"activation_{name}",
            desc,
            {
                "x": x,
                "kernel": kernel,
                "bias": bias,
                "y": y.astype(F32),
                "r": r,
                "dx": dx,
                "dkernel": dkernel,
                "dbias": dbias,
                "z": (x @ kernel + bias).astype(F32),
                "dz": dz,
            },
        )


# ---------------------------------------------------------------------------
# 2. training (train_on_batch, 5 steps)
# ---------------------------------------------------------------------------


def opt_specs():
    """(key, manifest optimizer description, factory)."""
    S = keras.optimizers
    sched = keras.optimizers.schedules.InverseTimeDecay
    return [
        ("sgd", {"class": "SGD", "config": {"learning_rate": 0.1}}, lambda: S.SGD(learning_rate=0.1)),
        (
            "sgd_momentum",
            {"class": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9}},
            lambda: S.SGD(learning_rate=0.1, momentum=0.9),
        ),
        (
            "sgd_nesterov",
            {"class": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}},
            lambda: S.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        ),
        (
            "sgd_decay",
            {
                "class": "SGD",
                "config": {"learning_rate": 0.1, "decay": 0.1, "momentum": 0.9, "nesterov": True},
                "keras3_equivalent": "SGD(learning_rate=InverseTimeDecay(0.1, decay_steps=1, "
                "decay_rate=0.1), momentum=0.9, nesterov=True); lr_t = 0.1/(1+0.1*t), t = 0,1,2,...",
            },
            lambda: S.SGD(
                learning_rate=sched(0.1, decay_steps=1, decay_rate=0.1),
                momentum=0.9,
                nesterov=True,
            ),
        ),
        ("rmsprop", {"class": "RMSprop", "config": {}}, lambda: S.RMSprop()),
        (
            "rmsprop_momentum_centered",
            {"class": "RMSprop", "config": {"momentum": 0.5, "centered": True}},
            lambda: S.RMSprop(momentum=0.5, centered=True),
        ),
        ("adagrad", {"class": "Adagrad", "config": {}}, lambda: S.Adagrad()),
        ("adam", {"class": "Adam", "config": {}}, lambda: S.Adam()),
        ("adam_amsgrad", {"class": "Adam", "config": {"amsgrad": True}}, lambda: S.Adam(amsgrad=True)),
        # With the default beta_2=0.999 amsgrad is numerically indistinguishable
        # from plain Adam over 5 steps (v never decreases), so add a pair with
        # beta_2=0.5 where the max(v_hat, v) actually bites.
        (
            "adam_b2_05",
            {"class": "Adam", "config": {"learning_rate": 0.01, "beta_2": 0.5}},
            lambda: S.Adam(learning_rate=0.01, beta_2=0.5),
        ),
        (
            "adam_amsgrad_b2_05",
            {"class": "Adam", "config": {"learning_rate": 0.01, "beta_2": 0.5, "amsgrad": True}},
            lambda: S.Adam(learning_rate=0.01, beta_2=0.5, amsgrad=True),
        ),
        (
            "adam_lr001",
            {"class": "Adam", "config": {"learning_rate": 0.01}},
            lambda: S.Adam(learning_rate=0.01),
        ),
    ]


def loss_problem(key, n, seed=None):
    """Return (loss name, model_desc, x, y, rng) for a problem; rng continues after the data."""
    seeds = {
        "mse": 2001,
        "bce": 2002,
        "cce": 2003,
        "mae": 2004,
        "scce": 2005,
        "cce_soft": 2006,
        "bce_multilabel": 2007,
        "custom": 2008,
    }
    rng = np.random.default_rng(seeds[key] if seed is None else seed)
    x = rng.standard_normal((n, 5)).astype(F32)
    if key in ("mse", "mae", "custom"):
        a = rng.standard_normal((5, 3))
        y = (np.tanh(x @ a) + 0.1 * rng.standard_normal((n, 3))).astype(F32)
        model = {"input_shape": [5], "layers": [dense(8, "relu"), dense(3, "linear")]}
        loss = {"mse": "mse", "mae": "mae", "custom": "my_loss"}[key]
    elif key == "bce":
        a = rng.standard_normal((5,))
        y = ((x @ a + 0.3 * rng.standard_normal(n)) > 0).astype(F32).reshape(n, 1)
        model = {"input_shape": [5], "layers": [dense(8, "tanh"), dense(1, "sigmoid")]}
        loss = "binary_crossentropy"
    elif key == "bce_multilabel":
        a = rng.standard_normal((5, 3))
        y = ((x @ a + 0.3 * rng.standard_normal((n, 3))) > 0).astype(F32)
        model = {"input_shape": [5], "layers": [dense(8, "tanh"), dense(3, "sigmoid")]}
        loss = "binary_crossentropy"
    elif key in ("cce", "scce", "cce_soft"):
        a = rng.standard_normal((5, 4))
        cls = np.argmax(x @ a + 0.3 * rng.standard_normal((n, 4)), axis=1)
        model = {"input_shape": [5], "layers": [dense(8, "relu"), dense(4, "softmax")]}
        if key == "cce":
            y = np.eye(4, dtype=F32)[cls]
            loss = "categorical_crossentropy"
        elif key == "scce":
            y = cls.astype(np.int32).reshape(n, 1)
            loss = "sparse_categorical_crossentropy"
        else:
            y = rng.random((n, 4)).astype(F32)  # NOT normalised, as in the stacked-LSTM tutorial
            loss = "categorical_crossentropy"
    else:
        raise KeyError(key)
    return loss, model, x, y, rng


def keras_loss(loss):
    return my_loss if loss == "my_loss" else loss


def full_batch_loss(model_desc, ws, x, y, loss):
    m = build_model(model_desc)
    m.compile(optimizer="sgd", loss=keras_loss(loss))
    set_and_verify(m, ws)
    return float(m.evaluate(x, y, batch_size=len(x), verbose=0))


def run_train_case(name, kind, opt_desc, opt_factory, loss_key, extra_desc=None):
    n, bs, steps = 40, 8, 5
    loss, model_desc, x, y, rng = loss_problem(loss_key, n)
    w0 = init_weights(model_desc, rng)
    model = build_model(model_desc)
    opt = opt_factory()
    model.compile(optimizer=opt, loss=keras_loss(loss), metrics=[])
    set_and_verify(model, w0)
    arrays = {"x": x, "y": y}
    arrays.update(weights_dict("w0", w0))
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
        arrays.update(weights_dict(f"w{s + 1}", model.get_weights()))
    arrays["losses"] = np.array(losses, dtype=np.float64)
    wfinal = model.get_weights()
    full0 = full_batch_loss(model_desc, w0, x, y, loss)
    full5 = full_batch_loss(model_desc, wfinal, x, y, loss)
    check(f"{name}: full-data loss decreased", full5 < full0, f"{full0:.6f} -> {full5:.6f}")
    check(f"{name}: finite", all(np.all(np.isfinite(v)) for v in arrays.values()))
    opt_desc = dict(opt_desc)
    opt_desc["resolved"] = resolved_opt_config(opt)
    desc = {
        "kind": kind,
        "model": model_desc,
        "compile": {"optimizer": opt_desc, "loss": loss, "metrics": []},
        "n_samples": n,
        "batch_size": bs,
        "steps": steps,
        "procedure": "for s in 0..steps-1: losses[s] = model.train_on_batch(x[s*bs:(s+1)*bs], "
        "y[s*bs:(s+1)*bs]); w{s+1}_i = model.get_weights()[i] after that step",
        "label_format": label_format(loss_key),
        "full_data_loss_initial": full0,
        "full_data_loss_final": full5,
    }
    if extra_desc:
        desc.update(extra_desc)
    add_case(name, desc, arrays)
    return arrays


def label_format(loss_key):
    return {
        "mse": "float targets (N,3)",
        "mae": "float targets (N,3)",
        "custom": "float targets (N,3)",
        "bce": "0/1 float labels (N,1)",
        "bce_multilabel": "0/1 float multi-labels (N,3)",
        "cce": "one-hot float labels (N,4)",
        "scce": "int32 class indices (N,1)",
        "cce_soft": "non-normalised random float targets in [0,1) (N,4)",
    }[loss_key]


def train_cases():
    specs = opt_specs()
    results = {}
    for okey, odesc, ofac in specs:
        lkeys = ["mse", "bce", "cce"]
        if okey in ("sgd_momentum", "adam"):
            lkeys += ["mae", "scce", "cce_soft", "bce_multilabel"]
        for lkey in lkeys:
            name = f"train_{okey}_{lkey}"
            results[name] = run_train_case(name, "train", odesc, ofac, lkey)
    # Nesterov sanity: first step of nesterov moves exactly (1+momentum) x the
    # plain-momentum first step (m1 = -lr*g; w1 = w0 + mu*m1 - lr*g).
    for lkey in ["mse", "bce", "cce"]:
        a, b = results[f"train_sgd_momentum_{lkey}"], results[f"train_sgd_nesterov_{lkey}"]
        for i in range(4):
            d_mom = a[f"w1_{i}"] - a[f"w0_{i}"]
            d_nes = b[f"w1_{i}"] - b[f"w0_{i}"]
            check(f"nesterov first step == 1.9 x momentum step ({lkey}, w{i})", np.allclose(d_nes, 1.9 * d_mom, rtol=1e-4, atol=1e-6))
        p, q = results[f"train_adam_b2_05_{lkey}"], results[f"train_adam_amsgrad_b2_05_{lkey}"]
        diff = max(float(np.abs(p[f"w5_{i}"] - q[f"w5_{i}"]).max()) for i in range(4))
        check(f"amsgrad(beta_2=0.5) differs from adam(beta_2=0.5) ({lkey})", diff > 1e-4, f"max diff {diff}")
        # and sgd_decay step 1 identical to nesterov (lr_0 = 0.1)
        c = results[f"train_sgd_decay_{lkey}"]
        check(f"sgd_decay step1 == nesterov step1 ({lkey})", all(np.allclose(c[f"w1_{i}"], b[f"w1_{i}"]) for i in range(4)))


# ---------------------------------------------------------------------------
# 3. evaluate
# ---------------------------------------------------------------------------


def numpy_eval(lkey, y, p):
    eps = 1e-7
    out = {}
    if lkey == "bce":
        q = np.clip(p, eps, 1 - eps)
        out["loss"] = float(np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q))))
        out["accuracy"] = float(np.mean((p > 0.5).astype(np.float64) == y))
    elif lkey in ("cce", "scce"):
        q = np.clip(p / p.sum(-1, keepdims=True), eps, 1 - eps)
        if lkey == "scce":
            lab = y.reshape(-1)
            out["loss"] = float(np.mean(-np.log(q[np.arange(len(lab)), lab])))
            out["accuracy"] = float(np.mean(np.argmax(p, -1) == lab))
        else:
            out["loss"] = float(np.mean(-np.sum(y * np.log(q), -1)))
            out["accuracy"] = float(np.mean(np.argmax(p, -1) == np.argmax(y, -1)))
            out["mse"] = float(np.mean((p - y) ** 2))
            out["mae"] = float(np.mean(np.abs(p - y)))
    return out


def evaluate_cases():
    n, bs = 37, 16
    specs = [
        ("evaluate_binary", "bce", ["accuracy", "mean_pred"]),
        ("evaluate_categorical", "cce", ["accuracy", "mse", "mae"]),
        ("evaluate_sparse", "scce", ["accuracy"]),
    ]
    for k, (name, lkey, metrics) in enumerate(specs):
        loss, model_desc, x, y, rng = loss_problem(lkey, n, seed=3001 + k)
        ws = init_weights(model_desc, rng)
        model = build_model(model_desc)
        model.compile(optimizer="rmsprop", loss=loss, metrics=resolve_metrics(metrics))
        set_and_verify(model, ws)
        res = model.evaluate(x, y, batch_size=bs, verbose=0)
        resd = model.evaluate(x, y, batch_size=bs, verbose=0, return_dict=True)
        y_pred = model.predict(x, batch_size=bs, verbose=0)
        desc = {
            "kind": "evaluate",
            "model": model_desc,
            "compile": {
                "optimizer": {"class": "RMSprop", "config": {}},
                "loss": loss,
                "metrics": metrics,
            },
            "n_samples": n,
            "batch_size": bs,
            "label_format": label_format(lkey),
            "result": [float(v) for v in res],
            "result_names": list(resd.keys()),
            "result_dict": {k: float(v) for k, v in resd.items()},
        }
        if "mean_pred" in metrics:
            desc["metric_sources"] = {"mean_pred": MEAN_PRED_SRC}
            # document how the scalar-valued custom metric is averaged
            batches = [y_pred[i : i + bs] for i in range(0, n, bs)]
            per_batch = float(np.mean([float(np.mean(b, dtype=np.float64)) for b in batches]))
            per_sample = float(np.mean(y_pred, dtype=np.float64))
            desc["mean_pred_if_mean_of_batch_means"] = per_batch
            desc["mean_pred_if_mean_over_samples"] = per_sample
            check(f"{name}: mean_pred is unweighted mean of per-batch means", abs(resd["mean_pred"] - per_batch) < 1e-6, f"{resd['mean_pred']} vs batch {per_batch} vs sample {per_sample}")
        # independent numpy recomputation: loss / accuracy / mse / mae are
        # per-sample means over all n rows (loss tracker weights each batch by its size)
        ref = numpy_eval(lkey, y, y_pred.astype(np.float64))
        for key, val in ref.items():
            if key in resd:
                check(f"{name}: {key} == per-sample numpy mean", abs(resd[key] - val) < 2e-6, f"{resd[key]} vs {val}")
        arrays = {"x": x, "y": y, "y_pred": y_pred.astype(F32), "result": np.array(res, dtype=np.float64)}
        arrays.update(weights_dict("w", ws))
        add_case(name, desc, arrays)


# ---------------------------------------------------------------------------
# 4. fit
# ---------------------------------------------------------------------------


def fit_cases():
    n, bs, epochs = 37, 16, 2
    model_desc = {"input_shape": [5], "layers": [dense(8, "relu"), dense(1, "sigmoid")]}
    metrics = ["accuracy", "mean_pred"]

    def data(seed, m):
        rng = np.random.default_rng(seed)
        a = np.array([1.0, -2.0, 0.5, 1.5, -1.0])
        x = rng.standard_normal((m, 5)).astype(F32)
        y = ((x @ a + 0.5 * rng.standard_normal(m)) > 0).astype(F32).reshape(m, 1)
        return x, y, rng

    for name, mode in [("fit_validation_data", "data"), ("fit_validation_split", "split")]:
        x, y, rng = data(4001, n)
        ws = init_weights(model_desc, np.random.default_rng(4002))
        model = build_model(model_desc)
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=resolve_metrics(metrics))
        set_and_verify(model, ws)
        epoch_ws = []
        cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: epoch_ws.append(model.get_weights()))
        arrays = {"x": x, "y": y}
        fit_kwargs = dict(epochs=epochs, batch_size=bs, shuffle=False, verbose=0, callbacks=[cb])
        desc = {
            "kind": "fit",
            "model": model_desc,
            "compile": {
                "optimizer": {"class": "RMSprop", "config": {}, "as_written": "rmsprop"},
                "loss": "binary_crossentropy",
                "metrics": metrics,
            },
            "metric_sources": {"mean_pred": MEAN_PRED_SRC},
            "n_samples": n,
            "epochs": epochs,
            "batch_size": bs,
            "shuffle": False,
        }
        if mode == "data":
            xv, yv, _ = data(4003, 20)
            arrays.update({"xv": xv, "yv": yv})
            hist = model.fit(x, y, validation_data=(xv, yv), **fit_kwargs)
            desc["validation_data"] = {"n_samples": 20, "arrays": ["xv", "yv"]}
        else:
            split_at = int(math.floor(n * (1 - 0.25)))
            hist = model.fit(x, y, validation_split=0.25, **fit_kwargs)
            desc["validation_split"] = 0.25
            desc["validation_split_note"] = (
                f"Keras takes the LAST {n - split_at} rows (x[{split_at}:]) as validation, "
                f"before any shuffling; trains on x[:{split_at}]"
            )
        desc["history"] = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
        # Replicate fit() with train_on_batch / evaluate to pin down how the
        # epoch logs are aggregated.
        if mode == "data":
            xt, yt, xval, yval = x, y, xv, yv
        else:
            xt, yt, xval, yval = x[:split_at], y[:split_at], x[split_at:], y[split_at:]
        rep = build_model(model_desc)
        rep.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=resolve_metrics(metrics))
        set_and_verify(rep, ws)
        per_batch = []
        for e in range(epochs):
            logs_e = []
            for i in range(0, len(xt), bs):
                d = rep.train_on_batch(xt[i : i + bs], yt[i : i + bs], return_dict=True)
                d = {k: float(v) for k, v in d.items()}
                d["batch_size"] = int(len(xt[i : i + bs]))
                logs_e.append(d)
            per_batch.append(logs_e)
            sizes = np.array([d["batch_size"] for d in logs_e], dtype=np.float64)
            exp = {
                "loss": float(np.sum(sizes * [d["loss"] for d in logs_e]) / sizes.sum()),
                "accuracy": float(np.sum(sizes * [d["accuracy"] for d in logs_e]) / sizes.sum()),
                "mean_pred": float(np.mean([d["mean_pred"] for d in logs_e])),
            }
            vd = rep.evaluate(xval, yval, batch_size=bs, verbose=0, return_dict=True)
            exp.update({f"val_{k}": float(v) for k, v in vd.items()})
            for k, v in exp.items():
                check(f"{name}: epoch {e + 1} {k} matches replication", abs(hist.history[k][e] - v) < 2e-6, f"{hist.history[k][e]} vs {v}")
        for a, b in zip(rep.get_weights(), model.get_weights()):
            check(f"{name}: replicated final weights", np.allclose(a, b, rtol=0, atol=1e-7))
        desc["per_batch_train_logs"] = per_batch
        desc["history_aggregation"] = (
            "loss/accuracy: batch-size-weighted mean over the epoch's batches of the "
            "per-batch values (each computed BEFORE that batch's update); mean_pred "
            "(scalar-valued custom metric): unweighted mean of per-batch values; "
            "val_*: model.evaluate on the validation rows with the end-of-epoch weights, "
            "batch_size = fit batch_size"
        )
        desc["history_keys"] = list(hist.history.keys())
        desc["optimizer_resolved"] = resolved_opt_config(model.optimizer)
        arrays.update(weights_dict("w0", ws))
        for e, we in enumerate(epoch_ws):
            arrays.update(weights_dict(f"we{e + 1}", we))
        arrays.update(weights_dict("wfinal", model.get_weights()))
        check(f"{name}: history finite", all(np.isfinite(v) for vs in hist.history.values() for v in vs))
        check(f"{name}: loss decreased", hist.history["loss"][-1] < hist.history["loss"][0], str(hist.history["loss"]))
        add_case(name, desc, arrays)


# ---------------------------------------------------------------------------
# 5. custom loss
# ---------------------------------------------------------------------------


def custom_loss_cases():
    odesc = {"class": "SGD", "config": {"learning_rate": 0.1}}
    run_train_case(
        "custom_loss_sgd",
        "custom_loss",
        odesc,
        lambda: keras.optimizers.SGD(learning_rate=0.1),
        "custom",
        extra_desc={
            "loss_source": MY_LOSS_SRC,
            "loss_note": "per-sample values (axis=-1 mean) are averaged over the batch "
            "(reduction sum_over_batch_size)",
        },
    )


# ---------------------------------------------------------------------------


def main():
    for f in OUT.glob("*.npz"):
        f.unlink()
    activation_cases()
    train_cases()
    evaluate_cases()
    fit_cases()
    custom_loss_cases()
    meta = {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "floatx": keras.config.floatx(),
        "epsilon": keras.config.epsilon(),
        "generator": "tests/golden/make_goldens.py",
    }
    return GOLDENS.finish(meta, "manifest.json")


if __name__ == "__main__":
    sys.exit(main())
