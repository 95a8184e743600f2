"""User-written layers (seqc/ops/user_layer.py): Lambda and Layer subclasses with build/call,
traced from their backend ops, against real Keras 3 (tests/golden/make_userlayer_goldens.py,
the same layer code in tests/golden/userlayer_defs.py): the forward output, five steps of SGD
and of Adam on mse; finite-difference checks of the traced backward; the errors for what
cannot be traced; both front ends."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from seqc import keras
from seqc.errors import SeqcError
from seqc.keras import layers, ops

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from userlayer_defs import define  # noqa: E402

MANIFEST = json.loads((GOLDEN / "userlayer_manifest.json").read_text())
DEFS = define(keras, layers, ops)
CASES = [k for k in MANIFEST if not k.startswith("_")]
OPTIMIZERS = {"sgd": lambda: keras.optimizers.SGD(learning_rate=0.1),
              "adam": lambda: keras.optimizers.Adam(learning_rate=0.01)}
MAX_DIFF = {}


def build(case):
    in_shape, make = DEFS[case[len("userlayer_"):]]
    return keras.Sequential([keras.Input(shape=in_shape)] + make())


def load(case, prefix):
    data = np.load(GOLDEN / f"{case}.npz")
    n = len([k for k in data.files if k.startswith(prefix + "_")])
    return [data[f"{prefix}_{i}"] for i in range(n)]


def _diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b))) if np.size(a) else 0.0


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("case", CASES)
def test_forward_and_training_equal_keras(case, opt):
    data = np.load(GOLDEN / f"{case}.npz")
    ws, trained = load(case, "w"), load(case, f"trained_{opt}")
    model = build(case)
    model.compile(optimizer=OPTIMIZERS[opt](), loss="mse")
    assert [list(w.shape) for w in model.get_weights()] == MANIFEST[case]["weight_shapes"]
    model.set_weights(ws)
    y = model.predict(data["x"], verbose=0)
    np.testing.assert_allclose(y, data["y"], rtol=1e-4, atol=1e-5)
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(5)]
    np.testing.assert_allclose(losses, data[f"losses_{opt}"], rtol=1e-4, atol=1e-6)
    got = model.get_weights()
    for g, w, w0, t in zip(got, trained, ws, MANIFEST[case]["trainable"]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
        if not t:
            assert np.array_equal(g, w0)      # trainable=False: never updated
    MAX_DIFF[(case, opt)] = (_diff(y, data["y"]), max(_diff(g, w) for g, w in zip(got, trained)))


@pytest.mark.parametrize("case", CASES)
def test_traced_backward_matches_finite_differences(case):
    """The C backward (engine.gradients, float32) against central differences of the loss the
    same engine computes, for sampled entries of every trainable weight: those of the user
    layers and those of the layers before them (which see the user layer's input gradient)."""
    data = np.load(GOLDEN / f"{case}.npz")
    x, target = data["x"], data["target"]
    model = build(case)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.set_weights(load(case, "w"))
    eng = model._runtime._engine
    p0 = eng.params.copy()
    loss0, g = eng.gradients(x, target, False)
    assert np.isfinite(loss0) and np.all(np.isfinite(g))
    rng = np.random.default_rng(1)
    h, checked, offset = 1e-3, 0, 0
    for shape, t in zip(MANIFEST[case]["weight_shapes"], MANIFEST[case]["trainable"]):
        size = int(np.prod(shape))
        if not t:
            assert not np.any(g[offset:offset + size])      # no gradient reaches a frozen weight's update
        else:
            for i in offset + rng.choice(size, size=min(size, 6), replace=False):
                vals = []
                for sgn in (1, -1):
                    eng.params[i] = p0[i] + sgn * h
                    vals.append((float(eng.params[i]), eng.gradients(x, target, False)[0]))
                eng.params[i] = p0[i]
                (pp, lp), (pm, lm) = vals
                fd = (lp - lm) / (pp - pm)
                assert abs(fd - g[i]) <= 2e-2 * abs(fd) + 2e-3, (i, fd, g[i])
                checked += 1
        offset += size
    assert checked >= 6


def golden_summary():
    """The largest differences to Keras measured above, per case (printed after the run by
    tests/conftest.py), or '' when no golden comparison ran in this process."""
    return "\n".join(f"user layer {case:32s} {opt:5s} forward {fwd:.2e}  weights after 5 steps {w:.2e}"
                     for (case, opt), (fwd, w) in sorted(MAX_DIFF.items()))


# ---------------------------------------------------------------------------------------------
# the generated C, the weights' order, what cannot be traced
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_generated_c_is_warning_free(case):
    """The build log of each golden model (gcc -Wall -Wextra) holds no warning."""
    import os

    from seqc import pipeline
    model = build(case)
    model.compile(optimizer="adam", loss="mse")
    _, lib, c = pipeline.compile_spec(model.spec(DEFS[case[len("userlayer_"):]][0]))
    assert "_backward(" in c and "user layer" in c
    log = os.path.join(os.path.dirname(lib), "build.log")
    text = open(log).read().splitlines()[2:]
    assert not [line for line in text if "warning" in line], "\n".join(text)


def test_weights_in_keras_order_and_named():
    """Trainable weights first, then the others, each in add_weight order (Keras 3's
    layer.weights); the layer's own get_weights gives the same arrays."""
    model = build("userlayer_nontrainable")
    model.compile(optimizer="sgd", loss="mse")
    layer = model.layers[1]
    shift, scale = layer.get_weights()
    np.testing.assert_array_equal(shift, np.zeros(5, np.float32))     # 'zeros', trainable: first
    np.testing.assert_array_equal(scale, np.ones(5, np.float32))      # 'ones', trainable=False: second
    layer.set_weights([np.full(5, 0.5, np.float32), np.full(5, 2.0, np.float32)])
    np.testing.assert_array_equal(model.get_weights()[2], np.full(5, 0.5, np.float32))
    from seqc import pipeline
    desc = pipeline.describe_spec(model.spec((6,)))
    names = [p.name for p in desc.params]
    assert names[2:4] == [f"{layer.name}/shift", f"{layer.name}/scale"]
    assert [p.trainable for p in desc.params][2:4] == [True, False]


def _error_of(make, in_shape=(4,)):
    model = keras.Sequential([keras.Input(shape=in_shape), layers.Dense(3)] + make())
    with pytest.raises(SeqcError) as info:
        model.compile(optimizer="sgd", loss="mse")
    return info.value


def _line_of(marker):
    for i, line in enumerate(Path(__file__).read_text().splitlines(), 1):
        if marker in line and "_line_of" not in line:
            return i
    raise AssertionError(marker)


def test_numpy_on_a_tensor_is_one_clear_error():
    e = _error_of(lambda: [layers.Lambda(lambda x: np.exp(x))])  # MARK-np-exp
    assert "numpy's `exp` cannot be traced" in e.message and "'lambda" in e.message
    assert e.loc.file == __file__ and e.loc.line == _line_of("MARK-np-exp")
    e = _error_of(lambda: [layers.Lambda(lambda x: np.mean(x, axis=1))])  # MARK-np-mean
    assert "numpy" in e.message and e.loc.line == _line_of("MARK-np-mean")


def test_control_flow_on_a_tensor_is_one_clear_error():
    def f(x):
        if ops.mean(x) > 0:  # MARK-if
            return x
        return -x
    e = _error_of(lambda: [layers.Lambda(f)])
    assert "no truth value" in e.message and e.loc.line == _line_of("MARK-if")


def test_unknown_op_is_one_clear_error():
    class Odd(layers.Layer):
        def call(self, x):
            return ops.einsum("bi->bi", x)  # MARK-einsum
    e = _error_of(lambda: [Odd()])
    assert "keras.ops.einsum is not supported by seqc" in e.message and "'odd' (Odd)" in e.message
    assert e.loc.line == _line_of("MARK-einsum")

    class Eager(layers.Layer):
        def call(self, x):
            return x.numpy() * 2  # MARK-numpy-method
    e = _error_of(lambda: [Eager()])
    assert "no attribute or method `numpy`" in e.message and e.loc.line == _line_of("MARK-numpy-method")


def test_layer_errors_name_the_layer():
    e = _error_of(lambda: [layers.Lambda(lambda x: ops.mean(x, axis=0))])
    assert "batch axis" in e.message
    e = _error_of(lambda: [layers.Lambda(lambda x: x[0])])
    assert "batch axis" in e.message
    e = _error_of(lambda: [layers.Lambda(lambda x: (x, x))])
    assert "single tensor" in e.message

    class NoCall(layers.Layer):
        """A layer without call(): nothing to compile."""
    model = keras.Sequential([keras.Input(shape=(4,)), NoCall()])
    with pytest.raises(SeqcError, match="not supported"):
        model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="mask"):
        layers.Lambda(lambda x: x, mask=lambda x, m: m)
    with pytest.raises(TypeError, match="callable"):
        layers.Lambda(3)

    class Reg(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(3,), regularizer="l2")

        def call(self, x):
            return x * self.w
    e = _error_of(lambda: [Reg()])
    assert "regularizers" in e.message


