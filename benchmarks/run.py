#!/usr/bin/env python
"""Benchmark seqc against idiomatic eager PyTorch on the same models, data and thread count.

    python benchmarks/run.py [MODEL ...] [--reps N] [--samples N] [--threads N] ...

With no MODEL every registered model runs (see MODELS below, and --list). The script works
under any interpreter that can import seqc (numpy, jinja2, cffi); PyTorch is used from the same
interpreter when it is importable there, otherwise from /work/refenv/bin/python (or
--torch-python). Each framework runs in its own worker process (a copy of this script started
with --worker), driven over a pipe, so the two never share a process, an OpenMP runtime or a
thread pool, and reps can alternate: seqc, torch, seqc, torch, ... See benchmarks/README.md.
"""
import os

# These two may slow numpy down; they are unset for this benchmark command only (and so for
# every process it starts), before numpy is imported anywhere.
for _key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_key, None)

import argparse
import importlib.util
import json
import math
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
REFENV_PYTHON = "/work/refenv/bin/python"
SEED = 1234


# ---------------------------------------------------------------------------------------------
# Model registry. A benchmark is: data (numpy, generated once by the driver and shared by both
# frameworks), a seqc.keras model, and the equivalent PyTorch model / loss / optimizer.
# ---------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, name, example, batch_size, make_data, seqc_build, seqc_xy, torch_build, torch_xy,
                 train_flops_per_sample=None, note="", rows=20480, samples=None, shuffle=True,
                 row_multiple=1, predict_batch=1):
        self.name = name
        self.example = example                  # examples/<example>: the script `seqc compile` times
        self.batch_size = batch_size
        self.rows = rows                        # default data set size
        self.samples = samples or rows          # default training samples per rep
        self.shuffle = shuffle                  # fit(shuffle=...); False: batches in order (stateful RNNs)
        self.row_multiple = row_multiple        # rows and samples are rounded down to a multiple of this
                                                # (a stateful model's fixed batch size)
        self.predict_batch = predict_batch      # rows per timed predict call (a stateful model: its batch)
        self.make_data = make_data              # (rows, seed) -> dict of numpy arrays
        self.seqc_build = seqc_build            # keras module -> compiled model: seqc.keras for seqc, real
                                                # Keras 3 (JAX or TensorFlow backend) for the Keras peers
        self.seqc_xy = seqc_xy                  # data -> (x, y) for model.fit (seqc and Keras)
        self.torch_build = torch_build          # torch -> TorchSetup
        self.torch_xy = torch_xy                # (torch, data) -> (X, Y) tensors
        self.train_flops_per_sample = train_flops_per_sample  # GEMM flops of one training sample
        self.note = note


class TorchSetup:
    def __init__(self, model, loss_fn, optimizer, correct, scheduler=None):
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.correct = correct                  # (output, yb) -> number of correct predictions (tensor),
                                                # or None when the Keras model has no accuracy metric
        self.scheduler = scheduler              # stepped once per batch, if given


def train_flops(macs):
    """Flops per sample of one training step, given the multiply-adds of each weighted layer's
    forward pass (in order): forward 2*MACs, weight gradient 2*MACs, input gradient 2*MACs except
    for the first layer (nothing needs the gradient of the data). So 3x forward, less the first
    layer's input gradient. Bias adds, activations, pooling and the optimizer are not counted."""
    return 2 * sum(macs) + 2 * sum(macs) + 2 * sum(macs[1:])


def dense_train_flops(dims):
    """GEMM flops per sample of one training step of an MLP with layer widths dims."""
    return train_flops([a * b for a, b in zip(dims[:-1], dims[1:])])


def layer_macs(input_shape, layers):
    """Forward multiply-adds per sample of each conv / dense layer of a Keras Sequential stack
    (channels last, 'valid' padding, stride 1 convolutions, pooling stride = pool size, floor).
    layers: ("conv", filters, kernel) with kernel an int (1D) or a tuple (2D), ("pool", size),
    ("flatten",), ("gap",) (global average pooling), ("dense", units)."""
    shape = tuple(input_shape)
    macs = []
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            filters, kernel = layer[1], layer[2]
            kernel = (kernel,) if isinstance(kernel, int) else tuple(kernel)
            spatial = tuple(n - k + 1 for n, k in zip(shape[:-1], kernel))
            taps = 1
            for k in kernel:
                taps *= k
            out = 1
            for n in spatial:
                out *= n
            macs.append(out * filters * taps * shape[-1])
            shape = spatial + (filters,)
        elif kind == "pool":
            size = (layer[1],) * (len(shape) - 1) if isinstance(layer[1], int) else tuple(layer[1])
            shape = tuple(n // p for n, p in zip(shape[:-1], size)) + (shape[-1],)
        elif kind == "flatten":
            n = 1
            for d in shape:
                n *= d
            shape = (n,)
        elif kind == "gap":
            shape = (shape[-1],)
        elif kind == "dense":
            macs.append(shape[-1] * layer[1])
            shape = shape[:-1] + (layer[1],)
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
    return macs


def seq_train_flops(input_shape, layers):
    """Flops per sample of one training step of a stack of ("embedding", dim) / ("lstm", units,
    return_sequences) / ("dense", units) layers on input_shape ((steps,) of token indices, or
    (steps, features)). An LSTM step is four gate GEMMs, [x_t, h_t-1] (in + units) x 4 units: forward
    2*(in+units)*4*units flops per step. As in train_flops: the weight gradient as much again, the
    input gradient (to x_t and to h_t-1) as much again, except the x_t part when x is the data (no
    gradient needed; after an Embedding it is needed, for the embedding's gradient). Embedding
    lookups, activations, the gate element-wise work, the loss and the optimizer are not counted."""
    shape = tuple(input_shape)
    total = 0
    need_input_grad = False                       # does this layer's input need a gradient?
    for layer in layers:
        kind = layer[0]
        if kind == "embedding":
            shape = shape + (layer[1],)
            need_input_grad = True
            continue
        if kind == "lstm":
            units, return_sequences = layer[1], layer[2]
            steps, features = shape
            x_macs, h_macs = steps * features * 4 * units, steps * units * 4 * units
            shape = (steps, units) if return_sequences else (units,)
        elif kind == "dense":
            units = layer[1]
            x_macs, h_macs = shape[-1] * units, 0
            shape = shape[:-1] + (units,)
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
        macs = x_macs + h_macs
        total += 2 * macs + 2 * macs + 2 * (h_macs + (x_macs if need_input_grad else 0))
        need_input_grad = True
    return total


def _tutorial_data(sample_shape, classes):
    """The Keras tutorial's random data: x uniform in [0, 1) of shape (rows, *sample_shape), in
    Keras's channels-last layout, and integer labels of shape (rows, 1)."""
    sample_shape = (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)

    def make(rows, seed):
        import numpy as np
        rng = np.random.default_rng(seed)
        return {"x": rng.random((rows,) + sample_shape, dtype=np.float32),
                "labels": rng.integers(0, classes, size=(rows, 1)).astype(np.int64)}
    return make


_tutorial_mlp_data = _tutorial_data


def _is_seqc(keras):
    return keras.__name__.startswith("seqc")


def _compile_args(keras):
    """Keras 3 compiles the training step with XLA (jit_compile) where it can; seqc compiles C."""
    return {} if _is_seqc(keras) else {"jit_compile": True}


def _seqc_mlp(hidden_out, activation, optimizer, loss):
    def build(keras):
        Dense, Dropout, Sequential = keras.layers.Dense, keras.layers.Dropout, keras.models.Sequential
        model = Sequential()
        model.add(Dense(64, activation="relu", input_dim=20))
        model.add(Dropout(0.5))
        model.add(Dense(64, activation="relu"))
        model.add(Dropout(0.5))
        model.add(Dense(hidden_out, activation=activation))
        model.compile(loss=loss, optimizer=optimizer(keras), metrics=["accuracy"], **_compile_args(keras))
        return model
    return build


def _seqc_sgd(keras):
    """The tutorial's SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True); Keras 3 spells the
    Keras 2 decay as an InverseTimeDecay schedule (lr / (1 + 1e-6 t), the same formula)."""
    if _is_seqc(keras):
        return keras.optimizers.SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=1e-6)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=0.9, nesterov=True)


