"""Keras model files written by real Keras 3 (tests/test_keras_files.py reads them without Keras).

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_file_goldens.py

Writes tests/golden/files/:
- `<model>.keras` (compiled, trained a few steps: optimizer state in it) and
  `<model>.weights.h5` (save_weights of the same state) for small models: an MLP, a
  convnet, an LSTM model, an Embedding + GRU model, and the later layer kinds (a BatchNorm
  convnet, a Bidirectional LSTM over a masked Embedding, a TimeDistributed seq2seq, a
  Conv2DTranspose autoencoder, depthwise / separable / PReLU / LayerNormalization);
- `lambda.keras` and `user_layer.keras` (+ .npz): a Lambda and a user Layer subclass;
- `<model>_keras2.h5`: the same weights in Keras 2's weights layout (`layer_names`,
  `weight_names`, `layer/kernel:0`, LSTM/GRU cell sub-paths), written with h5py and checked
  here by loading it into Keras 3;
- `mlp_legacy.h5` (Keras 3's own legacy full-model writer) and `lstm_keras2_model.h5` (a
  Keras-2 full-model file: Keras 2's model_config / training_config, written with h5py, checked
  by Keras 3's load_model);
- `<model>.npz`: the inputs, Keras's predictions of the saved state, and for the resumed
  models the 3 steps Keras trains after load_model (batches, losses, weights after);
- `files_manifest.json`: each model's layers (class + constructor arguments, so the test can
  build it with seqc.keras) and compile arguments, and Keras's get_config() of every layer class
  seqc supports; `<model>_expected.json`: what Keras writes for the model: the `.weights.h5`
  structure (groups, attributes, datasets' shapes and dtypes; trained and untrained), config.json
  and the legacy `.h5` structure.
"""
import json
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

OUT = pathlib.Path(__file__).parent / "files"
F32 = np.float32

