"""seqc against the Keras 3 goldens of tests/golden/make_training_goldens.py: the optimizers
Adadelta, Adamax, Nadam, Ftrl and Lion; sample and class weights; regularizers and
constraints; metric classes. Each case's model and compile arguments are Python source run
here through seqc.keras exactly as the generator ran them through Keras.

Weights are compared after every step (rtol 1e-4, atol 1e-5), and so are the updates
themselves (w_t - w_0, relative to their size) so that a slow optimizer (Adadelta's default
learning rate moves a weight by ~1e-6 per step) is still checked. Run with -s for the
maximum differences (test_zz_summary). Needs no Keras.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from seqc import keras

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "training_manifest.json").read_text())
CASES = {k: v for k, v in MANIFEST.items() if not k.startswith("_")}
DIFFS = {}


def _load(case):
    with np.load(GOLDEN / f"{case}.npz") as z:
        return {k: z[k] for k in z.files}


def _record(case, what, got, want, rtol, atol):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{case} {what}: shape {got.shape} != golden {want.shape}"
    diff = np.abs(got - want)
    mabs = float(diff.max()) if diff.size else 0.0
    mrel = float((diff / np.maximum(np.abs(want), 1e-3)).max()) if diff.size else 0.0
    group = case.split("_")[1]
    old = DIFFS.get(group, (0.0, 0.0))
    DIFFS[group] = (max(old[0], mabs), max(old[1], mrel))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{case}: {what}")


def _record_update(case, what, got, want, w0):
    """The update w - w0 against Keras's, relative to the update's own size."""
    dg, dw = np.asarray(got, np.float64) - w0, np.asarray(want, np.float64) - w0
    scale = float(np.abs(dw).max())
    err = float(np.abs(dg - dw).max())
    # float32 rounding of the weights (|w| < ~2) bounds how well a tiny update can be seen
    assert err <= 2e-3 * scale + 4e-7, f"{case}: update of {what} differs by {err:.3g} (size {scale:.3g})"


def build(case):
    c = CASES[case]
    keras.backend.clear_session()      # as the generator: metric objects' automatic names count from here
    ns = {"keras": keras, "np": np}
    model = eval(c["model"], ns)
    model.loc = None
    model.compile(**eval(c.get("seqc_compile", c["compile"]), ns))
    return model


def _weights(d, k):
    return [d[f"{k}_{i}"] for i in range(sum(1 for n in d if n.startswith(f"{k}_")))]


@pytest.mark.parametrize("case", sorted(CASES))
def test_case(case):
    c, d = CASES[case], _load(case)
    model = build(case)
    w0 = _weights(d, "w0")
    model.set_weights(w0)
    x, y, sw, bs = d["x"], d["y"], d.get("sw"), c["batch_size"]
    if c["run"] in ("train", "test"):
        logs = []
        for s in range(c["steps"]):
            sl = slice(s * bs, (s + 1) * bs)
            kw = {} if sw is None else {"sample_weight": sw[sl]}
            fn = model.train_on_batch if c["run"] == "train" else model.test_on_batch
            out = fn(x[sl], y[sl], return_dict=True, **kw)
            assert list(out) == c["keys"]
            logs.append([out[k] for k in c["keys"]])
            if c["run"] == "train":
                for i, w in enumerate(model.get_weights()):
                    _record(case, f"w{s + 1}_{i}", w, d[f"w{s + 1}_{i}"], 1e-4, 1e-5)
                    _record_update(case, f"w{s + 1}_{i}", w, d[f"w{s + 1}_{i}"], w0[i])
        for i, k in enumerate(c["keys"]):
            _record(case, f"logs {k}", [row[i] for row in logs], d[f"logs_{i}"], 1e-4, 1e-6)
        if c["run"] == "train":
            assert model.optimizer.iterations == c["steps"]
    elif c["run"] == "evaluate":
        kw = {} if sw is None else {"sample_weight": sw}
        out = model.evaluate(x, y, batch_size=bs, verbose=0, return_dict=True, **kw)
        assert list(out) == c["keys"]
        for i, k in enumerate(c["keys"]):
            _record(case, f"result {k}", out[k], d[f"logs_{i}"], 1e-4, 1e-6)
    elif c["run"] == "fit":
        kw = eval(c["fit_kwargs"], {"keras": keras, "np": np, "x": x, "y": y, "sw": sw})
        h = model.fit(x, y, batch_size=bs, epochs=2, shuffle=False, verbose=0, **kw)
        assert list(h.history) == c["keys"]
        for i, k in enumerate(c["keys"]):
            _record(case, f"history {k}", h.history[k], d[f"logs_{i}"], 1e-4, 1e-6)
        for i, w in enumerate(model.get_weights()):
            _record(case, f"wend_{i}", w, d[f"wend_{i}"], 1e-4, 1e-5)
    else:
        raise AssertionError(c["run"])


def test_zz_summary():
    """Print the largest differences per group of cases (run with -s)."""
    for group, (mabs, mrel) in sorted(DIFFS.items()):
        print(f"training goldens {group:>10}: max abs diff {mabs:.3g}, max rel diff {mrel:.3g}")


# ------------------------------------------------------------------------------------------
# the generated optimizer code is warning-free
# ------------------------------------------------------------------------------------------
def _c_source(model, sparse_embedding=True):
    from seqc import build as seqc_build
    from seqc import codegen, lower, passes
    spec = model.spec()
    graph = lower.lower_model(spec)
    graph.name = "model"
    lower.attach_training(graph, spec.compile, lower.default_y_shape(spec.compile, graph.output.shape))
    passes.run_passes(graph, sparse_embedding=sparse_embedding)
    return codegen.generate(graph, seqc_build.default_flags())


def _syntax_check_cmd():
    """The compiler seqc builds with (the one the package needs anyway), syntax only, every
    warning an error; OpenMP when seqc's builds use it."""
    from seqc import build
    omp = ["-fopenmp"] if "-fopenmp" in build.default_flags() else []
    return [build.compiler(), "-std=gnu11", *omp, "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "model.c"]


WARNING_FREE = [
    "Adadelta(1.0, clipnorm=0.1)", "Adamax(weight_decay=0.1)", "Nadam()", "Lion(global_clipnorm=1.0)",
    "Ftrl()", "Ftrl(learning_rate_power=-0.7, l2_shrinkage_regularization_strength=0.1, clipvalue=0.5)",
    "Ftrl(learning_rate_power=0.0)",
]


@pytest.mark.parametrize("opt", WARNING_FREE)
@pytest.mark.parametrize("embedding", [False, True])
def test_optimizer_c_is_warning_free(opt, embedding, tmp_path):
    import subprocess
    if embedding:
        model = keras.Sequential([keras.Input((6,)), keras.layers.Embedding(20, 4), keras.layers.Flatten(),
                                  keras.layers.Dense(3, activation="softmax")])
    else:
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(2)])
    model.compile(optimizer=eval("keras.optimizers." + opt), loss="mse")
    c, h = _c_source(model)
    (tmp_path / "model.c").write_text(c)
    (tmp_path / "model.h").write_text(h)
    r = subprocess.run(_syntax_check_cmd(),
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def test_penalty_and_metric_c_is_warning_free(tmp_path):
    """Regularizers (weights and activity), constraints of each kind, weighted and stateful
    metrics in one model: its C compiles with -Wall -Wextra -Werror."""
    import subprocess
    R, C, M = keras.regularizers, keras.constraints, keras.metrics
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(4, activation="tanh", kernel_regularizer=R.L1L2(0.01, 0.02), bias_regularizer="l1",
                           activity_regularizer=R.L2(0.1), kernel_constraint=C.MinMaxNorm(0.1, 1.0, 0.5),
                           bias_constraint="non_neg"),
        keras.layers.Dense(3, activation="softmax", activity_regularizer="l1", kernel_constraint=C.UnitNorm(1),
                           bias_constraint=C.MaxNorm(1.0))])
    model.compile(optimizer="nadam", loss="categorical_crossentropy",
                  metrics=[M.Precision(), M.AUC(from_logits=True), M.TopKCategoricalAccuracy(k=2), "accuracy"],
                  weighted_metrics=[M.Recall(thresholds=[0.2, 0.4]), M.RootMeanSquaredError(),
                                    M.TopKCategoricalAccuracy(k=2)])
    c, h = _c_source(model)
    for marker in ("penalty_grad(m);", "apply_constraints(m);", "activity_grad_0(m, B);", "weighted_metric_",
                   "weighted_loss_and_grad"):
        assert marker in c, marker
    (tmp_path / "model.c").write_text(c)
    (tmp_path / "model.h").write_text(h)
    r = subprocess.run(_syntax_check_cmd(),
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
