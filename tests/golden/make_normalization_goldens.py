"""Golden reference data for Keras's Normalization layer, from real Keras 3 (TensorFlow backend:
Keras's adapt() of an iterable of batches imports TensorFlow whatever the backend).

    KERAS_BACKEND=tensorflow /work/venv-tf/bin/python tests/golden/make_normalization_goldens.py

Writes tests/golden/normalization_manifest.json, tests/golden/normalization_<case>.npz and
tests/golden/normalization_keras_file.keras (deleting only normalization_* first). Each case: a
small model with a Normalization layer, its statistics given to the constructor or learned by
adapt() on stored data (an array, or a list of batches); the adapted weights; then the other
weights from a fixed numpy seed, the Keras output for a batch and five train_on_batch steps of
SGD on mse (losses and final weights; a Normalization after a Dense passes the gradient back
through its backward; the zero-variance case compares its output only). Every Keras output of the layer is also checked against numpy.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_common import Goldens, weights_dict  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
assert keras.backend.backend() == "tensorflow", keras.backend.backend()

OUT = Path(__file__).resolve().parent
PREFIX = "normalization_"
F32 = np.float32
G = Goldens(OUT, PREFIX)


def norm(**config):
    return {"class": "Normalization", "config": config}


def dense(units, **config):
    return {"class": "Dense", "config": {"units": units, **config}}


FLAT = {"class": "Flatten", "config": {}}

# (case, input shape, layers, adapt: None or (data shape, as a list of batches?))
CASES = [
    ("adapt_last", (9,), [norm(axis=-1), dense(4, activation="relu"), dense(1)], ((40, 9), False)),
    ("adapt_none", (1,), [norm(axis=None), dense(1)], ((40,), False)),
    ("adapt_steps", (5, 4), [norm(axis=1), FLAT, dense(2)], ((30, 5, 4), False)),
    ("adapt_axes", (3, 4, 2), [norm(axis=[1, 2]), FLAT, dense(2)], ((25, 3, 4, 2), False)),
    ("adapt_batches", (6,), [norm(), dense(3)], ((3, 16, 6), True)),
    ("const", (3,), [norm(mean=[1.0, -2.0, 3.0], variance=[4.0, 0.5, 0.25]), dense(2)], None),
    # a zero variance: the std is Keras's epsilon, 1e-7 (the output only: training would diverge)
    ("const_zero_variance", (3,), [norm(mean=[1.0, -2.0, 0.5], variance=[4.0, 0.0, 0.25]), dense(2)], None),
    ("const_scalar", (2, 3), [norm(axis=-1, mean=0.5, variance=2.0), FLAT, dense(2)], None),
    ("invert", (4,), [norm(invert=True, mean=[2.0], variance=[9.0]), dense(2)], None),
    ("middle_const", (6,), [dense(5), norm(mean=[0.1, 0.2, -0.3, 0.0, 1.0], variance=[1.0, 2.0, 0.5, 3.0, 0.4]),
                            dense(2)], None),
    ("middle_adapt", (6,), [dense(5), norm(), dense(2)], ((20, 5), False)),
    ("middle_invert", (6,), [dense(5), norm(invert=True, mean=1.5, variance=0.7), dense(2)], None),
]


def numpy_norm(layer, h):
    """The layer's formula in numpy, from its broadcast mean and variance."""
    mean, var = np.asarray(layer.mean), np.asarray(layer.variance)
    sd = np.maximum(np.sqrt(var), F32(keras.config.epsilon()))
    return h * sd + mean if layer.invert else (h - mean) / sd


def main():
    for f in OUT.glob(f"{PREFIX}*"):
        f.unlink()
    for idx, (name, in_shape, layers, adapt) in enumerate(CASES):
        case = PREFIX + name
        rng = np.random.default_rng(8000 + idx)
        built = [getattr(keras.layers, l["class"])(**l["config"]) for l in layers]
        at = next(i for i, l in enumerate(layers) if l["class"] == "Normalization")
        arrays = {}
        if adapt is not None:
            shape, batched = adapt
            data = rng.normal(3.0, 4.0, shape)          # float64, as users' data often is
            arrays["adapt"] = data
            built[at].adapt(list(data) if batched else data)
        model = keras.Sequential([keras.Input(shape=in_shape)] + built)
        ws = model.get_weights()
        n_before = sum(len(l.get_weights()) for l in built[:at])
        n_norm = len(built[at].get_weights())
        ws = [w if n_before <= i < n_before + n_norm else rng.uniform(-0.5, 0.5, w.shape).astype(F32)
              for i, w in enumerate(ws)]
        model.set_weights(ws)
        x = rng.normal(0.5, 1.0, (4, *in_shape)).astype(F32)
        y = model.predict(x, batch_size=4, verbose=0)
        h = x if at == 0 else keras.Sequential([keras.Input(shape=in_shape)] + built[:at]).predict(x, verbose=0)
        got = built[at](h)
        got = np.asarray(got)
        want = numpy_norm(built[at], h)
        G.check(f"{case}: layer == numpy", got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-6),
                f"{got.shape} vs {want.shape}")
        target = rng.standard_normal(y.shape).astype(F32)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
        steps = 0 if name == "const_zero_variance" else 5
        losses = [float(model.train_on_batch(x, target)) for _ in range(steps)]
        G.check(f"{case}: training stays finite", np.all(np.isfinite(losses)), str(losses))
        arrays.update({"x": x, "y": y, "target": target, "losses": np.array(losses, F32)})
        arrays.update(weights_dict("w", ws))
        arrays.update(weights_dict("trained", model.get_weights()))
        G.add_case(case, {"input_shape": list(in_shape), "layers": layers, "at": at, "n_norm": n_norm,
                          "batched": bool(adapt and adapt[1]), "batch": 4, "optimizer": "SGD(0.05)",
                          "loss": "mse", "steps": steps}, arrays)
        if name == "adapt_last":      # a Keras file seqc must read: the adapted statistics included
            model.save(OUT / f"{PREFIX}keras_file.keras")
            np.save(OUT / f"{PREFIX}keras_file_y.npy", model.predict(x, verbose=0))
    sys.exit(G.finish({"keras": keras.__version__, "backend": keras.backend.backend(),
                       "tensorflow": tf.__version__}, "normalization_manifest.json"))


if __name__ == "__main__":
    main()