def _torch_mlp_layers(nn, out):
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(64, out))


def _torch_mlp_softmax(torch):
    nn = torch.nn
    model = _torch_mlp_layers(nn, 10)             # logits; softmax is inside CrossEntropyLoss
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    # Keras 2's decay=1e-6: lr_t = lr / (1 + 1e-6 t), t counted in batches
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1.0 + 1e-6 * t))
    return TorchSetup(model, nn.CrossEntropyLoss(), opt,
                      correct=lambda out, yb: (out.argmax(1) == yb).sum(), scheduler=sched)


def _torch_mlp_binary(torch):
    nn = torch.nn
    model = _torch_mlp_layers(nn, 1)              # logit; sigmoid is inside BCEWithLogitsLoss
    # Keras RMSprop defaults: lr 0.001, rho 0.9, epsilon 1e-7 (added outside the sqrt in torch)
    opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
    return TorchSetup(model, nn.BCEWithLogitsLoss(), opt,
                      correct=lambda out, yb: ((out > 0).to(yb.dtype) == yb).sum())


def _seqc_xy_categorical(classes):
    def xy(d):
        import numpy as np
        return d["x"], np.eye(classes, dtype=np.float32)[d["labels"][:, 0]]     # one-hot, as to_categorical
    return xy


MODELS = {}


def register(bench):
    MODELS[bench.name] = bench
    return bench


register(Bench(
    "mlp_softmax", example="mlp_softmax.py", batch_size=128,
    make_data=_tutorial_mlp_data(20, 10),
    seqc_build=_seqc_mlp(10, "softmax", _seqc_sgd, "categorical_crossentropy"),
    seqc_xy=_seqc_xy_categorical(10),
    torch_build=_torch_mlp_softmax,
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]), torch.from_numpy(d["labels"][:, 0].copy())),
    train_flops_per_sample=dense_train_flops([20, 64, 64, 10]),
    note="Dense64-Dropout-Dense64-Dropout-Dense10 softmax, SGD nesterov, categorical CE"))

register(Bench(
    "mlp_binary", example="mlp_binary.py", batch_size=128,
    make_data=_tutorial_mlp_data(20, 2),
    seqc_build=_seqc_mlp(1, "sigmoid", lambda keras: "rmsprop", "binary_crossentropy"),
    seqc_xy=lambda d: (d["x"], d["labels"].astype("float32")),
    torch_build=_torch_mlp_binary,
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]), torch.from_numpy(d["labels"].astype("float32"))),
    train_flops_per_sample=dense_train_flops([20, 64, 64, 1]),
    note="Dense64-Dropout-Dense64-Dropout-Dense1 sigmoid, RMSprop, binary CE"))


# --- convnets: the tutorial's VGG-like convnet and its Conv1D sequence classifier ------------
# seqc gets channels-last data as Keras does (NHWC images, (N, steps, features) sequences); the
# PyTorch models are written as PyTorch users write them, channels first (NCHW, (N, C, L)), and
# get the same arrays permuted once, outside the timed region.

VGG_INPUT = (100, 100, 3)
VGG_LAYERS = [("conv", 32, (3, 3)), ("conv", 32, (3, 3)), ("pool", (2, 2)),
              ("conv", 64, (3, 3)), ("conv", 64, (3, 3)), ("pool", (2, 2)),
              ("flatten",), ("dense", 256), ("dense", 10)]
CONV1D_INPUT = (100, 100)                   # seq_length 100 steps x 100 features
CONV1D_LAYERS = [("conv", 64, 3), ("conv", 64, 3), ("pool", 3), ("conv", 128, 3), ("conv", 128, 3),
                 ("gap",), ("dense", 1)]


def _seqc_vgg(keras):
    L = keras.layers
    Conv2D, Dense, Dropout, Flatten, MaxPooling2D = L.Conv2D, L.Dense, L.Dropout, L.Flatten, L.MaxPooling2D
    model = keras.models.Sequential()
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=VGG_INPUT))
    model.add(Conv2D(32, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(256, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=_seqc_sgd(keras),    # no metrics, as in the tutorial
                  **_compile_args(keras))
    return model


def _torch_vgg(torch):
    nn = torch.nn
    h = ((VGG_INPUT[0] - 4) // 2 - 4) // 2        # 22: two valid 3x3 convs, 2x2 pool, twice
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(64 * h * h, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, 10))                        # logits; softmax is inside CrossEntropyLoss
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1.0 + 1e-6 * t))
    return TorchSetup(model, nn.CrossEntropyLoss(), opt, correct=None, scheduler=sched)


def _seqc_conv1d(keras):
    L = keras.layers
    Conv1D, Dense, Dropout, GlobalAveragePooling1D, MaxPooling1D = (
        L.Conv1D, L.Dense, L.Dropout, L.GlobalAveragePooling1D, L.MaxPooling1D)
    model = keras.models.Sequential()
    model.add(Conv1D(64, 3, activation="relu", input_shape=CONV1D_INPUT))
    model.add(Conv1D(64, 3, activation="relu"))
    model.add(MaxPooling1D(3))
    model.add(Conv1D(128, 3, activation="relu"))
    model.add(Conv1D(128, 3, activation="relu"))
    model.add(GlobalAveragePooling1D())
    model.add(Dropout(0.5))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"], **_compile_args(keras))
    return model


def _torch_conv1d(torch):
    nn = torch.nn
    features = CONV1D_INPUT[1]
    model = nn.Sequential(
        nn.Conv1d(features, 64, 3), nn.ReLU(), nn.Conv1d(64, 64, 3), nn.ReLU(), nn.MaxPool1d(3),
        nn.Conv1d(64, 128, 3), nn.ReLU(), nn.Conv1d(128, 128, 3), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(0.5),
        nn.Linear(128, 1))                         # logit; sigmoid is inside BCEWithLogitsLoss
    opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
    return TorchSetup(model, nn.BCEWithLogitsLoss(), opt,
                      correct=lambda out, yb: ((out > 0).to(yb.dtype) == yb).sum())


register(Bench(
    "vgg", example="vgg_like.py", batch_size=32, rows=320,
    make_data=_tutorial_data(VGG_INPUT, 10),
    seqc_build=_seqc_vgg,
    seqc_xy=_seqc_xy_categorical(10),
    torch_build=_torch_vgg,
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]).permute(0, 3, 1, 2).contiguous(),   # NHWC -> NCHW
                               torch.from_numpy(d["labels"][:, 0].copy())),
    train_flops_per_sample=train_flops(layer_macs(VGG_INPUT, VGG_LAYERS)),
    note="VGG-like: 2x(Conv2D 3x3 x2, MaxPool 2x2, Dropout), Dense256, Dense10 softmax on 100x100x3; "
         "SGD nesterov, categorical CE"))

register(Bench(
    "conv1d", example="conv1d_classifier.py", batch_size=16, rows=2000, samples=4000,
    make_data=_tutorial_data(CONV1D_INPUT, 2),
    seqc_build=_seqc_conv1d,
    seqc_xy=lambda d: (d["x"], d["labels"].astype("float32")),
    torch_build=_torch_conv1d,
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]).permute(0, 2, 1).contiguous(),      # (N, L, C) -> (N, C, L)
                               torch.from_numpy(d["labels"].astype("float32"))),
    train_flops_per_sample=train_flops(layer_macs(CONV1D_INPUT, CONV1D_LAYERS)),
    note="Conv1D 64x2, MaxPool 3, Conv1D 128x2, GlobalAvgPool, Dropout, Dense1 sigmoid on 100 steps x "
         "100 features; RMSprop, binary CE"))


# --- LSTMs: the tutorial's stacked LSTM (plain and stateful) and its LSTM sequence classifier --
# The PyTorch side uses nn.LSTM(batch_first=True), i.e. its fused LSTM kernel on (N, L, C), the
# same layout as Keras. The three stacked LSTM(32)s are one nn.LSTM(num_layers=3): what a PyTorch
# user writes for a stack of equal-width LSTMs (separate nn.LSTM layers would be idiomatic too).

