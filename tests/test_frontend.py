"""The static front end (seqc.frontend.ast_frontend): a Keras script read with `ast`, never run.

Each test writes a small script and checks the ModelSpec, or the `FILE:LINE: message` error.
No C is built here (tests/test_cli.py compiles and trains)."""
import os
import textwrap

import numpy as np
import pytest

from seqc import trace
from seqc.errors import SeqcError
from seqc.frontend import parse_script
from seqc.frontend.ast_frontend import parse_defines

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


@pytest.fixture
def script(tmp_path):
    """script(text) -> path of a file holding the dedented text."""
    count = [0]

    def make(text, name=None):
        count[0] += 1
        path = tmp_path / (name or f"model_{count[0]}.py")
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return str(path)
    return make


def parse_error(path, defines=None):
    with pytest.raises(SeqcError) as info:
        parse_script(path, defines)
    return str(info.value)


def kinds(spec):
    return [l.kind for l in spec.layers]


# --------------------------------------------------------------------------------------------
# the two tutorial examples
# --------------------------------------------------------------------------------------------
def test_example_softmax():
    path = os.path.join(EXAMPLES, "mlp_softmax.py")
    spec = parse_script(path)
    assert kinds(spec) == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert [l.name for l in spec.layers] == ["dense", "dropout", "dense_1", "dropout_1", "dense_2"]
    assert [l.config.get("units") for l in spec.layers] == [64, None, 64, None, 10]
    assert [l.config.get("activation") for l in spec.layers] == ["relu", None, "relu", None, "softmax"]
    assert spec.layers[1].config["rate"] == 0.5
    assert spec.input_shape == (20,)
    assert spec.batch_size is None
    opt = spec.compile.optimizer
    assert opt.kind == "SGD"
    assert opt.config["learning_rate"] == 0.01 and opt.config["decay"] == 1e-6
    assert opt.config["momentum"] == 0.9 and opt.config["nesterov"] is True
    assert spec.compile.loss.builtin == "categorical_crossentropy"
    assert [m.name for m in spec.compile.metrics] == ["accuracy"]
    # every item knows where the user wrote it
    assert [l.loc.line for l in spec.layers] == [17, 18, 19, 20, 21]
    assert all(l.loc.file == path for l in spec.layers)
    assert opt.loc.line == 23 and spec.compile.loc.line == 24 and spec.loc.line == 13


def test_example_binary():
    spec = parse_script(os.path.join(EXAMPLES, "mlp_binary.py"))
    assert kinds(spec) == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert spec.layers[-1].config["units"] == 1 and spec.layers[-1].config["activation"] == "sigmoid"
    assert spec.input_shape == (20,)
    assert spec.compile.optimizer.kind == "RMSprop"
    assert spec.compile.optimizer.config["learning_rate"] == 0.001
    assert spec.compile.loss.builtin == "binary_crossentropy"
    assert [m.name for m in spec.compile.metrics] == ["accuracy"]


