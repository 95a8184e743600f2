"""Keras model files both ways, against files written by real Keras 3.15
(tests/golden/make_file_goldens.py -> tests/golden/files/; no Keras needed here).

- seqc reads Keras's `.keras`, `.weights.h5`, Keras-2 layout `.h5` weights and legacy
  full-model `.h5` files and predicts what Keras predicted from them;
- seqc continues training from a Keras `.keras` file (optimizer state included) along Keras's
  own continued trajectory;
- what seqc writes has exactly the structure Keras writes for the same model (groups,
  attributes, dataset shapes and dtypes, config.json); tests/golden/check_seqc_files_in_keras.py
  loads seqc's files into real Keras and compares predictions (run by hand, it needs Keras);
- every layer class's get_config() equals Keras's;
- bad file names get Keras's errors; damaged files are clear errors; writes are atomic;
- `seqc compile x.keras` / `seqc summary x.keras`.
"""
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest

import seqc.keras as keras
from seqc.keras import layers as L
from seqc.keras import saving

GOLDEN = pathlib.Path(__file__).parent / "golden" / "files"
MANIFEST = json.load(open(GOLDEN / "files_manifest.json"))
MODELS = [k for k in MANIFEST if not k.startswith("_")]
for _name in MODELS:
    MANIFEST[_name].update(json.load(open(GOLDEN / MANIFEST[_name]["expected"])))
META = MANIFEST["_meta"]
ROOT = pathlib.Path(__file__).parent.parent


def close(got, want, what, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def build(name):
    """The golden model built with seqc.keras from the same constructor arguments, compiled."""
    m = MANIFEST[name]
    dtype = "int32" if m["integer_input"] else "float32"
    model = keras.Sequential([L.Input(tuple(m["input_shape"]), name=m["input_name"], dtype=dtype)]
                             + [make_layer(l["class"], l["kwargs"]) for l in m["layers"]], name=m["model_name"])
    cls, kw = m["compile"]["optimizer"]
    model.compile(getattr(keras.optimizers, cls)(**kw), m["compile"]["loss"], metrics=m["compile"]["metrics"])
    return model


def data(name, n, seed):
    m = MANIFEST[name]
    rng = np.random.default_rng(seed)
    shape = tuple(m["input_shape"])
    x = rng.integers(0, 20, (n,) + shape).astype(np.int32) if m["integer_input"] else \
        rng.normal(size=(n,) + shape).astype(np.float32)
    y = {"onehot3": lambda: np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)],
         "sparse2": lambda: rng.integers(0, 2, n).astype(np.int32),
         "real1": lambda: rng.normal(size=(n, 1)).astype(np.float32),
         "seq2": lambda: rng.normal(size=(n, shape[0], 2)).astype(np.float32),
         "self": lambda: x.copy()}[m["labels"]]()
    return x, y


def golden(name):
    return np.load(GOLDEN / f"{name}.npz")


# ---- reading Keras's files -----------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_load_model_keras_file(name):
    z = golden(name)
    model = keras.models.load_model(GOLDEN / f"{name}.keras")
    close(model.predict(z["x"], verbose=0), z["pred"], f"{name}: predictions after load_model")
    weights = model.get_weights()
    for i, w in enumerate(weights):
        np.testing.assert_array_equal(w, z[f"w_{i}"])
    assert model.optimizer.iterations == META["steps"]
    assert type(model.optimizer).__name__ == MANIFEST[name]["compile"]["optimizer"][0]
    assert [l.name for l in model.layers] == [l["kwargs"]["name"] for l in MANIFEST[name]["layers"]]


def test_saving_module_load_model_is_the_same():
    z = golden("mlp")
    model = saving.load_model(str(GOLDEN / "mlp.keras"))
    close(model.predict(z["x"], verbose=0), z["pred"], "seqc.keras.saving.load_model")