LSTM_STEPS, LSTM_FEATURES, LSTM_CLASSES = 8, 16, 10      # timesteps, data_dim, num_classes
STATEFUL_BATCH = 32
STACKED_LSTM_LAYERS = [("lstm", 32, True), ("lstm", 32, True), ("lstm", 32, False), ("dense", LSTM_CLASSES)]
CLASSIFIER_FEATURES, CLASSIFIER_STEPS = 20000, 80          # max_features (vocabulary), sequence length
CLASSIFIER_LAYERS = [("embedding", 256), ("lstm", 128, False), ("dense", 1)]


def _stacked_lstm_data(rows, seed):
    """The tutorial's dummy data: x uniform in [0, 1) (rows, timesteps, data_dim), and targets
    uniform in [0, 1) (rows, num_classes), not one-hot and not normalised (as in the tutorial)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return {"x": rng.random((rows, LSTM_STEPS, LSTM_FEATURES), dtype=np.float32),
            "y": rng.random((rows, LSTM_CLASSES), dtype=np.float32)}


def _classifier_data(rows, seed):
    """Token indices in [0, max_features) (rows, 80), as numpy makes them (int64), and 0/1 labels."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(0, CLASSIFIER_FEATURES, size=(rows, CLASSIFIER_STEPS)),
            "labels": rng.integers(0, 2, size=(rows, 1)).astype(np.int64)}


def _seqc_stacked_lstm(stateful):
    def build(keras):
        LSTM, Dense = keras.layers.LSTM, keras.layers.Dense
        model = keras.models.Sequential()
        if stateful:
            if _is_seqc(keras):                    # the tutorial's Keras 2 spelling
                model.add(LSTM(32, return_sequences=True, stateful=True,
                               batch_input_shape=(STATEFUL_BATCH, LSTM_STEPS, LSTM_FEATURES)))
            else:                                  # Keras 3 spells it as an Input
                model.add(keras.Input(batch_shape=(STATEFUL_BATCH, LSTM_STEPS, LSTM_FEATURES)))
                model.add(LSTM(32, return_sequences=True, stateful=True))
            model.add(LSTM(32, return_sequences=True, stateful=True))
            model.add(LSTM(32, stateful=True))
        else:
            model.add(LSTM(32, return_sequences=True, input_shape=(LSTM_STEPS, LSTM_FEATURES)))
            model.add(LSTM(32, return_sequences=True))
            model.add(LSTM(32))
        model.add(Dense(LSTM_CLASSES, activation="softmax"))
        model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"],
                      **_compile_args(keras))
        return model
    return build


def _soft_target_ce(torch):
    """Keras's categorical cross-entropy for targets that are not one-hot (the tutorial's random
    ones): -sum(y * log softmax(logits)) per sample, averaged (what nn.CrossEntropyLoss computes
    for probability targets, written out)."""
    def loss(logits, y):
        return -(y * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    return loss


def _torch_stacked_lstm(stateful):
    def build(torch):
        nn = torch.nn

        class StackedLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(LSTM_FEATURES, 32, num_layers=3, batch_first=True)
                self.fc = nn.Linear(32, LSTM_CLASSES)      # logits; softmax is inside the loss
                self.state = None                          # (h, c) carried between batches if stateful

            def forward(self, x):
                out, state = self.lstm(x, self.state if stateful else None)
                if stateful:                               # keep the state, cut the graph (truncated BPTT)
                    self.state = tuple(s.detach() for s in state)
                return self.fc(out[:, -1])

        model = StackedLSTM()
        opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
        return TorchSetup(model, _soft_target_ce(torch), opt,
                          correct=lambda out, yb: (out.argmax(1) == yb.argmax(1)).sum())   # categorical accuracy
    return build


def _seqc_lstm_classifier(keras):
    L = keras.layers
    LSTM, Dense, Dropout, Embedding, Input = L.LSTM, L.Dense, L.Dropout, L.Embedding, keras.Input
    model = keras.models.Sequential()
    model.add(Input(shape=(CLASSIFIER_STEPS,)))      # the tutorial gives no length; Keras 3 style
    model.add(Embedding(CLASSIFIER_FEATURES, output_dim=256))
    model.add(LSTM(128))
    model.add(Dropout(0.5))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"], **_compile_args(keras))
    return model


def _torch_lstm_classifier(torch):
    nn = torch.nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(CLASSIFIER_FEATURES, 256)      # dense gradient (sparse=False)
            self.lstm = nn.LSTM(256, 128, batch_first=True)
            self.dropout = nn.Dropout(0.5)
            self.fc = nn.Linear(128, 1)                                  # logit; sigmoid is inside the loss

        def forward(self, x):
            out, _ = self.lstm(self.embedding(x))
            return self.fc(self.dropout(out[:, -1]))

    model = LSTMClassifier()
    opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
    return TorchSetup(model, nn.BCEWithLogitsLoss(), opt,
                      correct=lambda out, yb: ((out > 0).to(yb.dtype) == yb).sum())


register(Bench(
    "stacked_lstm", example="stacked_lstm.py", batch_size=64, rows=20480, samples=81920,
    make_data=_stacked_lstm_data,
    seqc_build=_seqc_stacked_lstm(stateful=False),
    seqc_xy=lambda d: (d["x"], d["y"]),
    torch_build=_torch_stacked_lstm(stateful=False),
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]), torch.from_numpy(d["y"])),
    train_flops_per_sample=seq_train_flops((LSTM_STEPS, LSTM_FEATURES), STACKED_LSTM_LAYERS),
    note="3x LSTM(32) (first two return_sequences), Dense10 softmax on 8 steps x 16 features; RMSprop, "
         "categorical CE on random soft targets"))

register(Bench(
    "stateful_lstm", example="stateful_lstm.py", batch_size=STATEFUL_BATCH, rows=10240, samples=51200,
    shuffle=False, row_multiple=STATEFUL_BATCH, predict_batch=STATEFUL_BATCH,
    make_data=_stacked_lstm_data,
    seqc_build=_seqc_stacked_lstm(stateful=True),
    seqc_xy=lambda d: (d["x"], d["y"]),
    torch_build=_torch_stacked_lstm(stateful=True),
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]), torch.from_numpy(d["y"])),
    train_flops_per_sample=seq_train_flops((LSTM_STEPS, LSTM_FEATURES), STACKED_LSTM_LAYERS),
    note="stacked_lstm with stateful=True, batch_input_shape (32, 8, 16), shuffle=False: the state is "
         "carried from batch to batch"))

register(Bench(
    "lstm_classifier", example="lstm_classifier.py", batch_size=16, rows=1000, samples=2000,
    make_data=_classifier_data,
    seqc_build=_seqc_lstm_classifier,
    seqc_xy=lambda d: (d["x"], d["labels"].astype("float32")),
    torch_build=_torch_lstm_classifier,
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]), torch.from_numpy(d["labels"].astype("float32"))),
    train_flops_per_sample=seq_train_flops((CLASSIFIER_STEPS,), CLASSIFIER_LAYERS),
    note="Embedding(20000, 256), LSTM(128), Dropout, Dense1 sigmoid on 80 token indices; RMSprop, binary CE"))


# --- issue 10's models: a CIFAR-10-style convnet with BatchNormalization, an IMDB-style
# bidirectional LSTM -------------------------------------------------------------------------

CIFAR_INPUT, IMDB_STEPS, IMDB_FEATURES = (32, 32, 3), 200, 20000


def _cifar_bn_macs():
    """Forward multiply-adds of the CIFAR convnet's convs and dense layers ('same' then 'valid')."""
    return [32 * 32 * 32 * 9 * 3, 30 * 30 * 32 * 9 * 32, 15 * 15 * 64 * 9 * 32, 13 * 13 * 64 * 9 * 64,
            6 * 6 * 64 * 512, 512 * 10]


