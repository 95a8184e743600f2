"""Goldens for training beyond the tutorial: the Keras 3 optimizers Adadelta, Adamax, Nadam,
Ftrl and Lion; sample and class weights; regularizers and constraints; metric classes.

Run from the repository root:

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_training_goldens.py

Writes tests/golden/training_manifest.json and tests/golden/training_<case>.npz. Each case is
a small MLP given as Python source (`model`, `compile`, `fit_kwargs`) that the test runs
unchanged through seqc.keras, so one text describes both sides. Data, sample weights and all
initial weights come from np.random.default_rng with fixed seeds and are installed with
set_weights; Keras's own initializer RNG is never relied upon.

Runs (`run`):
  train     5 x train_on_batch(x[s*bs:(s+1)*bs], y[...], sample_weight=sw[...] if sw,
            return_dict=True): logs per step, weights after every step.
  test      test_on_batch over the same batches (no update), return_dict=True.
  evaluate  evaluate(x, y, sample_weight=sw if sw, batch_size=bs, return_dict=True).
  fit       fit(x, y, batch_size=bs, epochs=2, shuffle=False, **fit_kwargs): history,
            weights at the end.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import sys
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
torch.manual_seed(0)

import keras  # noqa: E402

assert keras.backend.backend() == "torch", keras.backend.backend()
keras.utils.set_random_seed(0)

from golden_common import Goldens, set_and_verify, weights_dict  # noqa: E402

OUT = Path(__file__).resolve().parent
F32 = np.float32
GOLDENS = Goldens(OUT, prefix="training_")
N, BS, STEPS = 40, 8, 5


def problem(key, seed):
    """x (N,5), y and the output layer for a problem."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, 5)).astype(F32)
    if key == "mse":
        y = np.tanh(x @ rng.standard_normal((5, 3))).astype(F32)
        head, loss = "keras.layers.Dense(3)", "mse"
    elif key == "bce":
        y = ((x @ rng.standard_normal((5,)) + 0.3 * rng.standard_normal(N)) > 0).astype(F32).reshape(N, 1)
        head, loss = "keras.layers.Dense(1, activation='sigmoid')", "binary_crossentropy"
    elif key in ("cce", "scce"):
        cls = np.argmax(x @ rng.standard_normal((5, 4)) + 0.3 * rng.standard_normal((N, 4)), axis=1)
        head = "keras.layers.Dense(4, activation='softmax')"
        if key == "cce":
            y, loss = np.eye(4, dtype=F32)[cls], "categorical_crossentropy"
        else:
            y, loss = cls.astype(np.int32).reshape(N, 1), "sparse_categorical_crossentropy"
    else:
        raise KeyError(key)
    return x, y, head, loss, rng


def mlp(head, hidden="keras.layers.Dense(8, activation='tanh')"):
    return f"keras.Sequential([keras.Input((5,)), {hidden}, {head}])"