@pytest.mark.parametrize("suffix", [".weights.h5", "_keras2.h5", ".keras"])
@pytest.mark.parametrize("name", MODELS)
def test_load_weights(name, suffix):
    """A model built in seqc loads Keras 3's .weights.h5, Keras-2's layout (by position) and
    the weights of a .keras file."""
    z = golden(name)
    model = build(name)
    model.load_weights(GOLDEN / f"{name}{suffix}")
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, z[f"w_{i}"], err_msg=f"weight {i}")
    close(model.predict(z["x"], verbose=0), z["pred"], f"{name}{suffix}")


def test_load_weights_takes_the_optimizer_state():
    model = build("lstm")
    model.load_weights(GOLDEN / "lstm.weights.h5")
    assert model.optimizer.iterations == META["steps"]


@pytest.mark.parametrize("file,ref", [("mlp_legacy.h5", "mlp"), ("lstm_keras2_model.h5", "lstm")])
def test_load_legacy_full_model(file, ref):
    z = golden(ref)
    model = keras.models.load_model(GOLDEN / file)
    close(model.predict(z["x"], verbose=0), z["pred"], file)
    assert model.optimizer is not None and type(model.optimizer).__name__ == \
        MANIFEST[ref]["compile"]["optimizer"][0]
    assert model.metrics_names[0] == "loss"


@pytest.mark.parametrize("name", META["resumed"])
def test_resume_training_from_keras_file(name):
    """Keras trained 3 steps, saved, loaded and trained 3 more; seqc loads the same file and
    trains the same 3 batches: the same losses and weights (the optimizer state carried over)."""
    z = golden(name)
    model = keras.models.load_model(GOLDEN / f"{name}.keras")
    b, steps = META["batch"], META["resume_steps"]
    losses = [np.atleast_1d(model.train_on_batch(z["xr"][s * b:(s + 1) * b], z["yr"][s * b:(s + 1) * b]))[0]
              for s in range(steps)]
    close(losses, z["resume_losses"], f"{name}: losses after resuming", rtol=1e-4, atol=1e-6)
    for i, w in enumerate(model.get_weights()):
        want = z[f"resumed_{i}"]
        close(w, want, f"{name}: weight {i} after resuming", rtol=1e-4, atol=1e-4 * np.abs(want).max())
    assert model.optimizer.iterations == int(z["resumed_iterations"])
    # without the optimizer state the trajectory differs: the state did matter
    fresh = build(name)
    fresh.load_weights(GOLDEN / f"{name}_keras2.h5")
    other = [np.atleast_1d(fresh.train_on_batch(z["xr"][s * b:(s + 1) * b], z["yr"][s * b:(s + 1) * b]))[0]
             for s in range(steps)]
    assert not np.allclose(other, z["resume_losses"], rtol=1e-4)


# ---- what seqc writes: the structure Keras writes ---------------------------------------------
def structure(source):
    out = {}

    def visit(name, obj):
        attrs = {k: attr_value(v) for k, v in obj.attrs.items()}
        if isinstance(obj, h5py.Dataset):
            out[name] = {"kind": "dataset", "attrs": attrs, "shape": list(obj.shape), "dtype": str(obj.dtype)}
        else:
            out[name] = {"kind": "group", "attrs": attrs}
    with h5py.File(source, "r") as f:
        f.visititems(visit)
        out["/"] = {"kind": "group", "attrs": {k: attr_value(v) for k, v in f.attrs.items()}}
    return out


def attr_value(v):
    if isinstance(v, bytes):
        return v.decode()
    if hasattr(v, "tolist"):
        return [x.decode() if isinstance(x, bytes) else x for x in v.tolist()] if np.ndim(v) else v.tolist()
    return v


def trained(name):
    model = build(name)
    x, y = data(name, META["batch"] * META["steps"], 0)
    b = META["batch"]
    for s in range(META["steps"]):
        model.train_on_batch(x[s * b:(s + 1) * b], y[s * b:(s + 1) * b])
    return model


