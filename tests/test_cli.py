"""The `seqc` command line: compile -> an importable package that trains; run; summary; errors.

Commands run as `python -m seqc` in a subprocess (the build cache is the session's, from
conftest.py), so a crash fails a test instead of the run."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from package_import import import_package

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def seqc(*args, cwd=None, timeout=300, env=None):
    r = subprocess.run([sys.executable, "-m", "seqc", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd, timeout=timeout, env=env)
    return r


def assert_user_error(r, start):
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(start), r.stderr


@pytest.fixture(scope="module")
def softmax_pkg(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    r = seqc("compile", os.path.join(EXAMPLES, "mlp_softmax.py"), "-o", out)
    assert r.returncode == 0, r.stderr
    return out, r


def test_compile_writes_package(softmax_pkg):
    out, r = softmax_pkg
    pkg = out / "mlp_softmax"
    assert sorted(os.listdir(pkg)) == ["__init__.py", "libmlp_softmax.so", "mlp_softmax.c", "mlp_softmax.h",
                                       "model.json"]
    desc = json.loads((pkg / "model.json").read_text())
    assert [l["kind"] for l in desc["layers"]] == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert desc["optimizer"]["kind"] == "SGD"
    from seqc.description import ModelDescription
    assert ModelDescription.from_json(desc).to_json() == desc      # model.json round-trips
    # the summary: layers, shapes, parameter counts, fused kernels, and where the package went
    assert "dense_2 (Dense)" in r.stdout and "(None, 10)" in r.stdout
    assert "Total params: 6,154" in r.stdout
    assert "Fused kernels" in r.stdout and "softmax" in r.stdout
    assert str(pkg) in r.stdout
    assert '#include "mlp_softmax.h"' in (pkg / "mlp_softmax.c").read_text()


def test_compiled_package_trains(softmax_pkg):
    out, _ = softmax_pkg
    mod = import_package(out, "mlp_softmax")
    model = mod.Model(seed=0)
    again = mod.Model(seed=0)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [w.shape for w in model.get_weights()] == [(20, 64), (64,), (64, 64), (64,), (64, 10), (10,)]
    rng = np.random.default_rng(0)
    x = rng.random((64, 20))
    y = np.eye(10, dtype=np.float32)[rng.integers(10, size=64)]
    hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert set(hist.history) == {"loss", "accuracy"} and len(hist.history["loss"]) == 2
    loss, acc = model.evaluate(x, y, batch_size=32, verbose=0)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert model.predict(x[:5], verbose=0).shape == (5, 10)


def test_compile_binary_name_and_warm_cache(tmp_path):
    src = os.path.join(EXAMPLES, "mlp_binary.py")
    r1 = seqc("compile", src, "-o", tmp_path, "--name", "binnet")
    assert r1.returncode == 0, r1.stderr
    r2 = seqc("compile", src, "-o", tmp_path, "--name", "binnet")       # warm: from the caches
    assert r2.returncode == 0, r2.stderr
    assert r1.stdout == r2.stdout
    mod = import_package(tmp_path, "binnet")
    model = mod.Model(seed=1)
    x = np.random.default_rng(1).random((40, 20))
    y = np.random.default_rng(2).integers(2, size=(40, 1))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    out = model.evaluate(x, y, verbose=0)
    assert len(out) == 2 and model.metrics_names == ["loss", "accuracy"]


def test_compile_default_outdir_defines_and_custom_metric(tmp_path):
    script = tmp_path / "my-net.py"
    script.write_text(textwrap.dedent("""
        import keras.backend as K
        from tensorflow.keras.models import Sequential
        from tensorflow.keras.layers import Dense

        def mean_pred(y_true, y_pred):
            return K.mean(y_pred)

        model = Sequential()
        model.add(Dense(hidden, activation='relu', input_dim=n_in))
        model.add(Dense(1, activation='sigmoid'))
        model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy', mean_pred])
    """))
    r = seqc("compile", script.name, cwd=tmp_path)
    assert_user_error(r, f"{script.name}:10: name 'hidden' is not defined (pass -D hidden=VALUE)")
    r = seqc("compile", script.name, "-D", "hidden=6", "-Dn_in=3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    pkg = tmp_path / "build" / "my_net"                 # default OUTDIR and the stem as an identifier
    assert (pkg / "libmy_net.so").exists()
    mod = import_package(tmp_path / "build", "my_net")
    model = mod.Model(seed=0)
    assert model.metrics_names == ["loss", "accuracy", "mean_pred"]
    x = np.random.default_rng(0).random((10, 3))
    y = np.random.default_rng(1).integers(2, size=(10, 1))
    loss, acc, mp = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(mp, model.predict(x, verbose=0).mean(), rtol=1e-5)


def test_summary():
    r = seqc("summary", os.path.join(EXAMPLES, "mlp_binary.py"))
    assert r.returncode == 0, r.stderr
    assert "Layer (type)" in r.stdout and "dense_2 (Dense)" in r.stdout and "(None, 1)" in r.stdout
    assert "Total params: 5,569" in r.stdout
    assert "sigmoid" in r.stdout        # the fused sigmoid + binary cross-entropy


@pytest.mark.parametrize("example, last_epoch, metric", [("mlp_softmax.py", 20, "accuracy"),
                                                        ("mlp_binary.py", 20, "accuracy"),
                                                        ("conv1d_classifier.py", 10, "accuracy"),
                                                        ("vgg_like.py", 10, "loss"),
                                                        ("stacked_lstm.py", 5, "val_accuracy"),
                                                        ("stateful_lstm.py", 5, "val_accuracy"),
                                                        ("lstm_classifier.py", 10, "accuracy")])
def test_run_examples(example, last_epoch, metric, tmp_path):
    # the tutorials train for many epochs: on the shipping -O3 C (the suite builds at -O1)
    r = seqc("run", os.path.join(EXAMPLES, example), cwd=tmp_path, env=dict(os.environ, SEQC_OPT="-O3"))
    assert r.returncode == 0, (r.returncode, r.stderr[-3000:])
    assert f"Epoch {last_epoch}/{last_epoch}" in r.stdout and metric in r.stdout


@pytest.mark.parametrize("example, layer", [("vgg_like.py", "Conv2D"), ("conv1d_classifier.py", "Conv1D"),
                                            ("stacked_lstm.py", "LSTM"), ("stateful_lstm.py", "LSTM"),
                                            ("lstm_classifier.py", "LSTM")])
def test_compile_examples(example, layer, tmp_path):
    r = seqc("compile", os.path.join(EXAMPLES, example), "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert layer in r.stdout and "Total params" in r.stdout


def test_compile_tutorial_conv1d_text_needs_seq_length(tmp_path):
    """The tutorial's Conv1D text leaves seq_length undefined: an error naming it, fixed by -D."""
    text = open(os.path.join(EXAMPLES, "conv1d_classifier.py")).read()
    raw = tmp_path / "raw.py"
    raw.write_text(text[text.index("from keras.models"):])
    r = seqc("compile", str(raw), "-o", str(tmp_path))
    assert_user_error(r, f"{raw}:")
    assert "seq_length" in r.stderr and "-D seq_length" in r.stderr
    r = seqc("compile", str(raw), "-o", str(tmp_path), "-D", "seq_length=100")
    assert r.returncode == 0, r.stderr
    assert "105,729" in r.stdout