def add(name, run, prob, optimizer="keras.optimizers.SGD(learning_rate=0.1)", hidden=None, head=None,
        metrics=None, weighted_metrics=None, sw=None, fit_kwargs="{}", seqc_optimizer=None, seed=None,
        tokens=False):
    """One case; `sw` is None or 'random' (sample weights in [0, 2)) or 'zeros_some'; `hidden`
    the source of the layers between the input and the head; `tokens`: x are indices in [0, 10)."""
    seed = seed if seed is not None else 3000 + len(GOLDENS.manifest)
    keras.backend.clear_session()        # metric objects' automatic names count from here
    x, y, default_head, loss, rng = problem(prob, seed)
    if tokens:
        x = np.floor(np.abs(x) * 4).clip(0, 9).astype(F32)
    model_src = mlp(head or default_head, *( [hidden] if hidden else []))
    comp = f"dict(optimizer={optimizer}, loss={loss!r}"
    if metrics is not None:
        comp += f", metrics={metrics}"
    if weighted_metrics is not None:
        comp += f", weighted_metrics={weighted_metrics}"
    comp += ")"
    arrays = {"x": x, "y": y}
    if sw == "random":
        arrays["sw"] = (2 * rng.random(N)).astype(F32)
    elif sw == "zeros_some":
        w = (2 * rng.random(N)).astype(F32)
        w[::3] = 0
        arrays["sw"] = w
    ns = {"keras": keras, "np": np}
    model = eval(model_src, ns)
    w0 = [(0.5 * rng.standard_normal(w.shape)).astype(F32) for w in model.get_weights()]
    model.compile(**eval(comp, ns))
    set_and_verify(model, w0)
    arrays.update(weights_dict("w0", w0))
    desc = {"run": run, "problem": prob, "model": model_src, "compile": comp, "n": N, "batch_size": BS}
    if seqc_optimizer:
        desc["seqc_compile"] = comp.replace(optimizer, seqc_optimizer)
    swb = arrays.get("sw")
    # logs are stored per key (logs_<i> for desc["keys"][i]): a metric with several thresholds
    # reports an array
    if run in ("train", "test"):
        logs = []
        for s in range(STEPS):
            sl = slice(s * BS, (s + 1) * BS)
            kw = {} if swb is None else {"sample_weight": swb[sl]}
            fn = model.train_on_batch if run == "train" else model.test_on_batch
            d = fn(x[sl], y[sl], return_dict=True, **kw)
            desc.setdefault("keys", list(d))
            logs.append([np.asarray(d[k], np.float64) for k in desc["keys"]])
            if run == "train":
                arrays.update(weights_dict(f"w{s + 1}", model.get_weights()))
        for i in range(len(desc["keys"])):
            arrays[f"logs_{i}"] = np.array([row[i] for row in logs])
        desc["steps"] = STEPS
    elif run == "evaluate":
        kw = {} if swb is None else {"sample_weight": swb}
        d = model.evaluate(x, y, batch_size=BS, verbose=0, return_dict=True, **kw)
        desc["keys"] = list(d)
        for i, k in enumerate(desc["keys"]):
            arrays[f"logs_{i}"] = np.asarray(d[k], np.float64)
    elif run == "fit":
        desc["fit_kwargs"] = fit_kwargs
        kw = eval(fit_kwargs, {"keras": keras, "np": np, "x": x, "y": y, "sw": swb})
        h = model.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0, **kw)
        desc["keys"] = list(h.history)
        for i, k in enumerate(desc["keys"]):
            arrays[f"logs_{i}"] = np.array([np.asarray(e, np.float64) for e in h.history[k]])
        arrays.update(weights_dict("wend", model.get_weights()))
    else:
        raise KeyError(run)
    arrays = {k: v for k, v in arrays.items()}
    GOLDENS.check(f"{name}: finite", all(np.all(np.isfinite(v)) for v in arrays.values()))
    GOLDENS.add_case(f"training_{name}", desc, arrays)


def optimizer_cases():
    O = "keras.optimizers."
    for key, opt in [
        ("adadelta", "Adadelta()"),
        ("adadelta_args", "Adadelta(learning_rate=1.0, rho=0.9, epsilon=1e-6)"),
        ("adamax", "Adamax()"),
        ("adamax_args", "Adamax(learning_rate=0.05, beta_1=0.8, beta_2=0.9, epsilon=1e-5)"),
        ("nadam", "Nadam()"),
        ("nadam_args", "Nadam(learning_rate=0.05, beta_1=0.8, beta_2=0.9, epsilon=1e-5)"),
        ("ftrl", "Ftrl()"),
        ("ftrl_args", "Ftrl(learning_rate=0.2, learning_rate_power=-0.7, initial_accumulator_value=0.5, "
                      "l1_regularization_strength=0.01, l2_regularization_strength=0.02, "
                      "l2_shrinkage_regularization_strength=0.03, beta=0.1)"),
        ("lion", "Lion()"),
        ("lion_args", "Lion(learning_rate=0.01, beta_1=0.5, beta_2=0.8)"),
        ("adamax_clipnorm_wd", "Adamax(learning_rate=0.05, clipnorm=0.5, weight_decay=0.1)"),
        ("nadam_schedule", "Nadam(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.05, 2, 0.5))"),
        ("lion_global_clipnorm", "Lion(learning_rate=0.01, global_clipnorm=0.3, weight_decay=0.2)"),
        ("ftrl_clipvalue", "Ftrl(learning_rate=0.3, clipvalue=0.05)"),
        ("adadelta_clipvalue_wd", "Adadelta(learning_rate=1.0, clipvalue=0.1, weight_decay=0.05)"),
    ]:
        for prob in ("mse", "cce"):
            add(f"opt_{key}_{prob}", "train", prob, optimizer=O + opt)
    # Keras-2 spelling lr= (Keras 3 refuses it): the same run as learning_rate=
    add("opt_adadelta_lr_keras2_mse", "train", "mse", optimizer=O + "Adadelta(learning_rate=1.0)",
        seqc_optimizer=O + "Adadelta(lr=1.0)")
    # by name, defaults
    for name in ("adadelta", "adamax", "nadam", "ftrl", "lion"):
        add(f"opt_name_{name}_bce", "train", "bce", optimizer=repr(name))