def test_slicing_and_reshaping_ops_match_numpy():
    """Structural ops of the tracer, forward and backward, against numpy (float64 where the
    gradient is checked against central differences)."""
    from seqc import trace
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((2, 4, 5))
    wv = rng.standard_normal((5, 3))
    x = trace.Expr("x", (), (trace.B, 4, 5))
    w = trace.Expr("w", (), (5, 3), index=0)
    fns = {
        "slice": (lambda a, b: a[:, 1::2, -1], lambda a, b: a[:, 1::2, -1]),
        "ellipsis": (lambda a, b: a[..., None, 2:4], lambda a, b: a[..., None, 2:4]),
        "transpose": (lambda a, b: ops.transpose(a, (0, 2, 1)) * 2.0, lambda a, b: np.transpose(a, (0, 2, 1)) * 2),
        "matmul3d": (lambda a, b: ops.matmul(a, b), lambda a, b: a @ b),
        "concat": (lambda a, b: ops.concatenate([a, ops.square(a)], axis=1),
                   lambda a, b: np.concatenate([a, a * a], axis=1)),
        "dot_t": (lambda a, b: K_dot(a, ops.transpose(b)[0]), lambda a, b: a @ b.T[0]),
        "stack": (lambda a, b: ops.stack([a[:, 0], ops.exp(a[:, 1])], axis=1),
                  lambda a, b: np.stack([a[:, 0], np.exp(a[:, 1])], axis=1)),
        "flip_swap": (lambda a, b: ops.swapaxes(ops.flip(a, axis=2), 1, 2) * ops.sum(b),
                      lambda a, b: np.swapaxes(a[:, :, ::-1], 1, 2) * b.sum()),
    }
    for name, (sym, ref) in fns.items():
        out = sym(x, w)
        got = trace.evaluate_leaves(out, {"x": xv, ("w", 0): wv}, 2)
        np.testing.assert_allclose(got, ref(xv, wv), rtol=1e-5, err_msg=name)
        # the vector-Jacobian products against central differences of sum(out * seed)
        seed = rng.standard_normal(got.shape)
        dy = trace.Expr("dy", (), out.shape)
        gx, gw = trace.vjp(out, dy, [x, w])
        leaves = {"x": xv, ("w", 0): wv, "dy": seed}
        for leaf, g, key in ((x, gx, "x"), (w, gw, ("w", 0))):
            gv = trace.evaluate_leaves(g, leaves, 2).astype(np.float64)
            base = leaves[key]
            for flat in rng.choice(base.size, size=5, replace=False):
                idx = np.unravel_index(flat, base.shape)
                vals = []
                for sgn in (1, -1):
                    pert = base.astype(np.float64).copy()
                    pert[idx] += sgn * 1e-3
                    lv = dict(leaves, **{key: pert}) if key != ("w", 0) else {**leaves, ("w", 0): pert}
                    vals.append(float(np.sum(trace.evaluate_leaves(out, lv, 2).astype(np.float64) * seed)))
                fd = (vals[0] - vals[1]) / 2e-3
                assert abs(fd - gv[idx]) <= 1e-2 * abs(fd) + 1e-3, (name, key, idx, fd, gv[idx])