def normalised_config(cfg):
    """config.json without what legitimately differs: the optimizer's backend-specific module."""
    cfg = json.loads(json.dumps(cfg))
    opt = cfg.get("compile_config", {}).get("optimizer")
    if isinstance(opt, dict):
        opt["module"], opt["registered_name"] = "keras.optimizers", None
        opt["config"]["name"] = re.sub(r"_[0-9]+$", "", opt["config"]["name"])    # Keras's session counter
    return cfg


def normalised_structure(s):
    """Keras numbers its optimizers' automatic names per session (adam, adam_1...): numbers off."""
    return json.loads(re.sub(r'\b(adam|adam_w|sgd|rm_sprop|adagrad|nadam|adamax|adadelta|ftrl|lion)_[0-9]+(?=/|")',
                             r"\1", json.dumps(s)))


@pytest.mark.parametrize("name", MODELS)
def test_written_files_have_keras_structure(name, tmp_path):
    model = trained(name)
    model.save_weights(tmp_path / "m.weights.h5")
    assert normalised_structure(structure(tmp_path / "m.weights.h5")) == normalised_structure(
        MANIFEST[name]["weights_h5"])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(z.read("config.json"))
        meta = json.loads(z.read("metadata.json"))
        weights = z.read("model.weights.h5")
    assert normalised_config(config) == normalised_config(MANIFEST[name]["config"])
    assert meta["keras_version"] == META["keras"] and "date_saved" in meta
    assert normalised_structure(structure(io.BytesIO(weights))) == normalised_structure(
        MANIFEST[name]["keras_weights_h5"])


@pytest.mark.parametrize("name", MODELS)
def test_written_legacy_h5_has_keras_structure(name, tmp_path):
    """model.save('x.h5'): Keras's legacy full-model file, as Keras 3 writes it."""
    model = trained(name)
    model.save(tmp_path / "m.h5")
    got = structure(tmp_path / "m.h5")
    for key in ("model_config", "training_config"):
        got["/"]["attrs"][key] = json.loads(got["/"]["attrs"][key])
    assert normalised_structure(got) == normalised_structure(MANIFEST[name]["legacy_h5"])
    again = keras.models.load_model(tmp_path / "m.h5")
    x, _ = data(name, 5, 3)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.optimizer.iterations == META["steps"]


@pytest.mark.parametrize("name", MODELS)
def test_untrained_optimizer_is_not_built(name, tmp_path):
    """Compiled, never trained: iterations and learning rate only, as Keras (its optimizer
    creates the slots at the first step)."""
    model = build(name)
    model.save_weights(tmp_path / "m.weights.h5")
    assert normalised_structure(structure(tmp_path / "m.weights.h5")) == normalised_structure(
        MANIFEST[name]["untrained_weights_h5"])
    other = build(name)
    other.load_weights(tmp_path / "m.weights.h5")
    assert other.optimizer.iterations == 0


@pytest.mark.parametrize("name", MODELS)
def test_datasets_are_byte_compatible(name, tmp_path):
    """Keras's weights.h5 loaded by seqc and written again: every dataset equal, same dtype."""
    model = build(name)
    model.load_weights(GOLDEN / f"{name}.weights.h5")
    model.save_weights(tmp_path / "again.weights.h5")
    with h5py.File(GOLDEN / f"{name}.weights.h5") as a, h5py.File(tmp_path / "again.weights.h5") as b:
        names = []
        a.visit(names.append)
        for n in names:
            if isinstance(a[n], h5py.Dataset):
                assert a[n].dtype == b[n].dtype, n
                assert a[n][()].tobytes() == b[n][()].tobytes(), n


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_through_seqc_files(name, tmp_path):
    model = trained(name)
    x, _ = data(name, 7, 5)
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), want)
    assert again.optimizer.iterations == model.optimizer.iterations
    np.testing.assert_array_equal(again._runtime.engine.slots, model._runtime.engine.slots)