def _seqc_cifar_bn(keras):
    """Keras's classic CIFAR-10 convnet with BatchNormalization after each conv and the hidden
    dense layer (Conv-BN-ReLU blocks), Adam."""
    L = keras.layers
    model = keras.models.Sequential([keras.Input(shape=CIFAR_INPUT)])
    for filters, padding in ((32, "same"), (32, "valid"), (None, None), (64, "same"), (64, "valid"), (None, None)):
        if filters is None:
            model.add(L.MaxPooling2D(pool_size=(2, 2)))
            model.add(L.Dropout(0.25))
            continue
        model.add(L.Conv2D(filters, (3, 3), padding=padding))
        model.add(L.BatchNormalization())
        model.add(L.Activation("relu"))
    model.add(L.Flatten())
    model.add(L.Dense(512))
    model.add(L.BatchNormalization())
    model.add(L.Activation("relu"))
    model.add(L.Dropout(0.5))
    model.add(L.Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"], **_compile_args(keras))
    return model


def _torch_cifar_bn(torch):
    nn = torch.nn

    def block(cin, cout, pad):       # Keras's BN: momentum 0.99 (torch 0.01), epsilon 1e-3
        return [nn.Conv2d(cin, cout, 3, padding=pad), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.ReLU()]
    model = nn.Sequential(*block(3, 32, 1), *block(32, 32, 0), nn.MaxPool2d(2), nn.Dropout(0.25),
                          *block(32, 64, 1), *block(64, 64, 0), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                          nn.Linear(6 * 6 * 64, 512), nn.BatchNorm1d(512, eps=1e-3, momentum=0.01), nn.ReLU(),
                          nn.Dropout(0.5), nn.Linear(512, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return TorchSetup(model, nn.CrossEntropyLoss(), opt, correct=lambda out, yb: (out.argmax(1) == yb).sum())


def _imdb_data(rows, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(1, IMDB_FEATURES, size=(rows, IMDB_STEPS)),
            "labels": rng.integers(0, 2, size=(rows, 1)).astype(np.int64)}


def _seqc_imdb_bilstm(keras):
    """keras-io's bidirectional LSTM on IMDB, one layer: Embedding(20000, 128),
    Bidirectional(LSTM(64)), Dense(1, sigmoid); Adam."""
    L = keras.layers
    model = keras.models.Sequential([keras.Input(shape=(IMDB_STEPS,), dtype="int32"),
                                     L.Embedding(IMDB_FEATURES, 128), L.Bidirectional(L.LSTM(64)),
                                     L.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"], **_compile_args(keras))
    return model


def _torch_imdb_bilstm(torch):
    nn = torch.nn

    class BiLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(IMDB_FEATURES, 128)
            self.lstm = nn.LSTM(128, 64, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(128, 1)

        def forward(self, x):
            _, (h, _) = self.lstm(self.embedding(x))          # h: (2, N, 64), the two directions' last states
            return self.fc(torch.cat([h[0], h[1]], dim=1))

    model = BiLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return TorchSetup(model, nn.BCEWithLogitsLoss(), opt,
                      correct=lambda out, yb: ((out > 0).to(yb.dtype) == yb).sum())


def _bilstm_train_flops():
    """Both directions of LSTM(64) over 200 steps of 128 features, each as one LSTM layer after
    an Embedding (seq_train_flops' rule), plus the Dense layer."""
    one = seq_train_flops((IMDB_STEPS,), [("embedding", 128), ("lstm", 64, False)])
    return 2 * one + 6 * 128


register(Bench(
    "cifar_bn", example="cifar_bn.py", batch_size=32, rows=640,
    make_data=_tutorial_data(CIFAR_INPUT, 10),
    seqc_build=_seqc_cifar_bn,
    seqc_xy=_seqc_xy_categorical(10),
    torch_build=_torch_cifar_bn,
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]).permute(0, 3, 1, 2).contiguous(),
                               torch.from_numpy(d["labels"][:, 0].copy())),
    train_flops_per_sample=train_flops(_cifar_bn_macs()),
    note="CIFAR-10-style convnet: 2x(Conv2D 3x3 'same'-BN-ReLU, Conv2D 3x3-BN-ReLU, MaxPool, Dropout), "
         "Dense512-BN-ReLU, Dropout, Dense10 softmax on 32x32x3; Adam"))

register(Bench(
    "imdb_bilstm", example="imdb_bilstm.py", batch_size=32, rows=640,
    make_data=_imdb_data,
    seqc_build=_seqc_imdb_bilstm,
    seqc_xy=lambda d: (d["x"], d["labels"].astype("float32")),
    torch_build=_torch_imdb_bilstm,
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]), torch.from_numpy(d["labels"].astype("float32"))),
    train_flops_per_sample=_bilstm_train_flops(),
    note="IMDB-style: Embedding(20000, 128), Bidirectional(LSTM(64)), Dense1 sigmoid on 200 token indices; Adam"))


# ---------------------------------------------------------------------------------------------
# Workers: one process per framework and model, commands as JSON lines on stdin, replies as
# JSON lines on the original stdout (fd 1 is pointed at stderr so nothing else lands there).
# ---------------------------------------------------------------------------------------------

def _ensure_seqc_importable():
    """Under an interpreter where seqc is not installed (e.g. /work/refenv), use the repo's copy."""
    if importlib.util.find_spec("seqc") is None:
        sys.path.insert(0, REPO)


def bench_cc():
    """The C compiler of the benchmark's own C drivers (fma_probe.c, predict_latency.c, ab_step.c):
    SEQC_BENCH_CC, else the one seqc builds its models with (seqc.build.compiler())."""
    if os.environ.get("SEQC_BENCH_CC"):
        return os.environ["SEQC_BENCH_CC"]
    _ensure_seqc_importable()
    from seqc import build
    return build.compiler()


def _median_us(fn, x, calls, budget=3.0):
    """(median microseconds, calls timed): up to `calls` calls after up to 200 untimed ones, but
    stopping the untimed ones after budget/4 s and the timed ones after `budget` s (at least 5
    timed calls), so that a model taking milliseconds per call does not take minutes."""
    clock = time.perf_counter
    t_end = clock() + budget / 4
    for _ in range(min(200, calls)):
        fn(x)
        if clock() > t_end:
            break
    times = []
    t_end = clock() + budget
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        fn(x)
        times.append(time.perf_counter_ns() - t0)
        if len(times) >= 5 and clock() > t_end:
            break
    return statistics.median(times) / 1000.0, len(times)


class SeqcRunner:
    def __init__(self, bench, data, seed, threads):
        _ensure_seqc_importable()
        import seqc
        import seqc.keras
        from seqc import build
        from seqc.keras.utils import set_random_seed
        set_random_seed(seed)
        self.bench = bench
        t0 = time.perf_counter()
        self.model = bench.seqc_build(seqc.keras)
        self.compile_seconds = time.perf_counter() - t0
        self.x, self.y = bench.seqc_xy(data)
        self.info = {"seqc": seqc.__version__, "seqc_path": os.path.dirname(seqc.__file__),
                     "flags": " ".join(build.default_flags()), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                     "python": sys.executable, "compile_in_process_s": self.compile_seconds}

    def train(self, rows, epochs):
        x, y = self.x[:rows], self.y[:rows]
        t0 = time.perf_counter()
        hist = self.model.fit(x, y, epochs=epochs, batch_size=self.bench.batch_size, verbose=0,
                              shuffle=self.bench.shuffle)
        seconds = time.perf_counter() - t0
        h = hist.history
        return {"seconds": seconds, "samples": rows * epochs, "loss": float(h["loss"][-1]),
                "acc": float(h["accuracy"][-1]) if "accuracy" in h else None}

    def predict(self, calls):
        x1 = self.x[:self.bench.predict_batch].copy()
        pob, n_pob = _median_us(self.model.predict_on_batch, x1, calls)
        call, n_call = _median_us(self.model, x1, calls)
        reply = {"predict_on_batch_us": pob, "call_us": call, "calls": min(n_pob, n_call)}
        # the bare C call: as many calls as ~2 s allow at the Python figure, at most 100,000
        reply.update(bare_c_predict(self.model._rt(x1)._engine, x1, max(5, min(100_000, int(2e6 / max(pob, 0.1))))))
        return reply