def weight_cases():
    opt = "keras.optimizers.SGD(learning_rate=0.1, momentum=0.5)"
    for prob, mets in (("mse", "['mae']"), ("cce", "['accuracy']"), ("scce", "['accuracy']"), ("bce", "['accuracy']")):
        add(f"sw_train_{prob}", "train", prob, optimizer=opt, sw="random", metrics=mets, weighted_metrics=mets)
        add(f"sw_test_{prob}", "test", prob, optimizer=opt, sw="random", metrics=mets, weighted_metrics=mets)
        add(f"sw_evaluate_{prob}", "evaluate", prob, optimizer=opt, sw="zeros_some", metrics=mets,
            weighted_metrics=mets)
    add("sw_train_only_weighted_mse", "train", "mse", optimizer="'adam'", sw="zeros_some",
        weighted_metrics="['mse', 'mae']")
    add("sw_train_no_metric_weights_cce", "train", "cce", optimizer="'rmsprop'", sw="random",
        metrics="['accuracy']")
    add("sw_fit_mse", "fit", "mse", optimizer=opt, sw="random", metrics="['mae']", weighted_metrics="['mae']",
        fit_kwargs="dict(sample_weight=sw, validation_split=0.25)")
    add("sw_fit_valdata_cce", "fit", "cce", optimizer=opt, sw="random", weighted_metrics="['accuracy']",
        fit_kwargs="dict(validation_data=(x[:16], y[:16], sw[:16]))")
    for prob in ("cce", "scce", "bce"):
        add(f"cw_fit_{prob}", "fit", prob, optimizer=opt, metrics="['accuracy']", weighted_metrics="['accuracy']",
            fit_kwargs="dict(class_weight={0: 0.5, 1: 2.0, 7: 3.0}, validation_data=(x[:16], y[:16]))")
    add("cw_fit_weighted_only_cce", "fit", "cce", optimizer="'adam'", weighted_metrics="['accuracy', 'mse']",
        fit_kwargs="dict(class_weight={2: 0.25, 3: 4.0})")