def test_script_is_never_executed(script, tmp_path):
    marker = tmp_path / "ran"
    path = script(f"""
        from keras.models import Sequential
        from keras.layers import Dense
        open({str(marker)!r}, "w").write("ran")
        import os; os.system("touch {marker}")
        model = Sequential([Dense(2, input_dim=3)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y)
        raise SystemExit("never")
    """)
    spec = parse_script(path)
    assert kinds(spec) == ["Dense"]
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# imports under any name
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("header,dense,seq,opt", [
    ("import keras", "keras.layers.Dense", "keras.models.Sequential", "keras.optimizers.Adam"),
    ("import keras", "keras.layers.Dense", "keras.Sequential", "keras.optimizers.Adam"),
    ("from keras import layers as L, models, optimizers as O", "L.Dense", "models.Sequential", "O.Adam"),
    ("from keras.layers import Dense as D\nfrom keras.models import Sequential as S\n"
     "from keras.optimizers import Adam as A", "D", "S", "A"),
    ("import tensorflow as tf", "tf.keras.layers.Dense", "tf.keras.Sequential", "tf.keras.optimizers.Adam"),
    ("from tensorflow import keras", "keras.layers.Dense", "keras.Sequential", "keras.optimizers.Adam"),
    ("from tensorflow.keras.layers import Dense\nfrom tensorflow.keras.models import Sequential\n"
     "from tensorflow.keras.optimizers import Adam", "Dense", "Sequential", "Adam"),
    ("import tensorflow.keras.layers as tkl\nimport tensorflow.keras as tk", "tkl.Dense", "tk.models.Sequential",
     "tk.optimizers.Adam"),
    ("import seqc.keras as keras", "keras.layers.Dense", "keras.Sequential", "keras.optimizers.Adam"),
    ("from seqc.keras.layers import Dense\nfrom seqc.keras.models import Sequential\n"
     "from seqc.keras.optimizers import Adam", "Dense", "Sequential", "Adam"),
    ("from keras.layers import *\nfrom keras.models import *\nfrom keras.optimizers import *",
     "Dense", "Sequential", "Adam"),
    ("import keras.layers\nimport keras.models\nimport keras.optimizers.legacy as legacy", "keras.layers.Dense",
     "keras.models.Sequential", "legacy.Adam"),
])
def test_import_spellings(script, header, dense, seq, opt):
    path = script(header + f"""
model = {seq}()
model.add({dense}(8, activation='relu', input_shape=(4,)))
model.add({dense}(3, activation='softmax'))
model.compile(optimizer={opt}(learning_rate=0.005), loss='categorical_crossentropy')
""")
    spec = parse_script(path)
    assert kinds(spec) == ["Dense", "Dense"]
    assert spec.input_shape == (4,)
    assert spec.compile.optimizer.kind == "Adam"
    assert spec.compile.optimizer.config["learning_rate"] == 0.005


def test_backend_alias_and_custom_metric_traced_like_python(script):
    path = script("""
        import keras.backend as K
        from keras import ops
        from keras.models import Sequential
        from keras.layers import Dense

        def mean_pred(y_true, y_pred):
            return K.mean(y_pred)

        def scaled_error(y_true, y_pred, scale=0.5):
            diff = y_true - y_pred
            total = K.sum(K.square(diff), axis=-1)
            return scale * ops.sqrt(total + K.epsilon())

        model = Sequential()
        model.add(Dense(1, activation='sigmoid', input_dim=5))
        model.compile(optimizer='rmsprop', loss=scaled_error, metrics=['accuracy', mean_pred])
    """)
    spec = parse_script(path)
    loss, metrics = spec.compile.loss, spec.compile.metrics
    assert loss.name == "scaled_error" and loss.builtin is None and loss.loc.line == 9
    assert [m.name for m in metrics] == ["accuracy", "mean_pred"]
    assert metrics[1].loc.line == 6

    from seqc.keras import backend as K
    from seqc.keras import ops

    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    def scaled_error(y_true, y_pred, scale=0.5):
        diff = y_true - y_pred
        total = K.sum(K.square(diff), axis=-1)
        return scale * ops.sqrt(total + K.epsilon())

    for interpreted, real in ((metrics[1].expr, mean_pred), (loss.expr, scaled_error)):
        got = trace.trace(interpreted, (1,), (1,), "x")
        want = trace.trace(real, (1,), (1,), "x")
        assert got.to_json() == want.to_json()          # the same graph as the Python function
        yt = np.array([[0.0], [1.0], [1.0]], np.float32)
        yp = np.array([[0.2], [0.7], [0.4]], np.float32)
        np.testing.assert_allclose(trace.evaluate(got, yt, yp), trace.evaluate(want, yt, yp))


def test_lambda_metric_and_loss_object(script):
    path = script("""
        from keras import Sequential, losses, metrics, backend as K
        from keras.layers import Dense
        model = Sequential([Dense(3, activation='softmax', input_shape=(2,))])
        model.compile('adam', loss=losses.CategoricalCrossentropy(label_smoothing=0.1),
                      metrics=[lambda yt, yp: K.max(yp), metrics.CategoricalAccuracy(name='acc')])
    """)
    spec = parse_script(path)
    assert spec.compile.loss.builtin == "categorical_crossentropy"
    assert spec.compile.loss.options == {"label_smoothing": 0.1}
    assert [m.name for m in spec.compile.metrics] == ["<lambda>", "acc"]
    e = trace.trace(spec.compile.metrics[0].expr, (3,), (3,), "m")
    assert e.op == "max"


