"""Models of every kernel template, trained, evaluated and run under ASan/UBSan.

Run by tests/test_sanitize.py as `python tests/sanitize_cases.py GROUP` in a process with
SEQC_SANITIZE=1 and libasan preloaded; each group builds a few small models and exercises
fit (a few steps, with validation), evaluate, predict and train/test/predict_on_batch. Any
sanitizer report aborts or is printed to stderr, which the test reads. Prints `GROUP ok`.
"""
import ctypes
import ctypes.util
import os
import sys
import threading

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from seqc.keras import layers as L  # noqa: E402
from seqc.keras import optimizers as O  # noqa: E402
from seqc.keras.models import Sequential  # noqa: E402

RNG = np.random.default_rng(0)


def exercise(layers, optimizer, loss, x, y, metrics=("accuracy",), batch_size=8, stateful=False):
    """fit two epochs (with validation), evaluate, predict, and the *_on_batch calls."""
    model = Sequential(layers)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    shuffle = not stateful
    model.fit(x, y, batch_size=batch_size, epochs=2, verbose=0, shuffle=shuffle,
              validation_data=(x[:batch_size], y[:batch_size]))
    model.evaluate(x, y, batch_size=batch_size, verbose=0)
    out = model.predict(x, batch_size=batch_size, verbose=0)
    assert np.all(np.isfinite(out)), "non-finite predictions"
    model.train_on_batch(x[:batch_size], y[:batch_size])
    model.test_on_batch(x[:batch_size], y[:batch_size])
    model.predict_on_batch(x[:batch_size])
    if not stateful:          # a data-parallel step's entry points (seqc.distributed), in one process
        rt, labels = model._rt(x)._target(y, len(x))
        xs = rt._x(x)
        rt.engine.shard_gradients(xs, labels, np.arange(3, dtype=np.int32), 3 / batch_size)
        rt.engine.shard_gradients(xs, labels, np.zeros(0, np.int32), 0.0)
        rt.engine.apply_gradients()
    return model, out


def onehot(n, k):
    return np.eye(k, dtype=np.float32)[RNG.integers(0, k, n)]


def group_dense():
    x = RNG.normal(size=(24, 6)).astype(np.float32)
    y = onehot(24, 3)
    # two layers whose names differ only by case: distinct in Keras, distinct buffers in C
    model, out = exercise([L.Input((6,)), L.Dense(32, name="fc", activation="relu"), L.Dropout(0.3),
                           L.Dense(3, name="FC", activation="softmax")],
                          O.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=1.0), "categorical_crossentropy", x, y)
    assert [a.shape for a in model.get_weights()] == [(6, 32), (32,), (32, 3), (3,)]
    exercise([L.Input((6,)), L.Dense(1, activation="sigmoid")], O.RMSprop(centered=True, momentum=0.5),
             "binary_crossentropy", x, (y[:, :1] > 0).astype(np.float32))


def group_conv():
    x1 = RNG.normal(size=(16, 20, 3)).astype(np.float32)
    y = onehot(16, 4)
    exercise([L.Input((20, 3)), L.Conv1D(8, 3, activation="relu"), L.MaxPooling1D(2),
              L.Conv1D(8, 3, strides=2, padding="same"), L.AveragePooling1D(2, padding="same"),
              L.Conv1D(6, 2, padding="causal"), L.GlobalMaxPooling1D(), L.Dense(4, activation="softmax")],
             O.Adam(amsgrad=True), "categorical_crossentropy", x1, y)
    x2 = RNG.normal(size=(16, 11, 9, 2)).astype(np.float32)
    exercise([L.Input((11, 9, 2)), L.ZeroPadding2D(((1, 2), (0, 1))),
              L.Conv2D(6, (3, 3), padding="same", activation="relu"), L.MaxPooling2D((2, 2), padding="same"),
              L.Conv2D(8, (3, 2), strides=(2, 1)), L.AveragePooling2D((2, 2), padding="same"),
              L.GlobalAveragePooling2D(), L.Dense(4, activation="softmax")],
             O.AdamW(), "categorical_crossentropy", x2, y, batch_size=5)
    exercise([L.Input((11, 9, 2)), L.Conv2D(4, 3, strides=2), L.AveragePooling2D(2), L.Flatten(), L.Dense(4)],
             O.Adagrad(0.05), "mse", x2, y, metrics=("mae",))