def make_layer(cls, kwargs, **extra):
    """A seqc layer from a golden LAYER_CASES entry (a nested layer as {"class_name", "config"})."""
    kw = {k: make_layer(v["class_name"], v["config"]) if isinstance(v, dict) and "class_name" in v else v
          for k, v in kwargs.items()}
    return getattr(L, cls)(**kw, **extra)


@pytest.mark.parametrize("case", range(len(MANIFEST["_layer_configs"])))
def test_layer_get_config_is_keras(case):
    c = MANIFEST["_layer_configs"][case]
    layer = make_layer(c["class"], c["kwargs"], name="layer")
    assert json.loads(json.dumps(layer.get_config())) == c["config"]
    again = type(layer).from_config(c["config"])
    assert again.get_config() == layer.get_config()


def test_unknown_layer_class_is_named(tmp_path):
    cfg = json.loads(json.dumps(MANIFEST["mlp"]["config"]))
    cfg["config"]["layers"][2]["class_name"] = "MultiHeadAttention"
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(GOLDEN / "mlp.keras") as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.namelist():
            dst.writestr(item, json.dumps(cfg) if item == "config.json" else src.read(item))
    with pytest.raises(ValueError, match="'MultiHeadAttention'"):
        keras.models.load_model(path)


def test_unsupported_config_value_is_named():
    with pytest.raises(ValueError, match="lora_rank"):
        L.Embedding.from_config({"input_dim": 3, "output_dim": 2, "lora_rank": 4})
    with pytest.raises(ValueError, match="foo"):
        L.Dense.from_config({"units": 3, "foo": 1})


# ---- file names, damaged files, atomic writes ------------------------------------------------
def test_file_names_keras_refuses(tmp_path):
    model = build("mlp")
    with pytest.raises(ValueError, match=r"The filename must end in `\.weights\.h5`"):
        model.save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match="File format not supported"):
        model.load_weights(tmp_path / "w.txt")
    with pytest.raises(ValueError, match="Invalid filepath extension for saving"):
        model.save(tmp_path / "m.model")
    with pytest.raises(ValueError, match="File format not supported"):
        keras.models.load_model(tmp_path / "m.model")
    with pytest.raises(ValueError, match="File not found"):
        keras.models.load_model(tmp_path / "missing.keras")
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.weights.h5")