# name -> (input shape, integer input?, [(class, kwargs)], compile kwargs (as JSON), labels)
MODELS = {
    "mlp": ((6,), False, [("Dense", {"units": 8, "activation": "relu", "name": "hidden"}),
                          ("Dropout", {"rate": 0.25, "name": "drop"}),
                          ("Dense", {"units": 3, "activation": "softmax", "name": "out"})],
            {"optimizer": ["Adam", {"learning_rate": 0.01}], "loss": "categorical_crossentropy",
             "metrics": ["accuracy"]}, "onehot3"),
    "convnet": ((7, 7, 2), False, [("Conv2D", {"filters": 4, "kernel_size": 3, "activation": "relu", "name": "conv"}),
                                   ("MaxPooling2D", {"name": "pool"}),
                                   ("Flatten", {"name": "flat"}),
                                   ("Dense", {"units": 3, "activation": "softmax", "name": "out"})],
                {"optimizer": ["Adam", {"learning_rate": 0.01, "amsgrad": True}],
                 "loss": "categorical_crossentropy", "metrics": ["accuracy"]}, "onehot3"),
    "lstm": ((5, 3), False, [("LSTM", {"units": 4, "name": "lstm_a"}),
                             ("Dense", {"units": 1, "name": "out"})],
             {"optimizer": ["RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}],
              "loss": "mse", "metrics": ["mae"]}, "real1"),
    "emb_gru": ((6,), True, [("Embedding", {"input_dim": 20, "output_dim": 4, "name": "emb"}),
                             ("GRU", {"units": 5, "name": "gru_a"}),
                             ("Dense", {"units": 2, "activation": "softmax", "name": "out"})],
                {"optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}],
                 "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}, "sparse2"),
    # the layer kinds added since: a convnet with BatchNormalization, a bidirectional LSTM over a
    # masked embedding, a TimeDistributed sequence-to-sequence model, a Conv2DTranspose autoencoder
    # (no bias before BatchNormalization: its gradient is zero up to rounding, which Adam would amplify)
    "bn_convnet": ((6, 6, 2), False, [("Conv2D", {"filters": 3, "kernel_size": 3, "use_bias": False, "name": "conv"}),
                                      ("BatchNormalization", {"name": "bn"}),
                                      ("ReLU", {"name": "relu"}),
                                      ("MaxPooling2D", {"name": "pool"}),
                                      ("Flatten", {"name": "flat"}),
                                      ("Dense", {"units": 3, "activation": "softmax", "name": "out"})],
                   {"optimizer": ["Adam", {"learning_rate": 0.01}], "loss": "categorical_crossentropy",
                    "metrics": ["accuracy"]}, "onehot3"),
    "bilstm": ((6,), True, [("Embedding", {"input_dim": 20, "output_dim": 4, "mask_zero": True, "name": "emb"}),
                            ("Bidirectional", {"layer": {"class_name": "LSTM",
                                                         "config": {"units": 3, "name": "lstm_a"}},
                                               "name": "bidi"}),
                            ("Dense", {"units": 2, "activation": "softmax", "name": "out"})],
               {"optimizer": ["RMSprop", {"learning_rate": 0.01}], "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"]}, "sparse2"),
    "td_seq2seq": ((5, 3), False, [("LSTM", {"units": 4, "return_sequences": True, "name": "enc"}),
                                   ("TimeDistributed", {"layer": {"class_name": "Dense",
                                                                  "config": {"units": 2, "name": "proj"}},
                                                        "name": "td"})],
                   {"optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9}], "loss": "mse",
                    "metrics": ["mae"]}, "seq2"),
    "conv_ae": ((6, 6, 1), False, [("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same",
                                               "activation": "relu", "name": "down"}),
                                   ("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2,
                                                        "padding": "same", "name": "up"})],
                {"optimizer": ["Adam", {"learning_rate": 0.01}], "loss": "mse", "metrics": ["mae"]}, "self"),
    "conv_kinds": ((6, 6, 2), False, [("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "name": "dw"}),
                                      ("PReLU", {"name": "prelu"}),
                                      ("SeparableConv2D", {"filters": 3, "kernel_size": 3, "padding": "same",
                                                           "name": "sep"}),
                                      ("LayerNormalization", {"name": "ln"}),
                                      ("Flatten", {"name": "flat"}),
                                      ("Dense", {"units": 1, "name": "out"})],
                   {"optimizer": ["Adam", {"learning_rate": 0.01}], "loss": "mse", "metrics": ["mae"]}, "real1"),
}


def _opt_mlp(optimizer, kwargs):
    """A small MLP trained with `optimizer`: its state in Keras's files (slots, Nadam's u_product)."""
    return ((5,), False, [("Dense", {"units": 6, "activation": "tanh", "name": "hidden"}),
                          ("Dense", {"units": 1, "name": "out"})],
            {"optimizer": [optimizer, kwargs], "loss": "mse", "metrics": ["mae"]}, "real1")


MODELS.update({f"opt_{o.lower()}": _opt_mlp(o, kw) for o, kw in (
    ("Nadam", {"learning_rate": 0.01}), ("Adamax", {"learning_rate": 0.01}), ("Adadelta", {"learning_rate": 0.5}),
    ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.01}), ("Lion", {"learning_rate": 0.003}))})
RESUMED = ("convnet", "lstm", "bn_convnet", "td_seq2seq", "conv_ae", "conv_kinds", "opt_nadam", "opt_adamax",
           "opt_adadelta", "opt_ftrl", "opt_lion")   # deterministic continued trajectories
BATCH, STEPS, RESUME_STEPS = 8, 3, 3


def data(name, n, seed):
    shape, integer, _, _, labels = MODELS[name]
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 20, (n,) + shape).astype(np.int32) if integer else rng.normal(size=(n,) + shape).astype(F32)
    if labels == "onehot3":
        y = np.eye(3, dtype=F32)[rng.integers(0, 3, n)]
    elif labels == "sparse2":
        y = rng.integers(0, 2, n).astype(np.int32)
    elif labels == "seq2":
        y = rng.normal(size=(n, shape[0], 2)).astype(F32)
    elif labels == "self":
        y = x.copy()
    else:
        y = rng.normal(size=(n, 1)).astype(F32)
    return x, y