def group_embedding():
    x = RNG.integers(0, 50, size=(24, 7)).astype(np.float32)
    y = RNG.integers(0, 3, size=(24,)).astype(np.float32)
    # Adagrad: the row-sparse update; RMSprop: the dense one
    for opt in (O.Adagrad(), "rmsprop"):
        exercise([L.Input((7,)), L.Embedding(50, 8), L.GlobalAveragePooling1D(), L.Dense(3, activation="softmax")],
                 opt, "sparse_categorical_crossentropy", x, y)


def group_rnn():
    x = RNG.normal(size=(16, 6, 5)).astype(np.float32)
    y = onehot(16, 3)
    exercise([L.Input((6, 5)), L.LSTM(8, return_sequences=True, dropout=0.2, recurrent_dropout=0.2),
              L.GRU(8, reset_after=False, go_backwards=True, dropout=0.1, return_sequences=True),
              L.GRU(8, reset_after=True, recurrent_dropout=0.2), L.Dense(3, activation="softmax")],
             "adam", "categorical_crossentropy", x, y)
    model, _ = exercise([L.LSTM(8, stateful=True, return_sequences=True, batch_input_shape=(4, 6, 5)),
                         L.SimpleRNN(8, stateful=True, recurrent_dropout=0.3), L.Dense(3, activation="softmax")],
                        "rmsprop", "categorical_crossentropy", x, y, batch_size=4, stateful=True)
    model.reset_states()
    model.predict(x, batch_size=4, verbose=0)


def group_norm():
    """BatchNormalization (batch statistics, frozen, fused activation, first layer, odd channel
    counts) and LayerNormalization, on 2-D, 3-D and 4-D inputs, batches of 5 with a partial last."""
    x = RNG.normal(size=(16, 7, 6, 3)).astype(np.float32)
    y = onehot(16, 4)
    exercise([L.Input((7, 6, 3)), L.BatchNormalization(), L.Conv2D(5, 3), L.BatchNormalization(),
              L.Activation("relu"), L.LayerNormalization(), L.Flatten(), L.Dense(19),
              L.BatchNormalization(momentum=0.5, center=False), L.Dense(4, activation="softmax")],
             O.Adam(), "categorical_crossentropy", x, y, batch_size=5)
    x1 = RNG.normal(size=(16, 9, 3)).astype(np.float32)
    exercise([L.Input((9, 3)), L.Conv1D(4, 2), L.BatchNormalization(trainable=False), L.Activation("tanh"),
              L.LayerNormalization(center=False, scale=False), L.GlobalAveragePooling1D(), L.Dense(4),
              L.BatchNormalization(scale=False), L.Activation("sigmoid")],
             "rmsprop", "binary_crossentropy", x1, (y > 0).astype(np.float32), batch_size=5)


