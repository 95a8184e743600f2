"""BatchNormalization and LayerNormalization against real Keras 3
(tests/golden/make_norm_goldens.py): the inference output for fixed weights (moving statistics
away from 0 / 1), five train_on_batch steps with SGD, Adam or RMSprop or a two-epoch `fit` with
a partial last batch, and every weight afterwards, the moving statistics included. Then
finite-difference checks of both backward kernels (batch statistics and fixed statistics),
thread-count independence, the arguments seqc refuses, the static front end, warning-free C."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from seqc import keras
from seqc.errors import SeqcError

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "norm_manifest.json").read_text())
CASES = sorted(k for k in MANIFEST if not k.startswith("_"))
ROOT = Path(__file__).resolve().parent.parent


def build(desc, name=None):
    layers = [getattr(keras.layers, l["class"])(**l["config"]) for l in desc["layers"]]
    model = keras.Sequential([keras.Input(shape=tuple(desc["input_shape"]))] + layers, name=name)
    model.loc = None
    return model


def optimizer(spec):
    return getattr(keras.optimizers, spec["class"])(**spec["config"])


def load(case):
    data = np.load(GOLDEN / f"{case}.npz")
    n = len([k for k in data.files if k.startswith("w_")])
    return data, [data[f"w_{i}"] for i in range(n)], [data[f"trained_{i}"] for i in range(n)]


def run_case(case):
    """(model, data, trained weights) after the golden's training, from the golden's weights."""
    desc = MANIFEST[case]
    data, ws, trained = load(case)
    model = build(desc)
    model.compile(optimizer=optimizer(desc["optimizer"]), loss=desc["loss"])
    model.set_weights(ws)
    return model, data, trained


@pytest.mark.parametrize("case", CASES)
def test_equals_keras(case):
    desc = MANIFEST[case]
    model, data, trained = run_case(case)
    x, target = data["x"], data["target"]
    assert [w.shape for w in model.get_weights()] == [w.shape for w in trained]
    np.testing.assert_allclose(model.predict(x, batch_size=len(x), verbose=0), data["y"], rtol=1e-4, atol=1e-5)
    if "fit" in desc:
        fit = desc["fit"]
        hist = model.fit(x, target, batch_size=fit["batch_size"], epochs=fit["epochs"], shuffle=fit["shuffle"],
                         verbose=0)
        np.testing.assert_allclose(hist.history["loss"], data["history"], rtol=1e-4, atol=1e-6)
    else:
        losses = [float(model.train_on_batch(x, target)) for _ in range(desc["steps"])]
        np.testing.assert_allclose(losses, data["losses"], rtol=1e-4, atol=1e-6)
    for name, got, want in zip(desc["weights"], model.get_weights(), trained):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5, err_msg=name)
    np.testing.assert_allclose(model.predict(x, batch_size=len(x), verbose=0), data["y_after"], rtol=1e-4,
                               atol=2e-5)


def test_moving_statistics_are_non_trainable_weights():
    model = build(MANIFEST["norm_bn_dense_sgd"])
    model.compile("sgd", "mse")
    desc = model._runtime.desc
    roles = [(p.name.split("/")[-1], p.trainable) for p in desc.params]
    assert roles[2:6] == [("gamma", True), ("beta", True), ("moving_mean", False), ("moving_variance", False)]
    text = []
    model.summary(print_fn=text.append)
    assert "Non-trainable params: 10" in "\n".join(text)
    # evaluate and predict (inference) leave the moving statistics alone; training moves them
    x = np.random.default_rng(0).normal(1, 2, (6, 6)).astype(np.float32)
    y = np.zeros((6, 3), np.float32)
    before = model.get_weights()
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    model(x)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.train_on_batch(x, y)
    after = model.get_weights()
    assert not np.array_equal(after[4], before[4]) and not np.array_equal(after[5], before[5])


# ---------------------------------------------------------------------------------------------
# finite differences
# ---------------------------------------------------------------------------------------------
L = keras.layers
GRAD_MODELS = {
    "bn_dense": ((5,), lambda: [L.Dense(4), L.BatchNormalization(), L.Dense(3, activation="tanh")], "mse"),
    "bn_conv2d_gelu": ((5, 5, 2), lambda: [L.Conv2D(3, 2), L.BatchNormalization(), L.Activation("gelu"),
                                           L.Flatten(), L.Dense(2)], "mse"),
    "bn_conv1d_tanh": ((6, 2), lambda: [L.Conv1D(3, 2), L.BatchNormalization(momentum=0.5),
                                        L.Activation("tanh"), L.Flatten(), L.Dense(2)], "mse"),
    "bn_plain": ((5,), lambda: [L.Dense(4), L.BatchNormalization(center=False, scale=False), L.Dense(2)], "mse"),
    "bn_first": ((4,), lambda: [L.BatchNormalization(), L.Dense(2, activation="tanh")], "mse"),
    "bn_sigmoid_bce": ((5,), lambda: [L.Dense(3), L.BatchNormalization(), L.Activation("sigmoid")],
                       "binary_crossentropy"),
    "bn_frozen": ((5,), lambda: [L.Dense(4), L.BatchNormalization(trainable=False), L.Dense(2)], "mse"),
    "ln_dense": ((5,), lambda: [L.Dense(4), L.LayerNormalization(), L.Dense(3, activation="tanh")], "mse"),
    "ln_conv1d": ((6, 2), lambda: [L.Conv1D(4, 2), L.LayerNormalization(), L.Flatten(), L.Dense(2)], "mse"),
    "ln_first_scale": ((5,), lambda: [L.LayerNormalization(center=False), L.Dense(2)], "mse"),
    "ln_first_center": ((5,), lambda: [L.LayerNormalization(scale=False), L.Dense(2)], "mse"),
}


def gradcheck(model, x, y, training, h=1e-2, rtol=2e-2, atol=1e-3):
    eng = model._runtime._engine
    desc = model._runtime.desc
    p0 = eng.params.copy()
    loss0, g = eng.gradients(x, y, training)
    trainable = np.zeros(len(p0), bool)
    for p in desc.params:
        if p.trainable:
            trainable[p.offset:p.offset + int(np.prod(p.shape))] = True
    assert not g[~trainable].any(), "a non-trainable weight got a gradient"
    worst = 0.0
    for i in np.flatnonzero(trainable):
        vals = []
        for sgn in (1, -1):
            eng.params[:] = p0
            eng.params[i] = p0[i] + sgn * h
            vals.append((float(eng.params[i]), eng.gradients(x, y, training)[0]))
        (pp, lp), (pm, lm) = vals
        fd = (lp - lm) / (pp - pm)
        noise = 32 * 2.0 ** -24 * max(1.0, abs(loss0)) / h
        err = abs(fd - g[i])
        assert err <= atol + noise + rtol * abs(fd), (i, g[i], fd)
        worst = max(worst, err)
    eng.params[:] = p0
    return worst


# BatchNormalization in both modes; LayerNormalization has no training mode
GRAD_CASES = [(n, t) for n in sorted(GRAD_MODELS) for t in ((True, False) if n.startswith("bn_") else (True,))]


@pytest.mark.parametrize("name, training", GRAD_CASES,
                         ids=[f"{n}-{'batch_stats' if t else 'moving_stats'}" for n, t in GRAD_CASES])
def test_backward_matches_finite_differences(name, training):
    shape, layers, loss = GRAD_MODELS[name]
    rng = np.random.default_rng(3)
    model = keras.Sequential([keras.Input(shape=shape)] + layers(), name=f"gc_{name}")
    model.loc = None
    model.compile(keras.optimizers.SGD(0.1), loss)
    ws = model.get_weights()
    ws = [rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if w.ndim == 1 and k >= 2 and "moving" not in n
          else rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
          for k, (w, n) in enumerate(zip(ws, [p.name for p in model._runtime.desc.params]))]
    for k, p in enumerate(model._runtime.desc.params):
        if p.name.endswith("moving_variance"):
            ws[k] = rng.uniform(0.5, 2, ws[k].shape).astype(np.float32)
    model.set_weights(ws)
    x = rng.normal(0.3, 1.2, (6, *shape)).astype(np.float32)
    out = model.predict(x, verbose=0)
    y = (rng.uniform(size=out.shape) > 0.5).astype(np.float32) if loss == "binary_crossentropy" else \
        rng.standard_normal(out.shape).astype(np.float32)
    gradcheck(model, x, y, training)


def test_results_do_not_depend_on_the_thread_count(request):
    """The per-channel sums of both kernels are made by the same channel blocks over the same
    rows in the same order on any number of threads (a model of normalization layers only, as
    the GEMM's and convolution's own reductions split by thread)."""
    from two_threads import rerun_with_two_threads
    if rerun_with_two_threads(request):
        return
    rng = np.random.default_rng(5)
    x = rng.normal(0.5, 2, (64, 8, 8, 16)).astype(np.float32)
    t = rng.standard_normal((64, 8, 8, 16)).astype(np.float32)
    runs = []
    for threads in (1, 2):
        model = keras.Sequential([keras.Input(shape=(8, 8, 16)), L.BatchNormalization(), L.Activation("relu"),
                                  L.LayerNormalization(), L.BatchNormalization()], name="bn_threads")
        model.loc = None
        model.compile(keras.optimizers.Adam(0.01), "mse")
        model._runtime._engine.set_threads(threads)
        assert model._runtime._engine.get_threads() == threads or threads > os.cpu_count()
        losses = [float(model.train_on_batch(x, t)) for _ in range(3)]
        runs.append((losses, model.get_weights(), model.predict(x, verbose=0)))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    assert np.array_equal(runs[0][2], runs[1][2])


# ---------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error", [
    ("BatchNormalization(renorm=True)", "renorm"),
    ("BatchNormalization(synchronized=True)", "synchronized"),
    ("BatchNormalization(beta_regularizer='l2')", "beta_regularizer"),
    ("BatchNormalization(gamma_constraint='non_neg')", "gamma_constraint"),
    ("BatchNormalization(epsilon=0)", "epsilon"),
    ("BatchNormalization(momentum='0.9')", "momentum"),
    ("BatchNormalization(center=1)", "center"),
    ("BatchNormalization(axis='last')", "axis"),
    ("LayerNormalization(rms_scaling=True)", "rms_scaling"),
    ("LayerNormalization(axis=[1, 2])", "last"),
    ("LayerNormalization(gamma_regularizer='l2')", "gamma_regularizer"),
    ("LayerNormalization(epsilon=float('nan'))", "epsilon"),
])
def test_refused_arguments(call, error):
    with pytest.raises((ValueError, TypeError), match=error):
        eval("L." + call)


@pytest.mark.parametrize("layer, shape", [("BatchNormalization(axis=1)", (4, 3)),
                                          ("BatchNormalization(axis=-2)", (4, 3)),
                                          ("BatchNormalization(axis=0)", (3,)),
                                          ("LayerNormalization(axis=2)", (3, 4, 2)),
                                          ("BatchNormalization(axis=5)", (3,))])
def test_other_axes_are_refused_at_compile(layer, shape):
    model = keras.Sequential([keras.Input(shape=shape), eval("L." + layer), L.Flatten(), L.Dense(1)])
    with pytest.raises(SeqcError, match="last .channels. axis only"):
        model.compile("sgd", "mse")


def test_defaults_are_keras():
    import inspect
    sig = inspect.signature(L.BatchNormalization).parameters
    assert [sig[k].default for k in ("axis", "momentum", "epsilon", "center", "scale")] == [-1, 0.99, 1e-3, True,
                                                                                             True]
    sig = inspect.signature(L.LayerNormalization).parameters
    assert [sig[k].default for k in ("axis", "epsilon", "center", "scale")] == [-1, 1e-3, True, True]


SCRIPT = """\
import numpy as np
from keras.models import Sequential
from keras.layers import Dense, Conv2D, Flatten, Activation, MaxPooling2D
from keras.layers.normalization import BatchNormalization
from keras import layers