# ---- an open sequence length: bound at first use, one build per length ----------------------
def tutorial_lstm_text(tmp_path):
    """The LSTM classifier tutorial's unchanged text (max_features and the data undefined;
    the Embedding has no input_length), and the line of its Embedding."""
    text = open(os.path.join(EXAMPLES, "lstm_classifier.py")).read()
    raw = tmp_path / "lstm_tut.py"
    raw.write_text(text[text.index("from keras.models"):])
    line = raw.read_text().splitlines().index("model.add(Embedding(max_features, output_dim=256))") + 1
    return raw, line


@pytest.fixture(scope="module")
def open_lstm_pkg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("open")
    raw, _ = tutorial_lstm_text(tmp)
    r = seqc("compile", raw, "-o", tmp / "build", "-D", "max_features=1000")
    assert r.returncode == 0, r.stderr
    return tmp, raw, r


def test_compile_tutorial_lstm_text_undefined_name_and_bad_define(tmp_path):
    raw, line = tutorial_lstm_text(tmp_path)
    r = seqc("compile", raw, "-o", tmp_path)
    assert_user_error(r, f"{raw}:{line}: name 'max_features' is not defined (pass -D max_features=VALUE)")
    r = seqc("compile", raw, "-o", tmp_path, "-D", "max_features=10x")
    assert_user_error(r, "seqc: -D max_features=10x: the value is not a Python literal")
    r = seqc("compile", raw, "-o", tmp_path, "-D", "max_features=")
    assert_user_error(r, "seqc: -D max_features=: the value is empty")
    r = seqc("compile", raw, "-o", tmp_path, "-D", "max_features=-5")     # a literal, but not a size
    assert_user_error(r, f"{raw}:{line}: ")
    assert "input_dim" in r.stderr
    assert not (tmp_path / "lstm_tut").exists()