def test_metric_body_errors_name_the_line(script):
    path = script("""
        import numpy as np
        import keras.backend as K
        from keras.models import Sequential
        from keras.layers import Dense
        def first(y_true, y_pred):
            a = K.mean(y_pred)
            return np.mean(y_pred)
        model = Sequential([Dense(1, input_dim=3)])
        model.compile('sgd', 'mse', metrics=[first])
    """)
    spec = parse_script(path)
    with pytest.raises(trace.TraceError, match=r"np\.mean\(y_pred\).*line 7"):
        trace.trace(spec.compile.metrics[0].expr, (1,), (1,), "m")


# --------------------------------------------------------------------------------------------
# constants, arithmetic, control flow
# --------------------------------------------------------------------------------------------
def test_constants_and_arithmetic(script):
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense, Dropout, Activation
        import math
        batch = 16
        width = 2 ** 3 * 4            # 32
        n_in = (10 + 2) // 3          # 4
        shape = (n_in,) + ()
        drop = 1 / 4
        act = 're' + 'lu'
        sizes = [width, width // 2, int(math.sqrt(16))]
        model = Sequential(name=f"net_{batch}")
        model.add(Dense(sizes[0], input_shape=shape, activation=act, name=f"d{-1 + 1}"))
        model.add(Dropout(drop if drop > 0 else 0.0))
        for i, units in enumerate(sizes[1:]):
            model.add(Dense(units, name=f"hidden_{i}"))
            if i == 0:
                model.add(Activation('tanh'))
        model.add(Dense(max(1, -(-5 // 2)), activation='softmax'))
        model.compile(optimizer='sgd', loss='categorical_crossentropy')
    """)
    spec = parse_script(path)
    assert spec.name == "net_16"
    assert spec.input_shape == (4,)
    assert [l.name for l in spec.layers][:4] == ["d0", "dropout", "hidden_0", "activation"]
    assert [l.config.get("units") for l in spec.layers] == [32, None, 16, None, 4, 3]
    assert spec.layers[0].config["activation"] == "relu"
    assert spec.layers[1].config["rate"] == 0.25


def test_list_comprehension_function_and_main_guard(script):
    path = script("""
        import keras
        from keras.layers import Dense

        HIDDEN = [64, 32]

        def build(n_in, n_out=2, act='relu'):
            model = keras.Sequential([keras.Input(shape=(n_in,))] +
                                     [Dense(h, activation=act) for h in HIDDEN])
            model.add(Dense(n_out, activation='sigmoid'))
            model.compile(optimizer=keras.optimizers.SGD(0.1, 0.9), loss='binary_crossentropy',
                          metrics=['accuracy'])
            return model

        def main():
            global trained
            model = build(12)
            model.fit(x, y, epochs=3)
            trained = True

        if __name__ == "__main__":
            main()
    """)
    spec = parse_script(path)
    assert kinds(spec) == ["InputLayer", "Dense", "Dense", "Dense"]
    assert spec.input_shape == (12,)
    assert spec.compile.optimizer.kind == "SGD"
    assert spec.compile.optimizer.config["learning_rate"] == 0.1
    assert spec.compile.optimizer.config["momentum"] == 0.9


def test_optimizer_object_and_trainable(script):
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense
        from keras import optimizers
        lr = 0.02
        opt = optimizers.RMSprop(lr=lr, rho=0.8)
        model = Sequential()
        model.add(Dense(4, input_dim=3))
        model.add(Dense(1))
        model.layers[0].trainable = False
        model.compile(loss='mse', optimizer=opt)
    """)
    spec = parse_script(path)
    assert spec.compile.optimizer.kind == "RMSprop"
    assert spec.compile.optimizer.config["learning_rate"] == 0.02
    assert spec.compile.optimizer.config["rho"] == 0.8
    assert spec.compile.optimizer.loc.line == 5
    assert [l.config["trainable"] for l in spec.layers] == [False, True]


def test_last_compiled_model_wins(script):
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense
        a = Sequential([Dense(3, input_dim=2)])
        b = Sequential([Dense(5, input_dim=2)])
        b.compile('sgd', 'mse')
        a.compile('adam', 'mse')
        c = Sequential([Dense(7, input_dim=2)])      # built, never compiled
    """)
    spec = parse_script(path)
    assert spec.layers[0].config["units"] == 3
    assert spec.compile.optimizer.kind == "Adam"


def test_last_built_model_when_none_compiled(script):
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense
        a = Sequential([Dense(3, input_dim=2)])
        b = Sequential([Dense(5, input_dim=2)])
    """)
    spec = parse_script(path)
    assert spec.layers[0].config["units"] == 5
    assert spec.compile is None


def test_data_code_and_loops_are_ignored(script):
    path = script("""
        import numpy as np
        import keras
        from keras.models import Sequential
        from keras.layers import Dense
        x_train = np.random.random((1000, 20))
        y_train = keras.utils.to_categorical(np.random.randint(10, size=(1000, 1)), num_classes=10)
        (a, b), c = np.load('data.npy'), 3
        model = Sequential([Dense(10, activation='softmax', input_dim=20)])
        model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
        for epoch in range(len(x_train) // 32):
            history = model.fit(x_train, y_train, verbose=0)
            if history.history['loss'][-1] < 0.1:
                break
        while np.random.rand() > 0.5:
            print(model.evaluate(x_train, y_train))
        with open('log.txt', 'w') as f:
            f.write(str(model.summary()))
        try:
            model.save('m.keras')
        except Exception as e:
            print('not saved:', e)
    """)
    spec = parse_script(path)
    assert kinds(spec) == ["Dense"]


# --------------------------------------------------------------------------------------------
# -D defines and names that cannot be known
# --------------------------------------------------------------------------------------------
UNDEFINED = """
    from keras.models import Sequential
    from keras.layers import Dense, Dropout
    model = Sequential()
    model.add(Dense(32, input_dim=max_features, activation=act))
    model.add(Dropout(rate))
    model.compile(loss='mse', optimizer='sgd')
"""


def test_undefined_name_error(script):
    path = script(UNDEFINED)
    assert parse_error(path) == f"{path}:4: name 'max_features' is not defined (pass -D max_features=VALUE)"
    with pytest.raises(SeqcError) as info:
        parse_script(path)
    assert info.value.loc.file == path and info.value.loc.line == 4


def test_defines(script):
    path = script(UNDEFINED)
    defines = parse_defines(["max_features=100", "act=relu", "rate=0.25"])
    assert defines == {"max_features": 100, "act": "relu", "rate": 0.25}
    spec = parse_script(path, defines)
    assert spec.input_shape == (100,)
    assert spec.layers[0].config["activation"] == "relu"
    assert spec.layers[1].config["rate"] == 0.25
    # only the first missing name is reported; then the next one
    assert "name 'act' is not defined" in parse_error(path, {"max_features": 3})


def test_define_overrides_assignment_and_parse_defines():
    assert parse_defines(["shape=(3, 4)", "flag=True", "s='x y'", "word=hello", "e=1e-3"]) == {
        "shape": (3, 4), "flag": True, "s": "x y", "word": "hello", "e": 1e-3}
    with pytest.raises(SeqcError, match="NAME=VALUE"):
        parse_defines(["novalue"])
    with pytest.raises(SeqcError, match="NAME=VALUE"):
        parse_defines(["1x=3"])
    # VALUE is a Python literal or a bare word; anything else is an error naming it
    for bad, why in (("n=10x", "not a Python literal (invalid decimal literal)"),
                     ("shape=(3, 4", "not a Python literal ("), ("n=2**10", "not a Python literal;"),
                     ("act=leaky-relu", "not a Python literal;"), ("n=", "the value is empty")):
        with pytest.raises(SeqcError) as info:
            parse_defines([bad])
        assert str(info.value).startswith(f"-D {bad}") and why in str(info.value), str(info.value)


def test_define_overrides_script_value(script):
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense
        units = 8
        model = Sequential([Dense(units, input_dim=2)])
    """)
    assert parse_script(path).layers[0].config["units"] == 8
    assert parse_script(path, {"units": 3}).layers[0].config["units"] == 3


def test_runtime_values_need_defines(script):
    path = script("""
        import sys
        import numpy as np
        from keras.models import Sequential
        from keras.layers import Dense
        x_train = np.random.random((100, 20))
        units = int(sys.argv[1])
        model = Sequential([Dense(4, input_shape=(x_train.shape[1],))])
        model.add(Dense(units))
    """)
    msg = parse_error(path)
    assert msg.startswith(f"{path}:7: 'x_train.shape[1]' cannot be evaluated statically")
    assert "line 5" in msg and "pass -D x_train.shape[1]=VALUE" in msg
    msg = parse_error(path, {"x_train.shape[1]": 20})
    assert msg.startswith(f"{path}:8: 'units' cannot be evaluated statically") and "-D units=VALUE" in msg
    spec = parse_script(path, {"x_train.shape[1]": 20, "units": 6})
    assert spec.input_shape == (20,) and spec.layers[1].config["units"] == 6


def test_unknown_condition_around_model_code(script):
    path = script("""
        import sys
        from keras.models import Sequential
        from keras.layers import Dense
        model = Sequential([Dense(4, input_dim=3)])
        if len(sys.argv) > 1:
            model.add(Dense(2))
    """)
    msg = parse_error(path)
    assert msg.startswith(f"{path}:5: cannot decide this `if` statically")
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense
        model = Sequential([Dense(4, input_dim=3)])
        if deep:
            model.add(Dense(2))
    """)
    assert "name 'deep' is not defined (pass -D deep=VALUE)" in parse_error(path)
    assert len(parse_script(path, {"deep": True}).layers) == 2
    assert len(parse_script(path, {"deep": False}).layers) == 1


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------
def test_argument_binding_error_names_argument_and_line(script):
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense

        model = Sequential()
        model.add(Dense(12, units=784))
    """)
    msg = parse_error(path)
    assert msg.startswith(f"{path}:5: ")
    assert "multiple values for argument 'units'" in msg
    assert "Traceback" not in msg


def test_constructor_value_error(script):
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense, Dropout
        model = Sequential([Dense(4, input_dim=3),
                            Dropout(1.5)])
    """)
    msg = parse_error(path)
    assert msg.startswith(f"{path}:4: ") and "rate" in msg


def test_syntax_error(script):
    path = script("""
        from keras.models import Sequential
        model = Sequential()
        model.add(Dense(3)
        model.compile(
    """)
    msg = parse_error(path)
    assert msg.startswith(f"{path}:3: ") or msg.startswith(f"{path}:4: ")
    path = script("x = 1\nprint 'hello'\n")
    assert parse_error(path).startswith(f"{path}:2: ")


def test_unknown_layer(script):
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense, ConvLSTM2D, Flatten
        model = Sequential()
        model.add(Dense(8, input_dim=4))
        model.add(ConvLSTM2D(32, (3, 3)))
    """)
    msg = parse_error(path)
    assert msg.startswith(f"{path}:5: ")
    assert "ConvLSTM2D" in msg and "unsupported layer" in msg
    path = script("""
        import keras
        model = keras.Sequential([keras.layers.Dense(8, input_dim=4)])
        model.add(keras.layers.Bidirectional(4))
    """)
    msg = parse_error(path)
    assert msg.startswith(f"{path}:3: ") and "Bidirectional" in msg


def test_unknown_optimizer_loss_and_missing_loss(script):
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense
        model = Sequential([Dense(1, input_dim=4)])
        model.compile(optimizer='nadamx', loss='mse')
    """)
    msg = parse_error(path)
    assert msg.startswith(f"{path}:4: ") and "nadamx" in msg
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense
        model = Sequential([Dense(1, input_dim=4)])
        model.compile(optimizer='sgd', loss='nosuchloss')
    """)
    assert "nosuchloss" in parse_error(path)
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense
        model = Sequential([Dense(1, input_dim=4)])
        model.compile(optimizer='sgd')
    """)
    assert parse_error(path) == f"{path}:4: compile() needs a `loss`"
    path = script("""
        from keras.models import Sequential
        from keras.layers import Dense
        model = Sequential([Dense(1)])
        model.compile(optimizer='sgd', loss='mse', colour='red')
    """)
    assert "colour" in parse_error(path)


def test_no_model(script):
    path = script("import numpy as np\nprint(np.zeros(3))\n")
    msg = parse_error(path)
    assert msg.startswith(path) and "no Keras Sequential model" in msg


def test_missing_file(tmp_path):
    with pytest.raises(SeqcError, match="no such file"):
        parse_script(str(tmp_path / "nope.py"))


def test_add_non_layer(script):
    path = script("""
        from keras.models import Sequential
        model = Sequential()
        model.add(3)
    """)
    msg = parse_error(path)
    assert msg.startswith(f"{path}:3: ") and "keras.Layer" in msg
