"""Real Keras 3 reads the files seqc writes (run by hand: it needs Keras and seqc's Python).

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/check_seqc_files_in_keras.py

1. In a child process with seqc's Python (SEQC_PYTHON, default `python3` on PATH): each model of
   tests/golden/files/files_manifest.json is built with seqc.keras, trained 3 steps, saved as
   `.keras`, `.weights.h5` and legacy `.h5`; its predictions, and the weights after one more training step,
   are stored next to them. The Keras golden `.keras` files are also loaded by seqc, trained one
   step and saved again.
2. Here: Keras's `load_model` of each seqc `.keras` and `.h5` predicts what seqc predicted; a model built
   with Keras and `load_weights` of seqc's `.weights.h5` too; the optimizer state came along
   (iterations), and one more training step in Keras gives seqc's weights (the models without
   dropout). Exit status 1 if anything differs.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
import keras  # noqa: E402

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
from make_file_goldens import MODELS, build, compile_  # noqa: E402

SEQC_SIDE = r'''
import sys, json, numpy as np
sys.path.insert(0, ROOT); sys.path.insert(0, ROOT + "/tests")
import seqc.keras as keras
from test_keras_files import build, data, trained, MANIFEST, GOLDEN, MODELS
out = OUT
for name in MODELS:
    model = trained(name)
    model.save(f"{out}/{name}.keras")
    model.save_weights(f"{out}/{name}.weights.h5")
    model.save(f"{out}/{name}.h5")
    x, _ = data(name, 9, 11)
    xs, ys = data(name, 8, 12)
    arrays = {"x": x, "pred": model.predict(x, verbose=0), "xs": xs, "ys": ys,
              "iterations": np.array(model.optimizer.iterations)}
    model.train_on_batch(xs, ys)
    for i, w in enumerate(model.get_weights()):
        arrays[f"next_{i}"] = w
    # a Keras file loaded by seqc, trained a step, written again
    again = keras.models.load_model(GOLDEN / f"{name}.keras")
    again.train_on_batch(xs, ys)
    again.save(f"{out}/{name}_again.keras")
    arrays["pred_again"] = again.predict(x, verbose=0)
    np.savez(f"{out}/{name}.npz", **arrays)
# the other layer kinds with weights (and Lambda, a user layer with add_weight): written by seqc
from seqc.keras import layers as L
exec(EXTRA, globals())
rng = np.random.default_rng(5)
for name, (shape, make) in extra_models(keras, L).items():
    model = make()
    model.compile("adam", "mse")
    x = rng.normal(size=(6,) + shape).astype(np.float32)
    model.train_on_batch(x, np.zeros((6,) + model.output_shape[1:], np.float32))    # weights off their init
    model.save(f"{out}/x_{name}.keras")
    model.save_weights(f"{out}/x_{name}.weights.h5")
    np.savez(f"{out}/x_{name}.npz", x=x, pred=model.predict(x, verbose=0))
print("seqc side done")
'''

# models built the same way by seqc.keras (child process) and by Keras (here): `keras` and `L` are
# either's module; loaded here with load_model (safe_mode=False for the Lambda) and load_weights
EXTRA = r'''
class Scale(L.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="b")

    def call(self, x):
        return keras.ops.tanh(x * self.w + self.b)


def extra_models(keras, L):
    def seq(shape, layers):
        return lambda: keras.Sequential([keras.Input(shape)] + layers(), name="x")
    return {
        "conv2d_kinds": ((8, 8, 2), seq((8, 8, 2), lambda: [
            L.DepthwiseConv2D(3, depth_multiplier=2), L.PReLU(), L.SeparableConv2D(3, 3, padding="same"),
            L.LayerNormalization(), L.Conv2DTranspose(2, 3, strides=2), L.BatchNormalization(),
            L.UpSampling2D(interpolation="bilinear"), L.Flatten(), L.Dense(2)])),
        "conv1d_kinds": ((8, 3), seq((8, 3), lambda: [
            L.Conv1DTranspose(2, 3), L.ELU(), L.DepthwiseConv1D(2), L.SeparableConv1D(4, 3), L.LeakyReLU(),
            L.Permute((2, 1)), L.TimeDistributed(L.Dense(3)), L.Softmax(),
            L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="sum"),
            L.Bidirectional(L.SimpleRNN(2)), L.Dense(1)])),
        "lambda_user": ((5,), seq((5,), lambda: [
            L.Dense(4), L.Lambda(lambda t: t * 0.5 + 1.0), Scale(), L.Dense(2)])),
    }
'''


def main():
    out = pathlib.Path(tempfile.mkdtemp(prefix="seqc-files-"))
    python = os.environ.get("SEQC_PYTHON") or shutil.which("python3")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PYTHONPATH"] = str(ROOT)
    code = f"ROOT = {str(ROOT)!r}; OUT = {str(out)!r}; EXTRA = {EXTRA!r}\n" + SEQC_SIDE
    r = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        return 1
    results, bad = [], 0
    for name in MODELS:
        z = np.load(out / f"{name}.npz")
        loaded = keras.models.load_model(out / f"{name}.keras")
        d1 = float(np.abs(loaded.predict(z["x"], verbose=0) - z["pred"]).max())
        fresh = build(name)
        compile_(fresh, name)
        fresh.load_weights(out / f"{name}.weights.h5")
        d2 = float(np.abs(fresh.predict(z["x"], verbose=0) - z["pred"]).max())
        it = int(loaded.optimizer.iterations.numpy())
        note = None
        try:
            legacy = keras.models.load_model(out / f"{name}.h5")
            it4 = int(legacy.optimizer.iterations.numpy())
        except ValueError as e:
            # Keras 3.15 cannot compile from its own legacy training_config when the loss is a
            # string like "mse" (it fails the same way on the file its own model.save('x.h5')
            # writes): the model and weights without compiling then
            legacy, it4 = keras.models.load_model(out / f"{name}.h5", compile=False), int(z["iterations"])
            note = f"legacy .h5 loaded with compile=False (Keras: {e})"
        d4 = float(np.abs(legacy.predict(z["x"], verbose=0) - z["pred"]).max())
        again = keras.models.load_model(out / f"{name}_again.keras")
        d3 = float(np.abs(again.predict(z["x"], verbose=0) - z["pred_again"]).max())
        line = {"model": name, "load_model max|diff|": d1, "load_weights max|diff|": d2,
                "round trip max|diff|": d3, "legacy .h5 max|diff|": d4, "iterations": it, "legacy iterations": it4}
        if note:
            line["note"] = note
        ok = d1 <= 1e-5 and d2 <= 1e-5 and d3 <= 1e-5 and d4 <= 1e-5 and it == it4 == int(z["iterations"])
        if "Dropout" not in [c for c, _ in MODELS[name][2]]:
            loaded.train_on_batch(z["xs"], z["ys"])       # resumes from seqc's optimizer state
            rel = max(float(np.abs(w - z[f"next_{i}"]).max() / max(np.abs(z[f"next_{i}"]).max(), 1e-6))
                      for i, w in enumerate(loaded.get_weights()))
            line["next step max rel diff"] = rel
            ok = ok and rel <= 1e-4
        line["ok"] = ok
        bad += not ok
        results.append(line)
        print(json.dumps(line))
    from keras import layers as L
    space = {"keras": keras, "L": L}
    exec(EXTRA, space)
    for name, (shape, make) in space["extra_models"](keras, L).items():
        z = np.load(out / f"x_{name}.npz")
        loaded = keras.models.load_model(out / f"x_{name}.keras", safe_mode=False,
                                         custom_objects={"Scale": space["Scale"]})
        d1 = float(np.abs(loaded.predict(z["x"], verbose=0) - z["pred"]).max())
        fresh = make()
        fresh.load_weights(out / f"x_{name}.weights.h5")
        d2 = float(np.abs(fresh.predict(z["x"], verbose=0) - z["pred"]).max())
        line = {"model": name, "layers": [type(l).__name__ for l in fresh.layers],
                "load_model max|diff|": d1, "load_weights max|diff|": d2}
        line["ok"] = d1 <= 1e-5 and d2 <= 1e-5
        bad += not line["ok"]
        print(json.dumps(line))
    shutil.rmtree(out)
    print("all ok" if not bad else f"{bad} FAILED")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