def test_compile_open_length_writes_package_without_c(open_lstm_pkg):
    tmp, raw, r = open_lstm_pkg
    pkg = tmp / "build" / "lstm_tut"
    assert sorted(os.listdir(pkg)) == ["__init__.py", "model.json"]
    assert "embedding (Embedding)" in r.stdout and "(None, None, 256)" in r.stdout
    assert "Total params: 453,249" in r.stdout and "sequence length open" in r.stdout
    desc = json.loads((pkg / "model.json").read_text())
    assert desc["input_shape"] == [None] and desc["output_shape"] == [1]
    assert desc["script"]["defines"] == ["max_features=1000"] and "LSTM(128)" in desc["script"]["text"]
    # warm: the same output from the compile memo; the summary alone says the same
    again = seqc("compile", raw, "-o", tmp / "build", "-D", "max_features=1000")
    assert again.returncode == 0 and again.stdout == r.stdout
    s = seqc("summary", raw, "-D", "max_features=1000")
    assert s.returncode == 0 and "(None, None, 256)" in s.stdout and "Total params: 453,249" in s.stdout


def test_open_length_package_binds_length_at_first_use(open_lstm_pkg):
    """Trains two batches of length-80 sequences, predicts on length 40: one build per length,
    weights and optimizer state carried over, seeded initial weights reproducible."""
    tmp, _, _ = open_lstm_pkg
    mod = import_package(tmp / "build", "lstm_tut")
    model = mod.Model(seed=0)
    for a, b in zip(model.get_weights(), mod.Model(seed=0).get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [w.shape for w in model.get_weights()] == [(1000, 256), (256, 512), (128, 512), (512,), (128, 1), (1,)]
    assert model.input_shape == (None, None)
    rng = np.random.default_rng(0)
    x80, y = rng.integers(1000, size=(32, 80)), rng.integers(2, size=(32, 1))
    before = model.get_weights()
    hist = model.fit(x80, y, batch_size=16, epochs=1, verbose=0)
    assert set(hist.history) == {"loss", "accuracy"} and np.isfinite(hist.history["loss"][0])
    assert model.optimizer.iterations == 2
    trained = model.get_weights()
    assert not np.array_equal(before[1], trained[1])
    x40 = rng.integers(1000, size=(5, 40))
    p = model.predict(x40, verbose=0)
    assert p.shape == (5, 1) and np.all((p > 0) & (p < 1))
    for a, b in zip(trained, model.get_weights()):                 # carried over to length 40
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 2
    assert {key[0] for key in model._variants} == {(80,), (40,)}
    # the same weights in a fresh model, loaded before its length is bound, predict the same
    model.save_weights(tmp / "trained.npz")
    other = mod.Model(seed=1)
    other.load_weights(tmp / "trained.npz")
    np.testing.assert_allclose(other.predict(x40, verbose=0), p, rtol=1e-5, atol=1e-6)
    fresh = mod.Model(seed=0)
    fresh.save_weights(tmp / "fresh.npz")
    for a, b in zip(before, np.load(tmp / "fresh.npz").values()):
        np.testing.assert_array_equal(a, b)
    loss, acc = model.evaluate(x80, y, batch_size=16, verbose=0)  # back to length 80: no new build
    assert np.isfinite(loss) and 0 <= acc <= 1 and len({id(rt) for rt in model._variants.values()}) == 2
    with pytest.raises(ValueError, match="index"):
        model.predict(np.full((2, 40), 1000), verbose=0)


def test_compile_seq_len_ships_that_build(open_lstm_pkg, tmp_path):
    """--seq-len 80: the C for length 80 in the package, used for that length; other lengths as
    without it; compiling again without --seq-len removes the C."""
    _, raw, _ = open_lstm_pkg
    r = seqc("compile", raw, "-o", tmp_path, "-D", "max_features=1000", "--seq-len", "80")
    assert r.returncode == 0, r.stderr
    pkg = tmp_path / "lstm_tut"
    assert sorted(os.listdir(pkg)) == ["__init__.py", "liblstm_tut.so", "lstm_tut.c", "lstm_tut.h", "model.json"]
    assert "(None, None, 256)" in r.stdout and "liblstm_tut.so holds the build for input shape (80,)" in r.stdout
    mod = import_package(tmp_path, "lstm_tut")
    model = mod.Model(seed=0)
    rng = np.random.default_rng(1)
    model.fit(rng.integers(1000, size=(16, 80)), rng.integers(2, size=(16, 1)), epochs=1, verbose=0)
    assert os.path.dirname(model._runtime._engine.lib_path) == str(pkg)
    assert model.predict(rng.integers(1000, size=(3, 12)), verbose=0).shape == (3, 1)
    r = seqc("compile", raw, "-o", tmp_path, "-D", "max_features=1000")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(pkg)) == ["__init__.py", "model.json"]