def test_npz_where_asked(tmp_path):
    model = trained("mlp")
    model.save_weights(tmp_path / "w.npz")
    other = build("mlp")
    other.load_weights(tmp_path / "w.npz")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("which", ["mlp.keras", "mlp.weights.h5", "mlp_keras2.h5", "mlp_legacy.h5"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_files_are_clear_errors(tmp_path, which, damage):
    data_ = (GOLDEN / which).read_bytes()
    bad = {"truncated": data_[:len(data_) // 2], "garbage": b"not a keras file" * 10, "empty": b""}[damage]
    path = tmp_path / which
    path.write_bytes(bad)
    model = build("mlp")
    before = model.get_weights()
    loader = (lambda: keras.models.load_model(path)) if which in ("mlp.keras", "mlp_legacy.h5") else \
        (lambda: model.load_weights(path))
    with pytest.raises(ValueError):
        loader()
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_damaged_files_never_crash(tmp_path):
    """Truncations of a weights file (zero-filled), in a child process: errors, never a crash."""
    code = f"""
import sys, numpy as np
sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'tests')!r})
from test_keras_files import build
model = build("lstm")
src = open({str(GOLDEN / 'lstm.weights.h5')!r}, "rb").read()
bad = 0
for n in range(0, len(src), 997):
    open({str(tmp_path / 'cut.weights.h5')!r}, "wb").write(src[:n] + b"\\0" * (len(src) - n))
    try:
        model.load_weights({str(tmp_path / 'cut.weights.h5')!r})
    except (ValueError, OSError):
        bad += 1
print("errors", bad)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.split()[-1]) > 0


def test_writes_are_atomic(tmp_path, monkeypatch):
    model = trained("mlp")
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("interrupted")
    monkeypatch.setattr(saving, "write_weights_h5", boom)
    model.set_weights([w + 1 for w in model.get_weights()])
    with pytest.raises(RuntimeError):
        model.save_weights(path)
    with pytest.raises(RuntimeError):
        model.save(tmp_path / "m.keras")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.weights.h5"]


def test_overwrite_false(tmp_path):
    model = build("mlp")
    model.save_weights(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="overwrite"):
        model.save_weights(tmp_path / "m.weights.h5", overwrite=False)


# ---- seqc compile / summary of a saved model -------------------------------------------------
def _seqc(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "seqc", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


@pytest.mark.parametrize("file,ref,resumed", [("lstm.keras", "lstm", True), ("mlp_legacy.h5", "mlp", False),
                                             ("bilstm.keras", "bilstm", False), ("bn_convnet.keras", "bn_convnet", True),
                                             ("td_seq2seq.keras", "td_seq2seq", True)])
def test_seqc_compile_saved_model(tmp_path, file, ref, resumed):
    shutil.copy(GOLDEN / file, tmp_path / file)
    r = _seqc("compile", file, "-o", "build", "--name", "saved", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Total params" in r.stdout
    sys.path.insert(0, str(tmp_path / "build"))
    try:
        import importlib
        import saved
        importlib.reload(saved)
        model = saved.Model(seed=0)
    finally:
        sys.path.pop(0)
        sys.modules.pop("saved", None)
    z = golden(ref)
    close(model.predict(z["x"], verbose=0), z["pred"], f"package from {file}")
    if resumed:
        assert model.optimizer.iterations == META["steps"]
        b = META["batch"]
        losses = [np.atleast_1d(model.train_on_batch(z["xr"][s * b:(s + 1) * b], z["yr"][s * b:(s + 1) * b]))[0]
                  for s in range(META["resume_steps"])]
        close(losses, z["resume_losses"], "package resumes Keras's trajectory", atol=1e-6)


def test_seqc_summary_saved_model(tmp_path):
    r = _seqc("summary", str(GOLDEN / "convnet.keras"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "conv (Conv2D)" in r.stdout and "Total params: 127" in r.stdout


def test_seqc_compile_damaged_file_is_one_line(tmp_path):
    (tmp_path / "bad.keras").write_bytes(b"junk")
    r = _seqc("compile", "bad.keras", cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "bad.keras" in r.stderr


def test_open_length_model_round_trip(tmp_path):
    """An Embedding without input_length: batch_shape [None, None] as Keras writes it; the loaded
    model binds the length at first use, with the file's optimizer state."""
    model = keras.Sequential([L.Embedding(30, 4), L.LSTM(3), L.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 30, (16, 7)), (rng.random(16) > .5).astype(np.float32)
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "open.keras")
    with zipfile.ZipFile(tmp_path / "open.keras") as z:
        cfg = json.loads(z.read("config.json"))["config"]
    assert cfg["layers"][0]["config"]["batch_shape"] == [None, None]
    assert cfg["layers"][2]["build_config"] == {"input_shape": [None, None, 4]}
    again = keras.models.load_model(tmp_path / "open.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.optimizer.iterations == 1
    h1 = model.fit(x, y, epochs=1, verbose=0, shuffle=False).history["loss"]
    h2 = again.fit(x, y, epochs=1, verbose=0, shuffle=False).history["loss"]
    assert h1 == h2


def test_sequential_get_config_from_config():
    model = build("convnet")
    config = model.get_config()
    assert config == normalised_config({"compile_config": {}, **MANIFEST["convnet"]["config"]})["config"]
    again = keras.Sequential.from_config(config)
    assert again.get_config() == config


def test_package_model_writes_and_reads_keras_weights(tmp_path):
    """A compiled package's Model: save_weights / load_weights in Keras's layout too."""
    shutil.copy(GOLDEN / "convnet.keras", tmp_path / "convnet.keras")
    r = _seqc("compile", "convnet.keras", "-o", "build", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    sys.path.insert(0, str(tmp_path / "build"))
    sys.modules.pop("convnet", None)        # another test's package of the same name (one worker process)
    try:
        import convnet
        model = convnet.Model(seed=0)
    finally:
        sys.path.pop(0)
        sys.modules.pop("convnet", None)
    model.save_weights(tmp_path / "p.weights.h5")
    assert normalised_structure(structure(tmp_path / "p.weights.h5")) == normalised_structure(
        MANIFEST["convnet"]["weights_h5"])
    fresh = build("convnet")
    fresh.load_weights(tmp_path / "p.weights.h5")
    z = golden("convnet")
    close(fresh.predict(z["x"], verbose=0), z["pred"], "package weights read back")
    with pytest.raises(ValueError, match="Keras config"):
        model.save(tmp_path / "p.keras")


def test_read_saved_model_for_tools():
    """The lower-level loader (seqc export, seqc compile): spec + weights + optimizer variables."""
    saved = saving.read_saved_model(GOLDEN / "emb_gru.keras")
    assert [l.kind for l in saved.spec.layers] == ["InputLayer", "Embedding", "GRU", "Dense"]
    assert saved.spec.input_shape == (6,) and saved.spec.compile.optimizer.kind == "SGD"
    z = golden("emb_gru")
    for i, w in enumerate(saved.weights):
        np.testing.assert_array_equal(w, z[f"w_{i}"])
    assert int(saved.optimizer_variables[0]) == META["steps"]
    legacy = saving.read_saved_model(GOLDEN / "lstm_keras2_model.h5")
    assert legacy.optimizer_variables is None and legacy.spec.compile.loss.builtin
    assert len(legacy.weights) == 5


# ---- Lambda: Keras writes the lambda's code; loading it needs safe_mode=False ------------------
def test_lambda_keras_file_needs_unsafe_mode():
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(GOLDEN / "lambda.keras")
    model = keras.models.load_model(GOLDEN / "lambda.keras", safe_mode=False)
    z = np.load(GOLDEN / "lambda.npz")
    close(model.predict(z["x"], verbose=0), z["pred"], "Keras's Lambda model in seqc")


def test_lambda_round_trip(tmp_path):
    def make(k):
        return L.Lambda(lambda t: t * k + 1.0, name="lam")
    model = keras.Sequential([L.Input((4,)), L.Dense(3), make(2.5), L.Dense(2)])
    cfg = model.layers[1].get_config()
    assert cfg["function"]["class_name"] == "__lambda__" and cfg["function"]["config"]["closure"] == [2.5]
    assert set(cfg) == {"name", "trainable", "dtype", "function", "arguments"}
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras", safe_mode=False)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_lambda_named_function_is_refused_on_load():
    cfg = {"name": "lam", "function": {"module": "mymod", "class_name": "function", "config": "double",
                                        "registered_name": "function"}, "arguments": {}}
    with pytest.raises(ValueError, match="'double'"):
        L.Lambda.from_config(cfg)


def test_user_layer_config_is_keras_base_config():
    class Scale(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w
    layer = Scale(name="s")
    assert layer.get_config() == {"name": "s", "trainable": True, "dtype": saving.dtype_policy()}
    model = keras.Sequential([L.Input((3,)), layer, L.Dense(2)])
    entry = saving.model_config(model)["config"]["layers"][1]
    assert (entry["module"], entry["class_name"], entry["registered_name"]) == (__name__, "Scale", "Scale")


def test_keras1_conv_names_are_written_as_keras_3_classes(tmp_path):
    """Convolution1D/2D (Keras 1 names, aliases in Keras 3): Conv1D/Conv2D in config.json and
    conv1d/conv2d groups in the weights, read back as the Keras 3 classes."""
    model = keras.Sequential([L.Input((6, 6, 2)), L.Convolution2D(2, 3, 3, name="c"), L.Flatten(), L.Dense(1)])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        config = json.loads(z.read("config.json"))
        weights = structure(io.BytesIO(z.read("model.weights.h5")))
    entry = config["config"]["layers"][1]
    assert entry["class_name"] == "Conv2D" and entry["config"]["kernel_size"] == [3, 3]
    assert "layers/conv2d/vars/0" in weights
    again = keras.models.load_model(tmp_path / "m.keras")
    assert type(again.layers[0]).__name__ == "Conv2D"
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


class Scale(L.Layer):
    """The user layer of tests/golden/make_file_goldens.py, written with seqc.keras."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="b")

    def call(self, x):
        return keras.ops.tanh(x * self.w + self.b)


def test_user_layer_keras_file_with_custom_objects(tmp_path):
    with pytest.raises(ValueError, match="'Scale'"):
        keras.models.load_model(GOLDEN / "user_layer.keras")
    with pytest.raises(ValueError, match="custom Layer subclasses"):
        keras.models.load_model(GOLDEN / "user_layer.keras", custom_objects={"Scale": lambda x: x})
    model = keras.models.load_model(GOLDEN / "user_layer.keras", custom_objects={"Scale": Scale})
    z = np.load(GOLDEN / "user_layer.npz")
    close(model.predict(z["x"], verbose=0), z["pred"], "Keras's user-layer model in seqc")
    model.save(tmp_path / "again.keras")
    with zipfile.ZipFile(GOLDEN / "user_layer.keras") as a, zipfile.ZipFile(tmp_path / "again.keras") as b:
        want = structure(io.BytesIO(a.read("model.weights.h5")))
        got = structure(io.BytesIO(b.read("model.weights.h5")))
        assert normalised_config(json.loads(b.read("config.json")))["config"]["layers"][2]["class_name"] == "Scale"
    assert sorted(k for k in got if k.startswith("layers/")) == sorted(k for k in want if k.startswith("layers/"))


@pytest.mark.parametrize("name", ["mlp", "lstm", "opt_nadam"])
def test_to_json_is_keras_config_and_model_from_json_reads_it(name):
    """Keras 3's to_json() is the serialised model a .keras file's config.json holds (architecture
    and compile arguments); model_from_json builds and compiles it again, with new weights."""
    model = trained(name)
    text = model.to_json()
    assert normalised_config(json.loads(text)) == normalised_config(MANIFEST[name]["config"])
    again = keras.models.model_from_json(text)
    assert [l.name for l in again.layers] == [l.name for l in model.layers]
    assert type(again.optimizer).__name__ == MANIFEST[name]["compile"]["optimizer"][0]
    assert [w.shape for w in again.get_weights()] == [w.shape for w in model.get_weights()]
    x, y = data(name, 4, 5)
    assert np.isfinite(again.train_on_batch(x, y)[0])
    with pytest.raises(ValueError, match="JSON"):
        keras.models.model_from_json("{not json")


def test_clone_model_has_the_architecture_and_new_weights():
    keras.utils.set_random_seed(3)
    model = trained("mlp")
    clone = keras.models.clone_model(model)
    assert clone.name == model.name and [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])     # initialised anew
    with pytest.raises(ValueError, match="compile"):
        clone.fit(np.ones((2, 6)), np.ones((2, 3)), verbose=0)                      # not compiled, as in Keras
    narrow = keras.models.clone_model(model, clone_function=lambda l: type(l).from_config(
        {**l.get_config(), "units": 5} if l.name == "hidden" else l.get_config()))
    assert narrow.layers[0].get_weights()[0].shape == (6, 5)