def bare_c_predict(engine, x, calls):
    """{"c_us": median microseconds of one `seqc_predict(m, x, B, B, out)` timed in C, "c_calls": n}
    (or {"c_error": message}): benchmarks/predict_latency.c, built here, loads the model's own
    library, takes its current parameters and times the calls one by one, no Python in the loop."""
    import numpy as np
    cc = bench_cc()
    tmp = tempfile.mkdtemp(prefix="seqc-bench-latency-")
    try:
        exe = os.path.join(tmp, "predict_latency")
        cmd = [cc, "-O2", os.path.join(HERE, "predict_latency.c"), "-o", exe, "-ldl"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return {"c_error": f"{' '.join(cmd)} failed: {r.stderr.strip()[-500:]}"}
        params, xs = os.path.join(tmp, "params.bin"), os.path.join(tmp, "x.bin")
        engine.params.astype(np.float32).tofile(params)
        x = np.ascontiguousarray(x, np.float32)
        x.tofile(xs)
        desc = engine.desc
        in_size, out_size = math.prod(desc.input_shape), math.prod(desc.output_shape)
        r = subprocess.run([exe, engine.lib_path, str(in_size), str(out_size), str(len(x)), str(calls), params, xs],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return {"c_error": r.stderr.strip()[-500:]}
        kv = dict(item.split("=", 1) for item in r.stdout.split())
        return {"c_us": int(kv["median_ns"]) / 1000.0, "c_calls": int(kv["calls"])}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class KerasRunner:
    """Keras 3 on JAX or TensorFlow (the driver sets KERAS_BACKEND), the training step compiled
    by XLA (jit_compile=True): the same model definition, data and fit() call as seqc's."""

    def __init__(self, bench, data, seed, threads):
        backend = os.environ.get("KERAS_BACKEND")
        if backend == "tensorflow":
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
            version = tf.__version__
        else:
            import jax
            version = jax.__version__
        import keras
        keras.utils.set_random_seed(seed)
        self.bench = bench
        self.model = bench.seqc_build(keras)
        self.x, self.y = bench.seqc_xy(data)
        self.info = {"keras": keras.__version__, "backend": keras.backend.backend(), "backend_version": version,
                     "threads": threads, "python": sys.executable}

    train = SeqcRunner.train

    def predict(self, calls):
        x1 = self.x[:self.bench.predict_batch].copy()
        us, n = _median_us(self.model.predict_on_batch, x1, calls)
        return {"call_us": us, "calls": n}


class TorchRunner:
    def __init__(self, bench, data, seed, threads):
        import torch
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.torch = torch
        self.bench = bench
        self.s = bench.torch_build(torch)
        self.X, self.Y = bench.torch_xy(torch, data)
        self.info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": sys.executable}

    def train(self, rows, epochs):
        torch, s, bs = self.torch, self.s, self.bench.batch_size
        X, Y = self.X[:rows], self.Y[:rows]
        model, loss_fn, opt, sched = s.model, s.loss_fn, s.optimizer, s.scheduler
        t0 = time.perf_counter()
        model.train()
        shuffle = self.bench.shuffle
        for _ in range(epochs):
            perm = torch.randperm(rows) if shuffle else None
            total_loss = torch.zeros(())
            correct = torch.zeros((), dtype=torch.int64)
            count_correct = s.correct is not None
            for i in range(0, rows, bs):
                if shuffle:
                    idx = perm[i:i + bs]
                    xb, yb = X[idx], Y[idx]
                else:                              # in order (stateful: batch k follows batch k-1)
                    xb, yb = X[i:i + bs], Y[i:i + bs]
                opt.zero_grad()
                out = model(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                with torch.no_grad():              # running loss and accuracy, per batch, like Keras
                    total_loss += loss.detach() * len(xb)
                    if count_correct:
                        correct += s.correct(out, yb)
            epoch_loss = total_loss.item() / rows
            epoch_acc = correct.item() / rows if count_correct else None
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "samples": rows * epochs, "loss": epoch_loss, "acc": epoch_acc}

    def predict(self, calls):
        torch, model = self.torch, self.s.model
        model.eval()
        x1 = self.X[:self.bench.predict_batch].clone()
        with torch.no_grad():
            us, n = _median_us(model, x1, calls)
        return {"call_us": us, "calls": n}


RUNNERS = {"seqc": SeqcRunner, "torch": TorchRunner, "jax": KerasRunner, "tf": KerasRunner}
PEERS = ("torch", "jax", "tf")
PEER_NAMES = {"torch": "PyTorch eager", "jax": "Keras 3/JAX (jit)", "tf": "Keras 3/TF (jit)"}


def worker_main(args):
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        if args.worker == "seqc":
            # must be set before seqc's compiled library (and its OpenMP runtime) is loaded
            os.environ["OMP_NUM_THREADS"] = str(args.threads)
        if args.worker == "jax" and args.threads == 1:     # XLA's CPU runtime: one thread (before jax loads)
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1").strip()
        import numpy as np
        bench = MODELS[args.model]
        with np.load(args.data) as z:
            data = {k: z[k] for k in z.files}
        runner = RUNNERS[args.worker](bench, data, SEED, args.threads)
        proto.write(json.dumps({"ok": True, "info": runner.info}) + "\n")
    except Exception:
        proto.write(json.dumps({"ok": False, "error": traceback.format_exc()}) + "\n")
        return 1
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "train":
                reply = runner.train(cmd["rows"], cmd["epochs"])
            elif cmd["op"] == "predict":
                reply = runner.predict(cmd["calls"])
            elif cmd["op"] == "quit":
                break
            else:
                raise ValueError(f"unknown op {cmd['op']!r}")
            reply["ok"] = True
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        proto.write(json.dumps(reply) + "\n")
    return 0


class WorkerError(RuntimeError):
    """A worker failed: `error` is its traceback (or exit status), `stderr` the tail of its stderr."""

    def __init__(self, kind, what, error, stderr):
        self.kind, self.what, self.error, self.stderr = kind, what, error, stderr
        super().__init__(f"{kind} worker {what}:\n{error}\n{stderr}")

    def summary(self):
        """The exception line of the traceback (`ImportError: cannot import name ...`), else the
        last non-empty line of whatever there is."""
        lines = [l for l in (self.error or "").splitlines() if l.strip()]
        for line in reversed(lines):
            if not line.startswith((" ", "\t", "Traceback")):
                return line.strip()
        if lines:
            return lines[-1].strip()
        tail = [l for l in (self.stderr or "").splitlines() if l.strip()]
        return f"worker {self.what}" + (f": {tail[-1].strip()}" if tail else ", no output")

    def where(self):
        """The innermost `File "...", line N, in f` of the traceback, or None."""
        frames = [l.strip() for l in (self.error or "").splitlines() if l.strip().startswith("File ")]
        return frames[-1] if frames else None


class Worker:
    """The driver's handle on a worker process."""

    def __init__(self, kind, python, model, data_path, threads, env):
        self.kind = kind
        self.log = tempfile.TemporaryFile(mode="w+")
        cmd = [python, os.path.abspath(__file__), "--worker", kind, "--model", model, "--data", data_path,
               "--threads", str(threads)]
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                         text=True, bufsize=1, env=env, cwd=REPO)
        except OSError as e:
            self.log.close()
            raise WorkerError(kind, "could not start", f"{python}: {e.strerror or e}", "") from None
        try:
            self.info = self._reply()["info"]
        except BaseException:
            self.close()
            raise

    def _reply(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise WorkerError(self.kind, f"exited (code {self.proc.returncode})", "", self._stderr())
        reply = json.loads(line)
        if not reply.get("ok"):
            raise WorkerError(self.kind, "failed", reply.get("error") or "", self._stderr())
        return reply

    def _stderr(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------------------------------------
# Compile time: `python -m seqc compile examples/<model>.py` (fresh cache, then the same cache),
# or, while the CLI or the example does not exist, the API compile in a fresh process.
# ---------------------------------------------------------------------------------------------

def compile_api_main(args):
    """`run.py --compile-api MODEL`: build and compile the model through seqc.keras, then exit."""
    _ensure_seqc_importable()
    import seqc.keras
    MODELS[args.compile_api].seqc_build(seqc.keras)
    return 0


def _cli_available(bench):
    return (os.path.exists(os.path.join(REPO, "seqc", "__main__.py"))
            and os.path.exists(os.path.join(REPO, "examples", bench.example)))


def measure_compile(bench, env):
    """Wall time of the whole subprocess: cold (fresh empty SEQC_CACHE_DIR), then warm (same)."""
    if _cli_available(bench):
        try:
            return _measure_compile(bench, env, "cli")
        except RuntimeError as e:       # fall back to the API so the number still exists; say why
            try:
                out = _measure_compile(bench, env, "api")
            except RuntimeError as e_api:
                raise RuntimeError(f"{e.args[0]}\n  and the seqc.keras compile() in a fresh process fails too: "
                                   f"{e_api.args[1] if len(e_api.args) > 1 else e_api}") from None
            print(f"  note: {e.args[0]}\n  timed the API compile instead")
            out["cli_failed"] = True
            return out
    return _measure_compile(bench, env, "api")


def _measure_compile(bench, env, how):
    tmp = tempfile.mkdtemp(prefix="seqc-bench-compile-")
    try:
        cache = os.path.join(tmp, "cache")
        os.makedirs(cache)
        env = dict(env, SEQC_CACHE_DIR=cache)
        out = {"how": how}
        for phase in ("cold", "warm"):
            if how == "cli":
                cmd = [sys.executable, "-m", "seqc", "compile", os.path.join(REPO, "examples", bench.example),
                       "-o", os.path.join(tmp, f"out_{phase}")]
            else:
                cmd = [sys.executable, os.path.abspath(__file__), "--compile-api", bench.name]
            t0 = time.perf_counter()
            r = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
            out[phase] = time.perf_counter() - t0
            if r.returncode != 0:
                lines = [l for l in r.stderr.strip().splitlines() if l.strip()] or ["(no output)"]
                # a Python traceback: its exception line; seqc's CLI errors (`FILE:LINE: message`): the tail
                tail = lines[-1:] if any(l.startswith("Traceback") for l in lines) else lines[-6:]
                raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {r.returncode}):\n"
                                   + _indent("\n".join(tail), "    "), tail[-1].strip())
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _indent(text, prefix):
    return "\n".join(prefix + line for line in text.splitlines())


# ---------------------------------------------------------------------------------------------
# FMA peak probe
# ---------------------------------------------------------------------------------------------

def fma_peak(thread_counts=(1, 2), seconds=0.25, vector_bits=None):
    """Compile benchmarks/fma_probe.c and measure FP32 FMA GFLOP/s for each thread count, at the
    widest vectors the target has or at `vector_bits`. Returns {threads: gflops} plus
    'vector_bits' / 'chains', or {'error': message}."""
    cc = bench_cc()
    tmp = tempfile.mkdtemp(prefix="seqc-bench-fma-")
    try:
        exe = os.path.join(tmp, "fma_probe")
        cmd = [cc, "-O3", "-march=native", "-fopenmp", "-ffp-contract=fast", os.path.join(HERE, "fma_probe.c"),
               "-o", exe] + ([f"-DVECTOR_BITS={vector_bits}"] if vector_bits else [])
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return {"error": f"{' '.join(cmd)} failed: {r.stderr.strip()[-500:]}"}
        result = {}
        for t in thread_counts:
            env = dict(os.environ, OMP_NUM_THREADS=str(t))
            r = subprocess.run([exe, str(t), str(seconds)], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                return {"error": r.stderr.strip()}
            kv = dict(item.split("=", 1) for item in r.stdout.split())
            result[t] = float(kv["gflops"])
            result["vector_bits"], result["chains"] = int(kv["vector_bits"]), int(kv["chains"])
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def _seqc_vector_bits(env):
    """The vector width seqc's kernels are built for on this host (-mprefer-vector-width), or None."""
    code = ("from seqc import build; f = [x for x in build.default_flags() if x.startswith('-mprefer-vector-width=')];"
            "print(f[0].split('=')[1] if f else '')")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                             timeout=300).stdout.strip()
        return int(out) if out else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def torch_python(args):
    if args.torch_python:
        return args.torch_python
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    if os.path.exists(REFENV_PYTHON):
        return REFENV_PYTHON
    return None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_busy(seconds=0.5):
    """Fraction of all CPUs busy over a short window (this script sleeps meanwhile), or None."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v[:8]), idle
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def plan(samples, rows):
    """(rows used, epochs) for one rep of about `samples` samples over a data set of `rows` rows:
    up to `rows` it is one epoch over the first `samples` rows, beyond it whole epochs."""
    if samples <= rows:
        return samples, 1
    return rows, max(1, round(samples / rows))


def fmt_rate(x):
    return f"{x:,.0f}" if x is not None else "-"


def _fmt_acc(r):
    return f"loss {r['loss']:.4f}" + (f", acc {r['acc']:.4f}" if r.get("acc") is not None else "")


def _report_failure(kind, bench, e, result):
    """Print a worker failure briefly (the exception line and where it was raised) and record the
    whole traceback in the JSON results."""
    if isinstance(e, WorkerError):
        print(f"  {kind} FAILED for {bench.name}: {e.summary()}")
        if e.where():
            print(f"    at {e.where()}")
        result.setdefault("errors", {})[kind] = (e.error or "") + ("\n" + e.stderr if e.stderr else "")
    else:
        print(f"  {kind} FAILED for {bench.name}: {type(e).__name__}: {e}")
        result.setdefault("errors", {})[kind] = traceback.format_exc()


def model_rows(bench, args):
    """(data rows, samples per rep) for this model: --rows / --samples, else the model's own
    defaults times --scale."""
    rows = args.rows if args.rows is not None else max(1, round(bench.rows * args.scale))
    samples = args.samples if args.samples is not None else (
        rows if args.rows is not None else max(1, round(bench.samples * args.scale)))
    m = bench.row_multiple                  # a stateful model's batches must all be full
    return max(m, rows // m * m), max(m, samples // m * m)


def run_model(bench, args, peers, base_env, peak):
    import numpy as np
    print(f"\n== {bench.name}: {bench.note}")
    result = {"model": bench.name}

    if not args.no_compile:
        try:
            c = measure_compile(bench, base_env)
            result["compile"] = c
            what = f"`python -m seqc compile examples/{bench.example}`" if c["how"] == "cli" else \
                "seqc.keras compile() in a fresh process; " + (
                    f"the CLI failed on examples/{bench.example}" if c.get("cli_failed")
                    else "the CLI or the example is not there")
            print(f"compile, wall time of the subprocess [{what}]: cold {c['cold']:.2f} s, warm {c['warm']:.2f} s")
        except RuntimeError as e:
            print(f"compile timing FAILED: {e.args[0]}")
            result.setdefault("errors", {})["compile"] = e.args[0]

    data_rows, samples = model_rows(bench, args)
    rows, epochs = plan(samples, data_rows)
    tmp = tempfile.mkdtemp(prefix="seqc-bench-")
    workers = []
    try:
        data_path = os.path.join(tmp, "data.npz")
        np.savez(data_path, **bench.make_data(data_rows, SEED))
        env = dict(base_env, SEQC_CACHE_DIR=os.path.join(tmp, "cache"), OMP_NUM_THREADS=str(args.threads))
        frameworks = [("seqc", sys.executable)] + [(k, peers[k]) for k in PEERS if peers.get(k)]
        backend = {"jax": "jax", "tf": "tensorflow"}
        for kind, py in frameworks:
            kind_env = dict(env, KERAS_BACKEND=backend[kind]) if kind in backend else env
            try:
                workers.append(Worker(kind, py, bench.name, data_path, args.threads, kind_env))
            except WorkerError as e:         # e.g. seqc cannot build the model yet: go on with the other
                _report_failure(kind, bench, e, result)
        by_kind = {w.kind: w for w in workers}
        if "seqc" in by_kind:
            s_info = by_kind["seqc"].info
            print(f"seqc {s_info['seqc']} ({s_info['python']}), in-process compile "
                  f"{s_info['compile_in_process_s']:.2f} s, flags {s_info['flags']}")
        if "torch" in by_kind:
            t_info = by_kind["torch"].info
            print(f"torch {t_info['torch']} ({t_info['python']}), {t_info['threads']} threads")
        for kind in ("jax", "tf"):
            if kind in by_kind:
                k_info = by_kind[kind].info
                print(f"keras {k_info['keras']} on {k_info['backend']} {k_info['backend_version']} "
                      f"({k_info['python']}), jit_compile, {k_info['threads']} threads")
        if not workers:
            return result
        print(f"per rep: {rows * epochs:,} samples ({epochs} epoch(s) over {rows:,} rows), batch {bench.batch_size}, "
              f"{args.threads} threads; warm-up rep then {args.reps} reps alternating")

        def ask_all(**cmd):
            """Ask every live worker; a worker that fails is reported, closed and dropped."""
            replies = {}
            for w in list(workers):
                try:
                    replies[w.kind] = w.ask(**cmd)
                except WorkerError as e:
                    _report_failure(w.kind, bench, e, result)
                    workers.remove(w)
                    by_kind.pop(w.kind, None)
                    w.close()
            return replies

        for kind, r in ask_all(op="train", rows=rows, epochs=epochs).items():      # warm-up
            print(f"  warm-up {kind:5s} {fmt_rate(r['samples'] / r['seconds']):>12s} samples/s   ({_fmt_acc(r)})")
        rates = {w.kind: [] for w in workers}
        for rep in range(args.reps):
            replies = ask_all(op="train", rows=rows, epochs=epochs)
            if not replies:
                break
            parts = []
            for kind, r in replies.items():
                rate = r["samples"] / r["seconds"]
                rates[kind].append(rate)
                parts.append(f"{kind} {fmt_rate(rate):>12s}")
            print(f"  rep {rep + 1:2d}   " + "   ".join(parts) + "   samples/s")
        med = {k: statistics.median(v) for k, v in rates.items() if v}
        if not med:
            return result
        result["rates"] = rates
        result["median"] = med
        line = "  median  " + "   ".join(f"{k} {fmt_rate(v):>12s}" for k, v in med.items()) + "   samples/s"
        if "torch" in med and "seqc" in med:
            result["ratio"] = med["seqc"] / med["torch"]
            line += f"   seqc/torch {result['ratio']:.2f}x"
        peer_rates = {k: v for k, v in med.items() if k in PEERS}
        if peer_rates and "seqc" in med:
            best = max(peer_rates, key=peer_rates.get)
            result["best_peer"], result["best_ratio"] = best, med["seqc"] / peer_rates[best]
            line += f"   seqc/best peer ({best}) {result['best_ratio']:.2f}x"
        print(line)
        if bench.train_flops_per_sample:
            fl = bench.train_flops_per_sample
            result["train_flops_per_sample"] = fl
            result["gflops"] = {k: v * fl * 1e-9 for k, v in med.items()}
            have_peak = peak and args.threads in peak
            print(f"  training work: {fl / 1e6:,.2f} MFLOP per sample (multiply-adds of the conv, dense and LSTM "
                  f"gate GEMMs x2: forward, weight and input gradients)")
            for k, v in med.items():
                gf = v * fl * 1e-9
                text = f"  {k}: {gf:,.1f} GFLOP/s"
                if have_peak:
                    frac = gf / peak[args.threads]
                    result.setdefault("peak_fraction", {})[k] = frac
                    text += f" = {100 * frac:.1f}% of the {args.threads}-thread FP32 FMA peak ({peak[args.threads]:.1f} GFLOP/s)"
                print(text)

        if args.predict_calls > 0 and workers:
            replies = ask_all(op="predict", calls=args.predict_calls)
            result["predict"] = {}
            parts = []
            if "seqc" in replies:
                p = replies["seqc"]
                result["predict"].update(seqc_pob=p["predict_on_batch_us"], seqc_call=p["call_us"])
                parts.append(f"seqc predict_on_batch {p['predict_on_batch_us']:.2f} us, seqc model(x) "
                             f"{p['call_us']:.2f} us (median of {p['calls']})")
                if "c_us" in p:
                    result["predict"]["seqc_c"] = p["c_us"]
                    parts.append(f"seqc bare C seqc_predict {p['c_us']:.2f} us (median of {p['c_calls']})")
                else:
                    parts.append(f"seqc bare C: not measured ({p.get('c_error', '?')})")
            if "torch" in replies:
                p = replies["torch"]
                result["predict"]["torch"] = p["call_us"]
                parts.append(f"torch no_grad model(x) {p['call_us']:.1f} us (median of {p['calls']})")
            for kind in ("jax", "tf"):
                if kind in replies:
                    p = replies[kind]
                    result["predict"][kind] = p["call_us"]
                    parts.append(f"{kind} predict_on_batch {p['call_us']:.1f} us (median of {p['calls']})")
            if parts:
                print(f"  predict batch {bench.predict_batch}"
                      + (" (the stateful model's fixed batch)" if bench.predict_batch != 1 else "")
                      + ": " + ", ".join(parts))
            result["predict"]["batch"] = bench.predict_batch
    finally:
        for w in workers:
            w.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def print_table(results):
    head = ["model", "seqc samp/s", "torch samp/s", "jax samp/s", "tf samp/s", "seqc/torch", "seqc/best",
            "seqc GFLOP/s", "% peak", "cold s", "warm s", "pred1 seqc us", "pred1 C us",
            "pred1 best peer us"]
    rows = []
    failed = []
    other_batch = False
    for r in results:
        med, c, p = r.get("median", {}), r.get("compile", {}), r.get("predict", {})
        gf, frac = r.get("gflops", {}), r.get("peak_fraction", {})
        mark = f" (b{p['batch']})" if p.get("batch", 1) != 1 else ""
        other_batch = other_batch or bool(mark)
        peer_pred = {k: p[k] for k in PEERS if k in p}
        best_pred = min(peer_pred, key=peer_pred.get) if peer_pred else None
        rows.append([r["model"], fmt_rate(med.get("seqc")), fmt_rate(med.get("torch")), fmt_rate(med.get("jax")),
                     fmt_rate(med.get("tf")),
                     f"{r['ratio']:.2f}x" if "ratio" in r else "-",
                     f"{r['best_ratio']:.2f}x ({r['best_peer']})" if "best_ratio" in r else "-",
                     f"{gf['seqc']:.1f}" if "seqc" in gf else "-",
                     f"{100 * frac['seqc']:.1f}" if "seqc" in frac else "-",
                     f"{c['cold']:.2f}" if c else "-", f"{c['warm']:.2f}" if c else "-",
                     f"{p['seqc_pob']:.1f}{mark}" if "seqc_pob" in p else "-",
                     f"{p['seqc_c']:.2f}{mark}" if "seqc_c" in p else "-",
                     f"{peer_pred[best_pred]:.1f}{mark} ({best_pred})" if best_pred else "-"])
        if r.get("errors"):
            failed.append(f"{r['model']} ({', '.join(r['errors'])})")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    print("\n" + "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for row in rows:
        print("  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(row, widths))))
    if other_batch:
        print("(bN): predict timed at batch N, a stateful model's fixed batch size, not 1")
    if failed:
        print("failures (see above): " + "; ".join(failed))


# ---------------------------------------------------------------------------------------------
# --mpi: seqc's data-parallel training (seqc.distributed) under `mpirun -n 2`, one thread per
# rank, against one process with two threads, on the same global batch and data.
# ---------------------------------------------------------------------------------------------
MPI_MODELS = ("stacked_lstm", "mlp_softmax")


def mpirun_path():
    """mpirun (or mpiexec) next to this interpreter, as the Open MPI wheel installs it, or on PATH."""
    for name in ("mpirun", "mpiexec"):
        path = os.path.join(os.path.dirname(sys.executable), name)
        if os.access(path, os.X_OK):
            return path
    return shutil.which("mpirun") or shutil.which("mpiexec")


def mpi_worker_main(args):
    """One timed configuration: warm up, then `args.reps` epochs over the data, each timed
    (after a barrier under mpirun); rank 0 (or the lone process) prints one JSON line."""
    _ensure_seqc_importable()
    import numpy as np
    from seqc import distributed
    world = distributed.current()       # under mpirun: MPI, one rank per process
    bench = MODELS[args.model]
    with np.load(args.data) as z:
        data = {k: z[k] for k in z.files}
    runner = SeqcRunner(bench, data, SEED, None)
    rows = len(runner.x)
    runner.train(min(rows, 8 * bench.batch_size), 1)                    # warm-up
    seconds = []
    for _ in range(args.reps):
        if world is not None:
            world.comm.Barrier()
        seconds.append(runner.train(rows, 1)["seconds"])
    if world is None or world.root:
        print("MPI-RESULT " + json.dumps({
            "ranks": world.size if world else 1, "threads": runner.model._rt().engine.get_threads(),
            "rows": rows, "seconds": seconds, "samples_per_s": rows / statistics.median(seconds)}), flush=True)
    return 0


def mpi_main(args, base_env):
    """`--mpi`: per model, alternating launches of one process with 2 threads and of
    `mpirun -n 2` with 1 thread per rank; the median samples/s of each and their ratio."""
    import numpy as np
    mpirun = mpirun_path()
    if mpirun is None:
        print(f"--mpi needs mpirun (pip install 'seqc[mpi]' into {sys.prefix}), and mpi4py")
        return 1
    models = args.models or list(MPI_MODELS)
    print(f"seqc data-parallel benchmark  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; mpirun: {mpirun}")
    busy = cpu_busy()
    if busy is not None and busy > 0.10:
        print(f"WARNING: the machine is not quiet ({100 * busy:.0f}% of the CPUs busy before the start); "
              f"timings will be noisy")
    flags = ["--allow-run-as-root", "--oversubscribe"] if os.path.basename(mpirun) == "mpirun" else []
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="seqc-bench-mpi-") as tmp:
        for name in models:
            bench = MODELS[name]
            rows = args.rows or max(bench.batch_size, int(bench.samples * args.scale) // bench.batch_size
                                    * bench.batch_size)
            data_path = os.path.join(tmp, f"{name}.npz")
            np.savez(data_path, **bench.make_data(rows, SEED))
            worker = [sys.executable, os.path.abspath(__file__), "--mpi-worker", "--model", name,
                      "--data", data_path, "--reps", "1"]
            setups = {"1 process x 2 threads": (worker, "2"),
                      "mpirun -n 2 x 1 thread": ([mpirun, *flags, "-n", "2", *worker], "1")}
            rates = {k: [] for k in setups}
            for rep in range(args.reps + 1):                    # the first round: the build, untimed
                for label, (cmd, threads) in setups.items():
                    env = dict(base_env, OMP_NUM_THREADS=threads)
                    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
                    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("MPI-RESULT ")]
                    if r.returncode != 0 or not lines:
                        print(f"  {name} / {label} FAILED (exit {r.returncode}):\n"
                              + _indent((r.stdout + r.stderr).strip()[-3000:], "    "))
                        return 1
                    if rep:
                        rates[label].append(json.loads(lines[0][len("MPI-RESULT "):])["samples_per_s"])
            single, dist = (statistics.median(rates[k]) for k in setups)
            rows_out.append((name, bench.batch_size, rows, single, dist))
            print(f"  {name}: " + "; ".join(f"{k} {', '.join(fmt_rate(x) for x in v)} samples/s"
                                            for k, v in rates.items()))
    print(f"\n{'model':15s} {'batch':>5s} {'rows':>7s} {'1 proc x 2 thr':>15s} {'mpirun -n 2 x 1 thr':>20s} "
          f"{'ratio':>6s}")
    for name, batch, rows, single, dist in rows_out:
        print(f"{name:15s} {batch:5d} {rows:7d} {fmt_rate(single):>15s} {fmt_rate(dist):>20s} {dist / single:6.2f}")
    print("(samples/s, medians; ratio = mpirun / one process: on one host it shows the cost of the "
          "per-step Allreduce and Python step loop, not a speed-up)")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", metavar="MODEL", help=f"models to run (default: all of {', '.join(MODELS)})")
    ap.add_argument("--reps", type=int, default=5, help="timed reps per framework, after one warm-up (default 5)")
    ap.add_argument("--rows", type=int, default=None,
                    help="rows of random training data (default: the model's own, see --list)")
    ap.add_argument("--samples", type=int, default=None,
                    help="training samples per rep (default: one epoch over the rows)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply each model's default rows and samples (default 1; e.g. 0.1 for a quick run)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both frameworks (default 2)")
    ap.add_argument("--predict-calls", type=int, default=2000, help="batch-1 predict calls timed (0: skip)")
    ap.add_argument("--no-compile", action="store_true", help="skip the compile-time measurement")
    ap.add_argument("--no-probe", action="store_true", help="skip the FMA peak probe")
    ap.add_argument("--no-torch", action="store_true", help="run seqc only")
    ap.add_argument("--torch-python", help=f"interpreter for the PyTorch side (default: this one if it has "
                                           f"torch, else {REFENV_PYTHON})")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--list", action="store_true", help="list the models and exit")
    ap.add_argument("--jax-python", help="interpreter with jax and keras: adds Keras 3 on JAX (jit_compile) as a peer")
    ap.add_argument("--tf-python", help="interpreter with tensorflow and keras: adds Keras 3 on TensorFlow "
                                        "(jit_compile) as a peer")
    ap.add_argument("--mpi", action="store_true",
                    help="seqc under `mpirun -n 2` (1 thread per rank) vs one process with 2 threads "
                         f"(models: default {', '.join(MPI_MODELS)}; needs the seqc[mpi] extra)")
    ap.add_argument("--mpi-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--compile-api", metavar="MODEL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        return worker_main(args)
    if args.mpi_worker:
        return mpi_worker_main(args)
    if args.compile_api:
        return compile_api_main(args)
    if args.list:
        for name, b in MODELS.items():
            flops = f", {b.train_flops_per_sample / 1e6:,.2f} MFLOP/sample" if b.train_flops_per_sample else ""
            rows, epochs = plan(b.samples, b.rows)
            print(f"{name:15s} {b.rows:>6,} rows x {epochs} epoch(s) per rep, batch {b.batch_size:3d}{flops}  "
                  f"[examples/{b.example}]\n"
                  f"{'':15s} {b.note}")
        return 0
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    if args.reps < 1 or (args.samples is not None and args.samples < 1) or (args.rows is not None and args.rows < 1) \
            or not args.scale > 0:
        ap.error("--reps, --samples, --rows and --scale must be positive")
    models = args.models or list(MODELS)

    # children find seqc even when this interpreter does not have it installed (e.g. /work/refenv)
    base_env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p))
    if args.mpi:
        return mpi_main(args, base_env)
    tpy = None if args.no_torch else torch_python(args)
    peers = {"torch": tpy, "jax": args.jax_python, "tf": args.tf_python}

    print(f"seqc benchmark  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"seqc side: {sys.executable} (Python {platform.python_version()}); "
          f"torch side: {tpy or 'none (torch not found; use --torch-python)'}; "
          f"Keras/JAX side: {args.jax_python or 'none (--jax-python)'}; "
          f"Keras/TF side: {args.tf_python or 'none (--tf-python)'}")
    busy = cpu_busy()
    if busy is not None and busy > 0.10:
        print(f"WARNING: the machine is not quiet ({100 * busy:.0f}% of the CPUs busy before the start); "
              f"timings will be noisy")
    peak = None
    if not args.no_probe:
        peak = fma_peak((1, args.threads) if args.threads != 1 else (1,))
        if "error" in peak:
            print(f"FP32 FMA peak: probe failed: {peak['error']}")
            peak = None
        else:
            def show(p, what):
                print(f"FP32 FMA peak {what} (benchmarks/fma_probe.c, {p['vector_bits']}-bit vectors, "
                      f"{p['chains']} chains): " + ", ".join(f"{t} thread{'s' if t > 1 else ''} {p[t]:.1f} GFLOP/s"
                                                      for t in sorted(k for k in p if isinstance(k, int))))
            show(peak, "at the widest vectors (the % of peak below)")
            kernel_bits = _seqc_vector_bits(base_env)
            if kernel_bits and kernel_bits != peak["vector_bits"]:
                narrow = fma_peak((1, args.threads) if args.threads != 1 else (1,), vector_bits=kernel_bits)
                if "error" not in narrow:
                    show(narrow, "at the width seqc's kernels are built for")

    results = []
    for name in models:
        try:
            results.append(run_model(MODELS[name], args, peers, base_env, peak))
        except KeyboardInterrupt:
            raise
        except Exception:                       # report and go on with the other models
            print(f"  {name} FAILED:\n" + _indent(traceback.format_exc().rstrip(), "    "))
            results.append({"model": name, "errors": {"driver": traceback.format_exc()}})
    print_table(results)
    if peak is not None and models:
        # the host's speed drifts on shared machines: the same probe again, for comparison
        again = fma_peak((1, args.threads) if args.threads != 1 else (1,))
        if "error" not in again:
            print(f"FP32 FMA peak re-measured after the models: {args.threads} thread(s) "
                  f"{again.get(args.threads, again.get(1)):.1f} GFLOP/s (at the start: "
                  f"{peak.get(args.threads, peak.get(1)):.1f}; the % of peak above use the start's)")
            peak = dict(peak, after=again)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_gflops": {str(k): v for k, v in (peak or {}).items()}, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