def build(name):
    shape, integer, layers, comp, _ = MODELS[name]
    model = keras.Sequential([keras.Input(shape, dtype="int32" if integer else "float32", name="input")]
                             + [make_layer(cls, kw) for cls, kw in layers], name=f"seq_{name}")
    return model


def compile_(model, name):
    comp = MODELS[name][3]
    cls, kw = comp["optimizer"]
    model.compile(getattr(keras.optimizers, cls)(**kw), comp["loss"], metrics=comp["metrics"])


def structure(path_or_file):
    """Every group and dataset of an HDF5 file: path -> attributes, shape, dtype."""
    out = {}

    def visit(name, obj):
        attrs = {k: attr_value(v) for k, v in obj.attrs.items()}
        if isinstance(obj, h5py.Dataset):
            out[name] = {"kind": "dataset", "attrs": attrs, "shape": list(obj.shape), "dtype": str(obj.dtype)}
        else:
            out[name] = {"kind": "group", "attrs": attrs}
    with h5py.File(path_or_file, "r") as f:
        f.visititems(visit)
        out["/"] = {"kind": "group", "attrs": {k: attr_value(v) for k, v in f.attrs.items()}}
    return out


def attr_value(v):
    """An HDF5 attribute as JSON: bytes decoded, arrays as lists (of str for byte strings)."""
    if isinstance(v, bytes):
        return v.decode()
    if hasattr(v, "tolist"):
        return [x.decode() if isinstance(x, bytes) else x for x in v.tolist()] if np.ndim(v) else v.tolist()
    return v


def strip_ids(obj):
    if isinstance(obj, dict):
        return {k: strip_ids(v) for k, v in obj.items() if k != "shared_object_id"}
    if isinstance(obj, list):
        return [strip_ids(v) for v in obj]
    return obj


def keras2_weight_names(layer):
    """Keras 2 (tf.keras 2.x) names of a layer's weights."""
    cls = type(layer).__name__
    if cls in ("LSTM", "GRU", "SimpleRNN"):
        cell = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}[cls]
        return [f"{layer.name}/{cell}/{r}:0" for r in ("kernel", "recurrent_kernel", "bias")][:len(layer.weights)]
    if cls == "Embedding":
        return [f"{layer.name}/embeddings:0"]
    if cls not in ("Dense", "Conv1D", "Conv2D"):     # the layers added since: their variable paths
        return [f"{w.path}:0" for w in layer.weights]
    return [f"{layer.name}/{r}:0" for r in ("kernel", "bias")][:len(layer.weights)]


def write_keras2_weights(group, model):
    """Keras 2's weights layout into an h5py group (as tf.keras 2.x's save_weights('x.h5'))."""
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = b"2.15.0"
    group.attrs["layer_names"] = np.array([l.name.encode() for l in model.layers])
    for layer in model.layers:
        g = group.create_group(layer.name)
        names = keras2_weight_names(layer) if layer.weights else []
        g.attrs["weight_names"] = np.array([n.encode() for n in names])
        for n, w in zip(names, layer.get_weights()):
            g.create_dataset(n, data=w)