def _mlp():
    model = Sequential([L.Input((6,)), L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    return model


def group_rnnwrap():
    """Bidirectional (merge modes, stacked, stateful) and masks of pre- and post-padded batches."""
    x = RNG.integers(1, 30, size=(16, 9)).astype(np.float32)
    x[:4, :5] = 0
    x[4:8, 6:] = 0
    y = (RNG.random((16, 1)) > 0.5).astype(np.float32)
    exercise([L.Input((9,)), L.Embedding(30, 6, mask_zero=True),
              L.Bidirectional(L.LSTM(5, return_sequences=True), merge_mode="mul"), L.GlobalAveragePooling1D(),
              L.Dense(1, activation="sigmoid")], O.Adam(), "binary_crossentropy", x, y)
    exercise([L.Input((9,)), L.Embedding(30, 6, mask_zero=True), L.Bidirectional(L.GRU(4, return_sequences=True)),
              L.Bidirectional(L.SimpleRNN(3), merge_mode="ave"), L.Dense(1, activation="sigmoid")],
             O.RMSprop(), "binary_crossentropy", x, y)
    xf = RNG.normal(size=(16, 9, 3)).astype(np.float32)
    xf[:4, :3] = 0
    exercise([L.Input((9, 3)), L.Masking(), L.GRU(4, return_sequences=True, reset_after=False), L.Dense(2)],
             O.SGD(0.1), "mse", xf, RNG.normal(size=(16, 9, 2)).astype(np.float32), metrics=())
    exercise([L.Input(batch_shape=(8, 9, 3)), L.Bidirectional(L.LSTM(4, stateful=True), merge_mode="sum"),
              L.Dense(1)], O.SGD(0.1), "mse", xf, y, metrics=(), stateful=True)


def group_threads():
    """Four Python threads sharing one model, at the same and at growing batch sizes: each
    result must equal the single-threaded one."""
    model = _mlp()
    x = RNG.normal(size=(64, 6)).astype(np.float32)
    want = model.predict(x, batch_size=64, verbose=0)
    errors = []

    def worker(k):
        try:
            for i in range(20):
                n = 64 if k % 2 == 0 else 1 + (i * 3 + k) % 64      # same size / growing and shrinking
                got = model.predict(x[:n], batch_size=n, verbose=0)
                if not np.allclose(got, want[:n], atol=1e-5):
                    errors.append(f"thread {k} call {i}: wrong result for batch {n}")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"thread {k}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, "\n".join(errors[:5])


def group_omp_threads():
    """The OpenMP thread count changed (as threadpoolctl does) between creating instances of
    one model: each keeps buffers for the count it was created with."""
    gomp = ctypes.CDLL(ctypes.util.find_library("gomp") or "libgomp.so.1")
    x = RNG.normal(size=(64, 6)).astype(np.float32)
    y = onehot(64, 3)
    first = _mlp()
    gomp.omp_set_num_threads(4)
    second = _mlp()
    gomp.omp_set_num_threads(1)
    third = _mlp()
    gomp.omp_set_num_threads(3)
    for m in (first, second, third):
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
        m.predict(x, batch_size=64, verbose=0)
    del first, second, third


def group_actlayers():
    """Activation, noise and shape layers (seqc/ops/act_layers.py, noise.py, permute.py,
    time_distributed.py)."""
    x = RNG.normal(size=(16, 3, 6, 6, 2)).astype(np.float32)
    y = onehot(16, 3)
    exercise([L.Input((3, 6, 6, 2)), L.TimeDistributed(L.Conv2D(3, 3)), L.PReLU(shared_axes=[1, 2]),
              L.TimeDistributed(L.MaxPooling2D()), L.TimeDistributed(L.Flatten()), L.GaussianNoise(0.1),
              L.TimeDistributed(L.Dense(5)), L.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.1),
              L.Permute((2, 1)), L.Softmax(axis=1), L.SpatialDropout1D(0.3), L.ActivityRegularization(0.01, 0.01), L.Flatten(),
              L.Dense(6), L.ELU(0.5), L.GaussianDropout(0.2), L.LeakyReLU(), L.AlphaDropout(0.1), L.Dense(3),
              L.Softmax()], O.Adam(), "categorical_crossentropy", x, y)
    x2 = RNG.normal(size=(16, 4, 5, 5, 2)).astype(np.float32)
    exercise([L.Input((4, 5, 5, 2)), L.TimeDistributed(L.Conv2D(2, 2)), L.TimeDistributed(L.SpatialDropout2D(0.3)),
              L.Flatten(), L.Dense(3, activation="softmax")], O.SGD(0.05), "categorical_crossentropy", x2, y)


def group_canary():
    """A library with a heap overflow and a signed overflow, built with seqc's sanitizer flags:
    the test expects reports from this group, which shows the sanitizers are really on."""
    from seqc import build
    c = """#include <stdlib.h>
#include <limits.h>
int seqc_canary(int k) { int *a = malloc(4 * sizeof(int)); a[k] = 1; int r = a[0] + INT_MAX; free(a); return r + k; }
"""
    lib = ctypes.CDLL(build.build("seqc_canary", c, ""))
    lib.seqc_canary(4)


GROUPS = {name[len("group_"):]: f for name, f in globals().items() if name.startswith("group_")}

if __name__ == "__main__":
    GROUPS[sys.argv[1]]()
    print(sys.argv[1], "ok", flush=True)