def test_compile_open_input_shape_lstm(tmp_path):
    """input_shape=(None, 16): sequence outputs (labels of the length too) and a user metric."""
    script = tmp_path / "seq2seq.py"
    script.write_text(textwrap.dedent("""
        import keras.backend as K
        from keras.models import Sequential
        from keras.layers import LSTM, Dense

        def mean_pred(y_true, y_pred):
            return K.mean(y_pred)

        model = Sequential()
        model.add(LSTM(32, return_sequences=True, input_shape=(None, 16)))
        model.add(LSTM(32, return_sequences=True))
        model.add(Dense(10, activation='softmax'))
        model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy', mean_pred])
    """))
    r = seqc("compile", script, "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "(None, None, 32)" in r.stdout and "(None, None, 10)" in r.stdout
    desc = json.loads((tmp_path / "seq2seq" / "model.json").read_text())
    assert desc["input_shape"] == [None, 16] and desc["y_shape"] == [None, 10]
    mod = import_package(tmp_path, "seq2seq")
    model = mod.Model(seed=0)
    rng = np.random.default_rng(0)
    x8, y8 = rng.random((20, 8, 16)), np.eye(10)[rng.integers(10, size=(20, 8))]
    hist = model.fit(x8, y8, batch_size=10, epochs=1, verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "mean_pred"}
    np.testing.assert_allclose(hist.history["mean_pred"][0], 0.1, rtol=1e-4)
    x5 = rng.random((4, 5, 16))
    assert model.predict(x5, verbose=0).shape == (4, 5, 10)
    loss, acc, mp = model.evaluate(x5, np.eye(10)[rng.integers(10, size=(4, 5))], verbose=0)
    assert np.isfinite(loss)
    with pytest.raises(ValueError, match=r"expects \(None, None, 16\)"):
        model.predict(rng.random((2, 5, 15)), verbose=0)
    r = seqc("compile", script, "-o", tmp_path, "--seq-len", "8")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "seq2seq" / "libseq2seq.so").exists()