def penalty_cases():
    D = "keras.layers.Dense"
    R, C = "keras.regularizers.", "keras.constraints."
    opt = "keras.optimizers.SGD(learning_rate=0.1, momentum=0.5)"
    for key, hidden in [
        ("reg_kernel_l2", f"{D}(8, activation='tanh', kernel_regularizer={R}l2(0.01))"),
        ("reg_kernel_l1_bias_l2", f"{D}(8, activation='tanh', kernel_regularizer={R}L1(0.02), "
                                  f"bias_regularizer={R}L2(0.05))"),
        ("reg_l1_l2", f"{D}(8, activation='tanh', kernel_regularizer={R}l1_l2(l1=0.01, l2=0.02), "
                      f"bias_regularizer={R}L1L2(l2=0.1))"),
        ("reg_strings", f"{D}(8, activation='tanh', kernel_regularizer='l2', bias_regularizer='l1')"),
        ("reg_activity_l2", f"{D}(8, activation='tanh', activity_regularizer={R}l2(0.05))"),
        ("reg_activity_l1_kernel_l2", f"{D}(8, activation='tanh', activity_regularizer={R}L1(0.02), "
                                      f"kernel_regularizer={R}L2(0.01))"),
        ("con_max_norm", f"{D}(8, activation='tanh', kernel_constraint={C}max_norm(max_value=0.8, axis=0))"),
        ("con_max_norm_axis1", f"{D}(8, activation='tanh', kernel_constraint={C}MaxNorm(0.7, axis=1))"),
        ("con_non_neg", f"{D}(8, activation='tanh', kernel_constraint={C}non_neg(), bias_constraint='non_neg')"),
        ("con_unit_norm", f"{D}(8, activation='tanh', kernel_constraint={C}unit_norm(axis=0))"),
        ("con_min_max_norm", f"{D}(8, activation='tanh', kernel_constraint="
                             f"{C}min_max_norm(min_value=0.9, max_value=1.2, rate=0.7, axis=0), "
                             f"bias_constraint={C}MinMaxNorm(0.1, 0.5))"),
        ("con_strings_reg", f"{D}(8, activation='tanh', kernel_constraint='max_norm', bias_constraint='unit_norm', "
                            f"kernel_regularizer='l2')"),
    ]:
        for prob in ("mse", "cce"):
            add(f"{key}_{prob}", "train", prob, optimizer=opt, hidden=hidden)
    # the output layer's activity penalty (no fused softmax + cross-entropy then) and a head constraint
    add("reg_activity_head_cce", "train", "cce", optimizer=opt,
        head=f"{D}(4, activation='softmax', activity_regularizer={R}L1L2(0.01, 0.02))")
    add("con_head_max_norm_bce", "train", "bce", optimizer="'adam'",
        head=f"{D}(1, activation='sigmoid', kernel_constraint={C}MaxNorm(0.3), bias_regularizer={R}L2(0.1))")
    # with an Adam update, fit/evaluate (history and evaluate report the penalty)
    hid = f"{D}(8, activation='tanh', kernel_regularizer={R}L2(0.02), activity_regularizer={R}L1(0.01))"
    add("reg_fit_mse", "fit", "mse", optimizer="'adam'", hidden=hid, metrics="['mae']",
        fit_kwargs="dict(validation_data=(x[:16], y[:16]))")
    add("reg_evaluate_cce", "evaluate", "cce", hidden=hid, metrics="['accuracy']")
    add("reg_test_sw_cce", "test", "cce", hidden=hid, sw="random")
    add("reg_train_sw_mse", "train", "mse", hidden=hid, sw="random", optimizer="'rmsprop'")
    # the other layer kinds' regularizer and constraint arguments
    L = "keras.layers."
    add("reg_conv1d_mse", "train", "mse", optimizer=opt,
        hidden=f"{L}Reshape((5, 1)), {L}Conv1D(3, 2, activation='tanh', kernel_regularizer={R}L2(0.05), "
               f"bias_regularizer={R}L1(0.01), kernel_constraint={C}MaxNorm(0.6, axis=[0, 1])), {L}Flatten()")
    add("reg_conv2d_mse", "train", "mse", optimizer=opt,
        hidden=f"{L}Reshape((5, 1, 1)), {L}Conv2D(2, (2, 1), activation='tanh', kernel_regularizer={R}L1L2(0.01, 0.02), "
               f"bias_constraint='non_neg'), {L}Flatten()")
    add("reg_embedding_cce", "train", "cce", optimizer=opt, tokens=True,
        hidden=f"{L}Embedding(10, 3, embeddings_regularizer={R}L2(0.05), "
               f"embeddings_constraint={C}UnitNorm(axis=1)), {L}Flatten()")
    for rnn in ("LSTM", "GRU", "SimpleRNN"):
        add(f"reg_{rnn.lower()}_mse", "train", "mse", optimizer=opt,
            hidden=f"{L}Reshape((5, 1)), {L}{rnn}(3, kernel_regularizer={R}L2(0.05), "
                   f"recurrent_regularizer={R}L1(0.02), bias_regularizer={R}L2(0.1), "
                   f"recurrent_constraint={C}MaxNorm(0.5), kernel_constraint='non_neg')")