def K_dot(a, b):
    from seqc.keras import backend as K
    return K.dot(a, b)


# ---------------------------------------------------------------------------------------------
# the static front end (seqc compile): the same layers read from a script's text
# ---------------------------------------------------------------------------------------------
STATIC_ANTIRECTIFIER = '''
import keras
from keras import layers
from keras import ops


class Antirectifier(layers.Layer):
    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(output_dim * 2, output_dim),
            initializer=self.initializer,
            name="kernel",
            trainable=True,
        )

    def call(self, inputs):
        inputs -= ops.mean(inputs, axis=-1, keepdims=True)
        pos = ops.relu(inputs)
        neg = ops.relu(-inputs)
        concatenated = ops.concatenate([pos, neg], axis=-1)
        mixed = ops.matmul(concatenated, self.kernel)
        return mixed

    def get_config(self):
        base_config = super().get_config()
        config = {"initializer": keras.initializers.serialize(self.initializer)}
        return dict(list(base_config.items()) + list(config.items()))


(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
model = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(6), Antirectifier(), layers.Dense(6),
                          Antirectifier(), layers.Dense(3)])
model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.1))
model.fit(x_train, y_train, epochs=2)
'''

STATIC_LAMBDAS = '''
from tensorflow import keras
from tensorflow.keras import backend as K
from tensorflow.keras.layers import Dense, Lambda, Reshape


def centre(x, scale=1.0):
    return (x - K.mean(x, axis=-1, keepdims=True)) * scale


model = keras.Sequential()
model.add(Lambda(lambda x: x / 255.0, input_shape=(12,)))
model.add(Dense(12))
model.add(Reshape((4, 3)))
model.add(Lambda(lambda x: x[:, -1, :]))
model.add(Lambda(centre, arguments={"scale": 2.0}))
model.add(Lambda(lambda x: K.l2_normalize(x, axis=1)))
model.add(Dense(2, activation="softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam")
'''