def test_compile_open_length_errors(tmp_path):
    flat = tmp_path / "flat.py"        # the Dense kernel's shape would depend on the length
    flat.write_text("from keras.models import Sequential\nfrom keras.layers import Embedding, Flatten, Dense\n"
                    "model = Sequential([Embedding(100, 8), Flatten(),\n"
                    "                    Dense(1, activation='sigmoid')])\n"
                    "model.compile(loss='binary_crossentropy', optimizer='adam')\n")
    r = seqc("compile", flat, "-o", tmp_path)
    assert_user_error(r, f"{flat}:4: the shape of the weight dense/kernel depends on the input's open dimension")
    fixed = os.path.join(EXAMPLES, "mlp_binary.py")
    r = seqc("compile", fixed, "-o", tmp_path, "--seq-len", "5")
    assert_user_error(r, f"{fixed}:")
    assert "--seq-len 5: the script fixes the input shape to (20,)" in r.stderr
    two = tmp_path / "two.py"
    two.write_text("from keras.models import Sequential\nfrom keras.layers import Conv2D, GlobalMaxPooling2D\n"
                   "model = Sequential([Conv2D(4, 3, input_shape=(None, None, 3)), GlobalMaxPooling2D()])\n"
                   "model.compile(loss='mse', optimizer='sgd')\n")
    r = seqc("compile", two, "-o", tmp_path, "--seq-len", "9")
    assert_user_error(r, f"{two}:3: --seq-len 9: the input shape (None, None, 3) has open dimensions besides")