KERAS2_LSTM_CONFIG = {  # tf.keras 2.x style model_config (Keras 3 refuses the LSTM key time_major: left out)
    "class_name": "Sequential",
    "config": {"name": "seq_lstm", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 5, 3], "dtype": "float32",
                                                "sparse": False, "ragged": False, "name": "input"}},
        {"class_name": "LSTM", "config": {
            "name": "lstm_a", "trainable": True, "dtype": "float32", "return_sequences": False,
            "return_state": False, "go_backwards": False, "stateful": False, "unroll": False,
            "units": 4, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "unit_forget_bias": True,
            "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None,
            "bias_constraint": None, "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 2}},
        {"class_name": "Dense", "config": {
            "name": "out", "trainable": True, "dtype": "float32", "units": 1, "activation": "linear",
            "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None}}]}}
KERAS2_LSTM_TRAINING = {
    "loss": "mse", "metrics": [[{"class_name": "MeanMetricWrapper", "config": {"name": "mae", "dtype": "float32",
                                                                              "fn": "mean_absolute_error"}}]],
    "weighted_metrics": None, "loss_weights": None,
    "optimizer_config": {"class_name": "RMSprop", "config": {
        "name": "RMSprop", "learning_rate": 0.01, "decay": 0.0, "rho": 0.9, "momentum": 0.5, "epsilon": 1e-07,
        "centered": True}}}


# every layer class seqc supports, with default and non-default arguments: Keras's get_config()
LAYER_CASES = [
    ("Dense", {"units": 3}), ("Dense", {"units": 2, "activation": "tanh", "use_bias": False,
                                        "kernel_initializer": "he_normal", "bias_initializer": "ones"}),
    ("Activation", {"activation": "relu"}), ("Dropout", {"rate": 0.2}), ("Dropout", {"rate": 0.5, "seed": 3}),
    ("Conv1D", {"filters": 2, "kernel_size": 3}),
    ("Conv1D", {"filters": 2, "kernel_size": 2, "padding": "causal", "dilation_rate": 2, "activation": "relu"}),
    ("Conv2D", {"filters": 2, "kernel_size": 3}), ("Conv2D", {"filters": 4, "kernel_size": (2, 3), "strides": 2,
                                                              "padding": "same"}),
    ("MaxPooling1D", {}), ("MaxPooling2D", {}), ("MaxPooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}),
    ("AveragePooling1D", {"pool_size": 2}), ("AveragePooling2D", {"pool_size": (2, 2)}),
    ("GlobalAveragePooling1D", {}), ("GlobalMaxPooling1D", {}), ("GlobalAveragePooling2D", {"keepdims": True}),
    ("GlobalMaxPooling2D", {}), ("Flatten", {}), ("Reshape", {"target_shape": (2, 3)}),
    ("ZeroPadding2D", {}), ("ZeroPadding2D", {"padding": ((1, 2), (0, 1))}),
    ("Embedding", {"input_dim": 5, "output_dim": 2}),
    ("LSTM", {"units": 2}), ("LSTM", {"units": 3, "return_sequences": True, "go_backwards": True,
                                      "unit_forget_bias": False, "recurrent_activation": "hard_sigmoid"}),
    ("GRU", {"units": 2}), ("GRU", {"units": 2, "reset_after": False, "dropout": 0.1}),
    ("SimpleRNN", {"units": 2}), ("SimpleRNN", {"units": 2, "activation": "relu", "stateful": True}),
    ("RepeatVector", {"n": 2}), ("UpSampling1D", {}), ("UpSampling2D", {"size": (2, 3)}),
    ("Cropping1D", {}), ("Cropping1D", {"cropping": (2, 0)}), ("Cropping2D", {"cropping": 1}),
    # the layer classes added since (a nested layer argument is {"class_name", "config"}: kwargs)
    ("BatchNormalization", {}), ("BatchNormalization", {"momentum": 0.9, "epsilon": 1e-3, "center": False,
                                                        "scale": False, "axis": 1}),
    ("LayerNormalization", {}), ("LayerNormalization", {"epsilon": 1e-5, "center": False, "scale": False}),
    ("Normalization", {}), ("Normalization", {"axis": None}),
    ("Normalization", {"axis": [1, 2], "mean": [1.0, 2.0], "variance": [1.0, 4.0], "invert": True}),
    ("ReLU", {}), ("ReLU", {"max_value": 6.0, "negative_slope": 0.1, "threshold": 0.5}),
    ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.1}), ("PReLU", {}), ("PReLU", {"shared_axes": [1]}),
    ("ELU", {}), ("ELU", {"alpha": 0.5}), ("Softmax", {}), ("Softmax", {"axis": 1}),
    ("GaussianNoise", {"stddev": 0.1}), ("GaussianNoise", {"stddev": 0.2, "seed": 4}),
    ("GaussianDropout", {"rate": 0.2}), ("AlphaDropout", {"rate": 0.1}),
    ("AlphaDropout", {"rate": 0.1, "seed": 2}),
    ("SpatialDropout1D", {"rate": 0.2}), ("SpatialDropout2D", {"rate": 0.3, "seed": 1}),
    ("ActivityRegularization", {}), ("ActivityRegularization", {"l1": 0.01, "l2": 0.02}),
    ("Permute", {"dims": [2, 1]}), ("Masking", {}), ("Masking", {"mask_value": -1.0}),
    ("Embedding", {"input_dim": 6, "output_dim": 3, "mask_zero": True}),
    ("TimeDistributed", {"layer": {"class_name": "Dense", "config": {"units": 3, "name": "inner"}}}),
    ("TimeDistributed", {"layer": {"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 3,
                                                                       "name": "inner"}}}),
    ("Bidirectional", {"layer": {"class_name": "LSTM", "config": {"units": 3, "name": "inner"}}}),
    ("Bidirectional", {"layer": {"class_name": "GRU", "config": {"units": 2, "return_sequences": True,
                                                                  "name": "inner"}}, "merge_mode": "sum"}),
    ("Bidirectional", {"layer": {"class_name": "SimpleRNN", "config": {"units": 2, "name": "inner"}},
                       "merge_mode": "mul",
                       "backward_layer": {"class_name": "SimpleRNN", "config": {"units": 2, "go_backwards": True,
                                                                                "name": "back"}}}),
    ("Conv1DTranspose", {"filters": 2, "kernel_size": 3}),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3}),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": (2, 3), "strides": 2, "padding": "same",
                         "activation": "relu"}),
    ("DepthwiseConv1D", {"kernel_size": 3}), ("DepthwiseConv2D", {"kernel_size": 3}),
    ("DepthwiseConv2D", {"kernel_size": 2, "depth_multiplier": 2, "strides": 2, "use_bias": False}),
    ("SeparableConv1D", {"filters": 2, "kernel_size": 3}), ("SeparableConv2D", {"filters": 2, "kernel_size": 3}),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2, "padding": "same",
                         "activation": "relu"}),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}),
    ("Convolution1D", {"filters": 2, "kernel_size": 3}), ("Convolution2D", {"filters": 2, "kernel_size": 3}),
]
KERAS1_NAMES = {"Convolution1D": "Conv1D", "Convolution2D": "Conv2D"}   # Keras 3 keeps them as aliases