model = Sequential()
model.add(Conv2D(4, (3, 3), padding='same', input_shape=(8, 8, 3)))
model.add(BatchNormalization())
model.add(Activation('relu'))
model.add(MaxPooling2D())
model.add(Flatten())
model.add(Dense(8))
model.add(layers.LayerNormalization())
model.add(Dense(2, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
x = np.random.rand(20, 8, 8, 3).astype('float32')
y = np.eye(2)[np.random.randint(0, 2, 20)]
print("history", model.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"])
"""


def test_both_front_ends(tmp_path):
    script = tmp_path / "bn_script.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "seqc", "compile", str(script), "-o", str(tmp_path / "build")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "batch_normalization" in r.stdout and "Non-trainable params: 8" in r.stdout
    r = subprocess.run([sys.executable, "-m", "seqc", "run", str(script)], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "history" in r.stdout
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent("""\
        from keras.models import Sequential
        from keras.layers import Dense, BatchNormalization
        model = Sequential([Dense(4, input_shape=(3,)),
                            BatchNormalization(renorm=True)])
        """))
    r = subprocess.run([sys.executable, "-m", "seqc", "compile", str(bad), "-o", str(tmp_path / "b2")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{bad}:4:" in r.stderr and "renorm" in r.stderr, r.stderr


def test_generated_c_is_warning_free():
    """Every variant the golden and gradient tests build compiles without a warning."""
    variants = [MANIFEST[c] for c in CASES] + [
        {"input_shape": list(s), "layers": None, "make": f} for s, f, _ in GRAD_MODELS.values()]
    for desc in variants:
        if desc["layers"] is None:
            model = keras.Sequential([keras.Input(shape=tuple(desc["input_shape"]))] + desc["make"]())
            model.loc = None
        else:
            model = build(desc)
        model.compile("adam", "mse")
        log = Path(model._runtime._engine.lib_path).parent / "build.log"
        text = log.read_text().splitlines()[2:]
        assert not [l for l in text if "warning" in l], "\n".join(text)