def test_run_passes_arguments_and_serves_tensorflow_keras(tmp_path):
    script = tmp_path / "args.py"
    script.write_text(textwrap.dedent("""
        import sys
        import numpy as np
        import tensorflow as tf
        from tensorflow.keras import layers, optimizers
        from keras.optimizers.schedules import ExponentialDecay
        import keras
        assert tf.keras is keras
        units = int(sys.argv[1])
        model = tf.keras.Sequential([layers.Dense(units, activation='relu', input_shape=(3,)), layers.Dense(1)])
        model.compile(optimizer=optimizers.SGD(ExponentialDecay(0.1, 10, 0.5)), loss='mse')
        h = model.fit(np.ones((8, 3)), np.zeros((8, 1)), epochs=2, verbose=0)
        print("argv", sys.argv[1:], "params", model.count_params(), "epochs", len(h.history['loss']))
    """))
    r = seqc("run", script, "5", "--flag", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "argv ['5', '--flag'] params 26 epochs 2" in r.stdout


TF_TUTORIAL_IDIOMS = """
    import numpy as np
    import tensorflow as tf
    from tensorflow import keras
    model = tf.keras.Sequential([tf.keras.Input((6, 5)), tf.keras.layers.Lambda(lambda x: x[:, -1:, :]),
                                 tf.keras.layers.Dense(20, kernel_initializer=tf.initializers.zeros()),
                                 tf.keras.layers.Dense(20, kernel_initializer=keras.initializers.he_normal(seed=1)),
                                 tf.keras.layers.Reshape([4, 5])])
    model.compile(loss=tf.losses.MeanSquaredError(), optimizer=tf.optimizers.Adam(),
                  metrics=[tf.metrics.MeanAbsoluteError()])
"""


def test_tensorflow_top_level_keras_modules_in_both_front_ends(tmp_path):
    """TensorFlow 2's tf.initializers / tf.optimizers / tf.losses / tf.metrics (its time-series
    tutorial's `kernel_initializer=tf.initializers.zeros()`), Keras's snake_case initializers, and
    `.numpy()` on what model(x) and a variable's slice give, as on Keras's tensors."""
    script = tmp_path / "idioms.py"
    script.write_text(textwrap.dedent(TF_TUTORIAL_IDIOMS) + textwrap.dedent("""
        x = np.ones((3, 6, 5), np.float32)
        model.fit(x, np.ones((3, 4, 5)), epochs=1, verbose=0)
        print("out", model(x).numpy().shape, "kernel", model.layers[1].kernel[:, 0].numpy().shape,
              "zeros", float(np.abs(model.layers[1].kernel).max()) < 0.1)
    """))
    r = seqc("run", script, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "out (3, 4, 5) kernel (5,) zeros True" in r.stdout
    static = tmp_path / "static.py"
    static.write_text(textwrap.dedent(TF_TUTORIAL_IDIOMS))
    r = seqc("compile", static, "-o", tmp_path / "build", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Total params: 540" in r.stdout


def test_tf2_experimental_preprocessing_normalization_in_both_front_ends(tmp_path):
    """TF 2.3-2.5's regression tutorial: `from tensorflow.keras.layers.experimental import
    preprocessing; normalizer = preprocessing.Normalization(); normalizer.adapt(x)`."""
    script = tmp_path / "regression.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        import tensorflow as tf
        from tensorflow.keras import layers
        from tensorflow.keras.layers.experimental import preprocessing
        x = np.random.default_rng(0).normal(5, 3, (100, 9)).astype("float32")
        normalizer = preprocessing.Normalization()
        normalizer.adapt(np.array(x))
        model = tf.keras.Sequential([normalizer, layers.Dense(units=1)])
        model.compile(optimizer=tf.optimizers.Adam(learning_rate=0.1), loss='mean_absolute_error')
        model.fit(x, x.sum(1), epochs=2, verbose=0)
        scalar = tf.keras.layers.experimental.preprocessing.Normalization(axis=None)
        print("mean", normalizer.mean.numpy().shape, "weights", len(model.get_weights()))
    """))
    r = seqc("run", script, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "mean (1, 9) weights 5" in r.stdout
    r = seqc("compile", script, "-o", tmp_path / "build", "--input-shape", "9", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Non-trainable params: 19" in r.stdout and "adapt()" in r.stdout


def test_run_errors_are_reported_at_the_script_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import keras\nfrom keras.layers import Dense\nm = keras.Sequential()\nm.add(Dense(12, units=784))\n")
    r = seqc("run", bad)
    assert_user_error(r, f"{bad}:4: ")
    assert "units" in r.stderr
    shape = tmp_path / "shape.py"
    shape.write_text(textwrap.dedent("""
        import numpy as np
        from keras.models import Sequential
        from keras.layers import Dense
        model = Sequential([Dense(2, activation='softmax', input_dim=4)])
        model.compile(optimizer='sgd', loss='categorical_crossentropy')

        def train():
            model.fit(np.zeros((10, 5)), np.zeros((10, 2)), epochs=1, verbose=0)

        train()
    """))
    r = seqc("run", shape)
    assert_user_error(r, f"{shape}:9: ")
    unsupported = tmp_path / "convlstm.py"
    unsupported.write_text("from keras.layers import Dense, ConvLSTM2D\n")
    assert_user_error(seqc("run", unsupported), f"{unsupported}:1: ")
    # the script's own bug is the script's: Python's traceback, as with `python script.py`
    own = tmp_path / "own.py"
    own.write_text("x = int('abc')\n")
    r = seqc("run", own)
    assert r.returncode != 0 and "Traceback" in r.stderr and "invalid literal" in r.stderr
    syn = tmp_path / "syn.py"
    syn.write_text("import keras\nx = (\n")
    r = seqc("run", syn)
    assert r.returncode == 1 and "Traceback" not in r.stderr and r.stderr.startswith(f"{syn}:")


def test_compile_errors(tmp_path):
    assert_user_error(seqc("compile", tmp_path / "missing.py"), "seqc: ")
    assert "no such file" in seqc("compile", tmp_path / "missing.py").stderr
    bad = tmp_path / "bad.py"
    bad.write_text("from keras.models import Sequential\nfrom keras.layers import Dense\n"
                   "model = Sequential()\nmodel.add(Dense(12, units=784))\n")
    r = seqc("compile", bad, "-o", tmp_path)
    assert_user_error(r, f"{bad}:4: ")
    assert "multiple values for argument 'units'" in r.stderr
    syn = tmp_path / "syn.py"
    syn.write_text("from keras.models import Sequential\nmodel = Sequential(\n")
    assert_user_error(seqc("summary", syn), f"{syn}:2: ")
    nocompile = tmp_path / "nocompile.py"
    nocompile.write_text("from keras.models import Sequential\nfrom keras.layers import Dense\n"
                         "model = Sequential([Dense(2, input_dim=3)])\n")
    r = seqc("compile", nocompile, "-o", tmp_path)
    assert_user_error(r, f"{nocompile}:3: ")
    assert "compile" in r.stderr
    shape = tmp_path / "shape.py"       # an error found by the lowering names the layer's line
    shape.write_text("from keras.models import Sequential\nfrom keras.layers import Dense\n"
                     "model = Sequential([Dense(2, input_dim=3), Dense(3, activation='softmax')])\n"
                     "def m(y_true, y_pred):\n    return y_pred[0]\n"
                     "model.compile(optimizer='sgd', loss='mse', metrics=[m])\n")
    r = seqc("compile", shape, "-o", tmp_path)
    assert_user_error(r, f"{shape}:4: ")


def test_bad_options():
    for args in ([], ["compile"], ["frobnicate"], ["compile", "x.py", "--bogus"], ["summary"],
                 ["compile", "x.py", "-D", "novalue"], ["compile", "x.py", "--name", "not-an-id"],
                 ["compile", "x.py", "--seq-len", "0"], ["compile", "x.py", "--seq-len", "eighty"]):
        r = seqc(*args)
        assert r.returncode == 1, (args, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith(("seqc: ", "usage: ")), (args, r.stderr)
    r = seqc("--version")
    assert r.returncode == 0 and r.stdout.startswith("seqc ")
    r = seqc("--help")
    assert r.returncode == 0 and "compile" in r.stdout


def test_main_in_process(tmp_path, capsys):
    from seqc.cli import main, package_name
    assert package_name("a/b/my-model.v2.py") == "my_model_v2"
    assert package_name("3layers.py") == "m_3layers"
    assert package_name("class.py") == "class_"
    assert main(["summary", os.path.join(EXAMPLES, "mlp_softmax.py")]) == 0
    assert "Total params: 6,154" in capsys.readouterr().out
    assert main(["summary", str(tmp_path / "none.py")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_compile_memo_key(monkeypatch, tmp_path):
    """The compile memo lives in the build cache; its key changes with what the result depends on."""
    from seqc import build, cli
    monkeypatch.setenv("SEQC_CACHE_DIR", str(tmp_path))
    assert cli._memo_path("k").startswith(str(tmp_path))
    # the key changes with anything the result depends on
    k = cli.memo_key(b"x = 1", {}, "m", "a.py")
    assert k == cli.memo_key(b"x = 1", {}, "m", "a.py")
    assert len({k, cli.memo_key(b"x = 2", {}, "m", "a.py"), cli.memo_key(b"x = 1", {"n": 1}, "m", "a.py"),
                cli.memo_key(b"x = 1", {}, "m2", "a.py"), cli.memo_key(b"x = 1", {}, "m", "b.py")}) == 5
    monkeypatch.setenv("SEQC_CFLAGS", "-march=x86-64")
    assert cli.memo_key(b"x = 1", {}, "m", "a.py") != k