def _static_model(tmp_path, text, name):
    from seqc import pipeline
    from seqc.frontend import parse_script
    from seqc.runtime.model import Model
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    spec = parse_script(str(path))
    desc, lib, _ = pipeline.compile_spec(spec)
    return spec, Model(desc, lib, seed=0)


def test_static_antirectifier_equals_keras(tmp_path):
    """keras-io's antirectifier class, unchanged, read by `seqc compile`: Keras's numbers."""
    spec, model = _static_model(tmp_path, STATIC_ANTIRECTIFIER, "anti")
    assert [l.kind for l in spec.layers][1:3] == ["Dense", "UserLayer"]
    data = np.load(GOLDEN / "userlayer_antirectifier_mlp.npz")
    model.set_weights(load("userlayer_antirectifier_mlp", "w"))
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-4, atol=1e-5)
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(5)]
    np.testing.assert_allclose(losses, data["losses_sgd"], rtol=1e-4, atol=1e-6)
    for g, w in zip(model.get_weights(), load("userlayer_antirectifier_mlp", "trained_sgd")):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_static_lambdas_equal_the_api(tmp_path):
    """Lambdas (lambda expressions and a def with `arguments`) read statically give the same
    model as the seqc.keras API running the same code."""
    from seqc.keras import backend as K
    spec, static = _static_model(tmp_path, STATIC_LAMBDAS, "lams")
    assert [l.kind for l in spec.layers].count("Lambda") == 4

    def centre(x, scale=1.0):
        return (x - K.mean(x, axis=-1, keepdims=True)) * scale
    api = keras.Sequential([layers.Lambda(lambda x: x / 255.0, input_shape=(12,)), layers.Dense(12),
                            layers.Reshape((4, 3)), layers.Lambda(lambda x: x[:, -1, :]),
                            layers.Lambda(centre, arguments={"scale": 2.0}),
                            layers.Lambda(lambda x: K.l2_normalize(x, axis=1)), layers.Dense(2, activation="softmax")])
    api.compile(loss="categorical_crossentropy", optimizer="adam")
    ws = [np.random.default_rng(5).uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in api.get_weights()]
    api.set_weights(ws)
    static.set_weights(ws)
    x = np.random.default_rng(6).uniform(0, 255, (5, 12)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[[0, 1, 1, 0, 1]]
    np.testing.assert_allclose(static.predict(x, verbose=0), api.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    for _ in range(3):
        np.testing.assert_allclose(static.train_on_batch(x, y), api.train_on_batch(x, y), rtol=1e-6)
    h = x / 255.0 @ ws[0] + ws[1]
    last = h.reshape(5, 4, 3)[:, -1, :]
    c = (last - last.mean(axis=-1, keepdims=True)) * 2.0
    n = c / np.sqrt(np.maximum((c * c).sum(axis=1, keepdims=True), 1e-12))
    z = n @ ws[2] + ws[3]
    want = np.exp(z - z.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    fresh = keras.Sequential([layers.Lambda(lambda x: x / 255.0, input_shape=(12,)), layers.Dense(12),
                              layers.Reshape((4, 3)), layers.Lambda(lambda x: x[:, -1, :]),
                              layers.Lambda(centre, arguments={"scale": 2.0}),
                              layers.Lambda(lambda x: K.l2_normalize(x, axis=1)),
                              layers.Dense(2, activation="softmax")])
    fresh.compile(loss="categorical_crossentropy", optimizer="adam")
    fresh.set_weights(ws)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("body, line, words", [
    ("Lambda(lambda x: np.exp(x))", 7, "np.exp(x)"),
    ("Lambda(f)", 4, "no truth value"),
    ("Lambda(lambda x: K.einsum('bi->bi', x))", 7, "keras.backend.einsum is not supported"),
])
def test_static_untraceable_is_one_clear_error(tmp_path, body, line, words):
    from seqc.frontend import parse_script
    from seqc import pipeline
    text = ("import numpy as np\nfrom tensorflow import keras\nfrom tensorflow.keras import backend as K\n"
            "def f(x):\n    if K.mean(x) > 0:\n        return x\n"
            f"model = keras.Sequential([keras.layers.Dense(4, input_shape=(3,)), keras.layers.{body}])\n"
            "model.compile(loss='mse', optimizer='sgd')\n")
    path = tmp_path / "bad.py"
    path.write_text(text)
    with pytest.raises(SeqcError) as info:
        pipeline.compile_spec(parse_script(str(path)))
    e = info.value
    assert e.loc.file == str(path) and e.loc.line == (5 if "truth" in words else line), str(e)
    assert words in e.message and "layer 'lambda'" in e.message, e.message


def test_static_other_classes_say_seqc_run(tmp_path):
    from seqc.frontend import parse_script
    path = tmp_path / "cls.py"
    path.write_text("from tensorflow import keras\nclass Net(object):\n    pass\n"
                    "model = keras.Sequential([keras.layers.Dense(4, input_shape=(3,)), Net()])\n")
    with pytest.raises(SeqcError) as info:
        parse_script(str(path))
    assert info.value.loc.line == 4 and "seqc run" in info.value.message


KERAS2_ANTIRECTIFIER = '''
from keras.models import Sequential
from keras import layers
from keras import backend as K
from keras import optimizers


class Antirectifier(layers.Layer):
    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        assert len(shape) == 2  # only valid for 2D tensors
        shape[-1] *= 2
        return tuple(shape)

    def call(self, inputs):
        inputs -= K.mean(inputs, axis=1, keepdims=True)
        inputs = K.l2_normalize(inputs, axis=1)
        pos = K.relu(inputs)
        neg = K.relu(-inputs)
        return K.concatenate([pos, neg], axis=1)


model = Sequential()
model.add(layers.Dense(5, input_shape=(7,)))
model.add(Antirectifier())
model.add(layers.Dense(3))
model.compile(loss='mse', optimizer=optimizers.Adam(learning_rate=0.01))
'''


def test_static_keras2_antirectifier_equals_keras(tmp_path):
    """The Keras-2 example's antirectifier (K.l2_normalize), read statically, against the Keras 3
    golden of the same layer written with ops.normalize (equal away from a zero norm)."""
    spec, model = _static_model(tmp_path, KERAS2_ANTIRECTIFIER, "anti2")
    data = np.load(GOLDEN / "userlayer_antirectifier_l2.npz")
    model.set_weights(load("userlayer_antirectifier_l2", "w"))
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-4, atol=1e-5)
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(5)]
    np.testing.assert_allclose(losses, data["losses_adam"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("body, words", [
    ("    def __init__(self):\n        super().__init__(foo=3)\n", "unexpected keyword argument 'foo'"),
    ("    def __init__(self, units=2):\n        self.units = units\n", "super().__init__()"),
    ("    def build(self, input_shape):\n        self.w = self.add_weight(shape=(3,), dtype='int32')\n",
     "float32"),
])
def test_static_user_layer_mistakes_are_clean_errors(tmp_path, body, words):
    from seqc import pipeline
    from seqc.frontend import parse_script
    text = ("from tensorflow import keras\nfrom tensorflow.keras import layers\nclass U(layers.Layer):\n" + body +
            "    def call(self, x):\n        return x\n"
            "model = keras.Sequential([layers.Dense(4, input_shape=(3,)), U()])\n"
            "model.compile(loss='mse', optimizer='sgd')\n")
    path = tmp_path / "u.py"
    path.write_text(text)
    with pytest.raises(SeqcError) as info:
        pipeline.compile_spec(parse_script(str(path)))
    assert words in info.value.message, info.value.message
    assert info.value.loc.file == str(path)


def test_api_layer_without_super_init_is_a_type_error():
    class U(layers.Layer):
        def __init__(self, units):
            self.units = units

        def call(self, x):
            return x
    with pytest.raises(TypeError, match="super"):
        keras.Sequential([keras.Input(shape=(3,)), U(2)])


def test_seqc_run_script(tmp_path):
    """`seqc run`: a script's user layer class trains; an untraceable Lambda is FILE:LINE."""
    import subprocess
    good = tmp_path / "good.py"
    good.write_text(STATIC_ANTIRECTIFIER.replace(
        "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()",
        "import numpy as np\nx_train = np.random.rand(32, 8).astype('float32')\n"
        "y_train = np.random.rand(32, 3).astype('float32')") + "print('loss', model.evaluate(x_train, y_train))\n")
    r = subprocess.run([sys.executable, "-m", "seqc", "run", str(good)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "loss" in r.stdout, r.stderr[-2000:]
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy as np\nimport keras\n\nmodel = keras.Sequential([\n    keras.Input(shape=(3,)),\n"
                   "    keras.layers.Dense(4),\n    keras.layers.Lambda(lambda x: np.tanh(x)),\n])\n"
                   "model.compile(loss='mse', optimizer='sgd')\n")
    r = subprocess.run([sys.executable, "-m", "seqc", "run", str(bad)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"{bad}:7: layer 'lambda' (Lambda): cannot trace: numpy's `tanh`"), r.stderr


MORE_LAMBDAS = {   # traced function, numpy reference on the (batch, 3, 4) input
    "flip": (lambda x: ops.flip(x, axis=1), lambda x: x[:, ::-1]),
    "swapaxes": (lambda x: ops.swapaxes(x, 1, 2), lambda x: np.swapaxes(x, 1, 2)),
    "stack": (lambda x: ops.stack([x[:, 0], x[:, 2] * 2.0], axis=-1), lambda x: np.stack([x[:, 0], x[:, 2] * 2], -1)),
    "softmax": (lambda x: ops.softmax(x, axis=-1), lambda x: _np_softmax(x)),
    "max_sum": (lambda x: ops.max(x, axis=1) + ops.sum(x, axis=1), lambda x: x.max(1) + x.sum(1)),
    "squeeze": (lambda x: ops.squeeze(x[:, 1:2, :], axis=1), lambda x: x[:, 1]),
    "batch_flatten": (lambda x: K_batch_flatten(ops.sqrt(ops.square(x) + 1.0)),
                      lambda x: np.sqrt(x * x + 1).reshape(len(x), -1)),
}


def _np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def K_batch_flatten(x):
    from seqc.keras import backend as K
    return K.batch_flatten(x)


@pytest.mark.parametrize("name", sorted(MORE_LAMBDAS))
def test_more_lambdas_forward_and_backward(name):
    """More backend ops in a Lambda, compiled to C: the output against numpy, the C backward
    (engine.gradients) against central differences."""
    fn, ref = MORE_LAMBDAS[name]
    model = keras.Sequential([keras.Input(shape=(12,)), layers.Dense(12), layers.Reshape((3, 4)),
                              layers.Lambda(fn), layers.Flatten(), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(11)
    ws = [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(ws)
    x = rng.standard_normal((3, 12)).astype(np.float32)
    h = ref((x @ ws[0] + ws[1]).reshape(3, 3, 4)).reshape(3, -1)
    np.testing.assert_allclose(model.predict(x, verbose=0), h @ ws[2] + ws[3], rtol=1e-5, atol=1e-6)
    eng = model._runtime._engine
    y = rng.standard_normal((3, 2)).astype(np.float32)
    p0 = eng.params.copy()
    _, g = eng.gradients(x, y, False)
    for i in rng.choice(ws[0].size, size=8, replace=False):
        vals = []
        for sgn in (1, -1):
            eng.params[i] = p0[i] + sgn * 1e-3
            vals.append((float(eng.params[i]), eng.gradients(x, y, False)[0]))
        eng.params[i] = p0[i]
        fd = (vals[0][1] - vals[1][1]) / (vals[0][0] - vals[1][0])
        assert abs(fd - g[i]) <= 2e-2 * abs(fd) + 2e-3, (name, i, fd, g[i])


def test_a_python_loop_that_unrolls_too_far_is_refused():
    def f(x):
        for _ in range(3000):
            x = x * 1.0001 + 0.0
        return x
    e = _error_of(lambda: [layers.Lambda(f)])
    assert "traced graph has" in e.message and "more than seqc builds" in e.message


def test_input_spec_is_accepted_and_checked():
    class Two(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = layers.InputSpec(ndim=2, axes={-1: 4})

        def call(self, x):
            return x * 2.0
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4), Two()])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * (x @ model.get_weights()[0]), rtol=1e-6)
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(5), Two()])
    with pytest.raises(SeqcError, match="axis -1 of the input to have value 4"):
        model.compile(optimizer="sgd", loss="mse")
    model = keras.Sequential([keras.Input(shape=(3, 2)), layers.Dense(4), Two()])
    with pytest.raises(SeqcError, match="expected ndim=2, found ndim=3"):
        model.compile(optimizer="sgd", loss="mse")


TF_ANTIRECTIFIER = STATIC_ANTIRECTIFIER.replace('''import keras
from keras import layers
from keras import ops
''', '''import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
''').replace('''        inputs -= ops.mean(inputs, axis=-1, keepdims=True)
        pos = ops.relu(inputs)
        neg = ops.relu(-inputs)
        concatenated = ops.concatenate([pos, neg], axis=-1)
        mixed = ops.matmul(concatenated, self.kernel)''', '''        inputs -= tf.reduce_mean(inputs, axis=-1, keepdims=True)
        pos = tf.nn.relu(inputs)
        neg = tf.nn.relu(-inputs)
        concatenated = tf.concat([pos, neg], axis=-1)
        mixed = tf.matmul(concatenated, self.kernel)''').replace("super().__init__", "super(Antirectifier, self).__init__")


def test_tf_antirectifier_both_front_ends_equal_keras(tmp_path):
    """keras-io's 2020 tf.keras version (tf.reduce_mean, tf.nn.relu, tf.concat, tf.matmul):
    `seqc compile` reads it, `seqc run` runs it, both give Keras's numbers."""
    import subprocess
    assert "tf.reduce_mean" in TF_ANTIRECTIFIER and "ops." not in TF_ANTIRECTIFIER
    _, model = _static_model(tmp_path, TF_ANTIRECTIFIER, "tfanti")
    data = np.load(GOLDEN / "userlayer_antirectifier_mlp.npz")
    model.set_weights(load("userlayer_antirectifier_mlp", "w"))
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-4, atol=1e-5)
    script = tmp_path / "tfrun.py"
    np.savez(tmp_path / "case.npz", **{k: data[k] for k in data.files})
    script.write_text(TF_ANTIRECTIFIER.replace(
        "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()", "import numpy as np").replace(
        "model.fit(x_train, y_train, epochs=2)\n",
        f"d = np.load({str(tmp_path / 'case.npz')!r})\n"
        "model.set_weights([d[f'w_{i}'] for i in range(len(model.get_weights()))])\n"
        "print('MAX', float(np.abs(model.predict(d['x'], verbose=0) - d['y']).max()))\n"))
    r = subprocess.run([sys.executable, "-m", "seqc", "run", str(script)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout.split("MAX")[1].split()[0]) < 1e-5, r.stdout