class Scale(L.Layer):
    """A user layer (tests/test_keras_files.py defines the same with seqc.keras)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="b")

    def call(self, x):
        return keras.ops.tanh(x * self.w + self.b)


def make_layer(cls, kwargs, **extra):
    """A Keras layer from a LAYER_CASES entry (nested layers given as {"class_name", "config"})."""
    kw = {k: make_layer(v["class_name"], v["config"]) if isinstance(v, dict) and "class_name" in v else v
          for k, v in kwargs.items()}
    return getattr(L, cls)(**kw, **extra)


def layer_configs():
    out = []
    for cls, kwargs in LAYER_CASES:
        cfg = make_layer(cls, kwargs, name="layer").get_config()
        out.append({"class": cls, "kwargs": strip_ids(json.loads(json.dumps(kwargs))),
                    "config": strip_ids(json.loads(json.dumps(keras.saving.serialize_keras_object(cfg))))})
    return out


def main():
    OUT.mkdir(exist_ok=True)
    manifest, checks = {}, []
    manifest["_layer_configs"] = layer_configs()
    for name, (shape, integer, layers, comp, labels) in MODELS.items():
        keras.utils.set_random_seed(1)
        model = build(name)
        compile_(model, name)
        x, y = data(name, BATCH * STEPS, 0)
        for s in range(STEPS):
            model.train_on_batch(x[s * BATCH:(s + 1) * BATCH], y[s * BATCH:(s + 1) * BATCH])
        xp, _ = data(name, 10, 1)
        pred = model.predict(xp, verbose=0)
        model.save(OUT / f"{name}.keras")
        model.save_weights(OUT / f"{name}.weights.h5")
        arrays = {"x": xp, "pred": pred}
        for i, w in enumerate(model.get_weights()):
            arrays[f"w_{i}"] = w
        # Keras 2's weights layout, written by hand, loaded by Keras 3 into a fresh model
        with h5py.File(OUT / f"{name}_keras2.h5", "w") as f:
            write_keras2_weights(f, model)
        fresh = build(name)
        fresh.load_weights(OUT / f"{name}_keras2.h5")
        checks.append((f"{name}: Keras 3 loads the Keras-2 layout file",
                       np.array_equal(fresh.predict(xp, verbose=0), pred)))
        # load_model gives the same predictions
        loaded = keras.models.load_model(OUT / f"{name}.keras")
        checks.append((f"{name}: Keras 3 reloads its .keras", np.array_equal(loaded.predict(xp, verbose=0), pred)))
        if name in RESUMED:       # Keras continues training from the file: the trajectory to match
            xr, yr = data(name, BATCH * RESUME_STEPS, 2)
            losses = [float(np.atleast_1d(loaded.train_on_batch(xr[s * BATCH:(s + 1) * BATCH],
                                                                yr[s * BATCH:(s + 1) * BATCH]))[0])
                      for s in range(RESUME_STEPS)]
            arrays.update(xr=xr, yr=yr, resume_losses=np.array(losses, F32))
            for i, w in enumerate(loaded.get_weights()):
                arrays[f"resumed_{i}"] = w
            arrays["resumed_iterations"] = np.array(int(loaded.optimizer.iterations.numpy()))
        np.savez_compressed(OUT / f"{name}.npz", **arrays)
        with __import__("zipfile").ZipFile(OUT / f"{name}.keras") as z:
            config = strip_ids(json.loads(z.read("config.json")))
            with open(OUT / "_tmp.h5", "wb") as fh:
                fh.write(z.read("model.weights.h5"))
        model.save(OUT / "_tmp_legacy.h5")       # Keras's legacy full-model writer: its structure
        legacy = structure(OUT / "_tmp_legacy.h5")
        for key in ("model_config", "training_config"):
            legacy["/"]["attrs"][key] = strip_ids(json.loads(legacy["/"]["attrs"][key]))
        os.remove(OUT / "_tmp_legacy.h5")
        untrained = build(name)                   # compiled, never trained: the optimizer is not built
        compile_(untrained, name)
        untrained.save_weights(OUT / "_tmp_untrained.weights.h5")
        manifest[name] = {
            "input_shape": list(shape), "integer_input": integer,
            "layers": [{"class": c, "kwargs": kw} for c, kw in layers], "compile": comp, "labels": labels,
            "model_name": f"seq_{name}", "input_name": "input", "expected": f"{name}_expected.json"}
        expected = {      # what Keras writes for this model: seqc's files must have the same
            "weights_h5": structure(OUT / f"{name}.weights.h5"),
            "keras_weights_h5": structure(OUT / "_tmp.h5"), "config": config, "legacy_h5": legacy,
            "untrained_weights_h5": structure(OUT / "_tmp_untrained.weights.h5")}
        with open(OUT / f"{name}_expected.json", "w") as fh:
            json.dump(expected, fh, indent=1)
            fh.write("\n")
        os.remove(OUT / "_tmp.h5")
        os.remove(OUT / "_tmp_untrained.weights.h5")
    # legacy full-model files: Keras 3's own .h5 writer, and a Keras 2 file written by hand
    keras.utils.set_random_seed(1)
    mlp = keras.models.load_model(OUT / "mlp.keras")
    mlp.save(OUT / "mlp_legacy.h5")
    again = keras.models.load_model(OUT / "mlp_legacy.h5")
    xp = np.load(OUT / "mlp.npz")["x"]
    checks.append(("Keras 3 reloads its legacy .h5", np.array_equal(again.predict(xp, verbose=0),
                                                                   np.load(OUT / "mlp.npz")["pred"])))
    lstm = keras.models.load_model(OUT / "lstm.keras")
    with h5py.File(OUT / "lstm_keras2_model.h5", "w") as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["model_config"] = json.dumps(KERAS2_LSTM_CONFIG).encode()
        f.attrs["training_config"] = json.dumps(KERAS2_LSTM_TRAINING).encode()
        write_keras2_weights(f.create_group("model_weights"), lstm)
    k2 = keras.models.load_model(OUT / "lstm_keras2_model.h5", compile=False)
    z = np.load(OUT / "lstm.npz")
    checks.append(("Keras 3 loads the hand-written Keras-2 full-model .h5",
                   np.array_equal(k2.predict(z["x"], verbose=0), z["pred"])))
    # a Lambda layer: Keras writes the lambda's marshalled code; load_model needs safe_mode=False
    keras.utils.set_random_seed(1)
    lam = keras.Sequential([keras.Input((4,), name="input"), L.Dense(3, name="d"),
                            L.Lambda(lambda t: t * 0.5 + 1.0, name="lam"), L.Dense(2, name="out")], name="seq_lambda")
    lam.save(OUT / "lambda.keras")
    xl = np.random.default_rng(3).normal(size=(5, 4)).astype(F32)
    np.savez_compressed(OUT / "lambda.npz", x=xl, pred=lam.predict(xl, verbose=0))
    again = keras.models.load_model(OUT / "lambda.keras", safe_mode=False)
    checks.append(("Keras 3 reloads its Lambda .keras with safe_mode=False",
                   np.array_equal(again.predict(xl, verbose=0), lam.predict(xl, verbose=0))))
    try:
        keras.models.load_model(OUT / "lambda.keras")
        checks.append(("Keras 3 refuses the Lambda .keras in safe mode", False))
    except ValueError as e:
        checks.append(("Keras 3 refuses the Lambda .keras in safe mode", "safe_mode=False" in str(e)))
    # a user's own Layer subclass (add_weight in build): Keras writes it under its module and
    # registered name; loaded with custom_objects
    keras.utils.set_random_seed(1)
    user = keras.Sequential([keras.Input((5,), name="input"), L.Dense(4, name="d"), Scale(name="s"),
                             L.Dense(2, name="out")], name="seq_user")
    user.set_weights([w + 0.1 * (i + 1) for i, w in enumerate(user.get_weights())])
    user.save(OUT / "user_layer.keras")
    xu = np.random.default_rng(4).normal(size=(5, 5)).astype(F32)
    np.savez_compressed(OUT / "user_layer.npz", x=xu, pred=user.predict(xu, verbose=0))
    again = keras.models.load_model(OUT / "user_layer.keras", custom_objects={"Scale": Scale})
    checks.append(("Keras 3 reloads its user-layer .keras with custom_objects",
                   np.array_equal(again.predict(xu, verbose=0), user.predict(xu, verbose=0))))
    manifest["_meta"] = {"keras": keras.__version__, "backend": keras.backend.backend(), "batch": BATCH,
                         "steps": STEPS, "resume_steps": RESUME_STEPS, "resumed": list(RESUMED)}
    with open(OUT / "files_manifest.json", "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    bad = [c for c in checks if not c[1]]
    for c in checks:
        print(("ok    " if c[1] else "FAILED"), c[0])
    sizes = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(list(OUT.iterdir()))} files, {sizes / 1e3:.0f} KB")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