def metric_cases():
    M = "keras.metrics."
    opt = "keras.optimizers.SGD(learning_rate=0.5)"
    conf = (f"[{M}Precision(), {M}Recall(), {M}AUC(), {M}TruePositives(), {M}TrueNegatives(), "
            f"{M}FalsePositives(), {M}FalseNegatives(), {M}BinaryAccuracy(threshold=0.6)]")
    thr = (f"[{M}Precision(thresholds=[0.3, 0.5, 0.7]), {M}Recall(thresholds=0.4), "
           f"{M}TruePositives(thresholds=[0.2, 0.8]), {M}FalseNegatives([0.45, 0.55])]")
    aucs = (f"[{M}AUC(num_thresholds=50, curve='PR'), {M}AUC(summation_method='minoring'), "
            f"{M}AUC(curve='PR', summation_method='majoring'), {M}AUC(thresholds=[0.2, 0.5, 0.7]), "
            f"{M}AUC(num_thresholds=7, curve='PR', summation_method='interpolation')]")
    strings = "['precision', 'recall', 'auc', 'true_positives', 'false_negatives', 'accuracy', 'accuracy']"
    # (no validation in fit with a count metric: Keras 3 on torch logs the count metrics' variables
    # themselves, so validation's evaluate overwrites the training values it reports)
    for key, mets in (("conf", conf), ("thresholds", thr), ("auc", aucs), ("strings", strings)):
        for run in ("fit", "evaluate", "test"):
            add(f"met_{key}_{run}_bce", run, "bce", optimizer=opt, metrics=mets)
    add("met_validation_fit_bce", "fit", "bce", optimizer=opt,
        metrics=f"[{M}Precision(), {M}Recall(thresholds=[0.3, 0.6]), {M}AUC(), {M}AUC(curve='PR')]",
        fit_kwargs="dict(validation_data=(x[:16], y[:16]))")
    add("met_auc_logits_fit_bce", "fit", "bce", optimizer="keras.optimizers.SGD(learning_rate=0.05)",
        head="keras.layers.Dense(1)",
        metrics=f"[{M}AUC(from_logits=True), {M}AUC(from_logits=True, curve='PR')]")
    cat = (f"[{M}TopKCategoricalAccuracy(k=2), {M}TopKCategoricalAccuracy(k=3), {M}CategoricalAccuracy(), "
           f"{M}Precision(), {M}Recall(thresholds=[0.2, 0.4]), {M}AUC()]")
    sparse = (f"[{M}SparseTopKCategoricalAccuracy(k=2), {M}SparseTopKCategoricalAccuracy(k=1, name='top1'), "
              f"{M}SparseCategoricalAccuracy()]")
    reg = (f"[{M}MeanAbsoluteError(), {M}MeanSquaredError(), {M}RootMeanSquaredError(), "
           f"{M}MeanAbsolutePercentageError(), 'mse', 'mae', 'mape', 'root_mean_squared_error']")
    for prob, mets in (("cce", cat), ("scce", sparse), ("mse", reg)):
        for run in ("fit", "evaluate", "test"):
            add(f"met_{prob}_{run}", run, prob, optimizer=opt, metrics=mets)
    # weighted: the counts and means weigh by the sample weights
    wmets = f"[{M}Precision(), {M}AUC(), {M}Precision(thresholds=[0.3, 0.6]), {M}Recall()]"
    add("met_weighted_fit_bce", "fit", "bce", optimizer=opt, sw="random", metrics=f"[{M}Precision()]",
        weighted_metrics=wmets, fit_kwargs="dict(sample_weight=sw, validation_data=(x[:16], y[:16], sw[:16]))")
    add("met_weighted_evaluate_bce", "evaluate", "bce", optimizer=opt, sw="zeros_some",
        weighted_metrics=wmets[:-1] + f", {M}TruePositives(thresholds=[0.3, 0.6]), {M}FalseNegatives()]")
    add("met_weighted_topk_fit_cce", "fit", "cce", optimizer=opt, sw="random",
        metrics=f"[{M}TopKCategoricalAccuracy(k=2)]", weighted_metrics=f"[{M}TopKCategoricalAccuracy(k=2), "
        f"{M}RootMeanSquaredError(), {M}Precision()]", fit_kwargs="dict(sample_weight=sw)")


def sparse_embedding_cases():
    """Weighted training through the row-sparse Embedding update (SGD with momentum, Adadelta)."""
    hid = "keras.layers.Embedding(10, 3), keras.layers.Flatten()"
    add("sw_train_embedding_sgd_cce", "train", "cce", optimizer="keras.optimizers.SGD(0.2, momentum=0.9)",
        hidden=hid, tokens=True, sw="random", weighted_metrics="['accuracy']")
    add("opt_adadelta_embedding_fit_cce", "fit", "cce", optimizer="keras.optimizers.Adadelta(1.0)", hidden=hid,
        tokens=True, sw="random", fit_kwargs="dict(sample_weight=sw)")


def main():
    for f in OUT.glob("training_*.npz"):
        f.unlink()
    only = set(sys.argv[1:])
    for fn in (optimizer_cases, weight_cases, penalty_cases, metric_cases, sparse_embedding_cases):
        if not only or fn.__name__ in only:
            fn()
    meta = {"keras_version": keras.__version__, "backend": keras.backend.backend(),
            "torch_version": torch.__version__, "generator": "tests/golden/make_training_goldens.py"}
    return GOLDENS.finish(meta, "training_manifest.json")


if __name__ == "__main__":
    sys.exit(main())
