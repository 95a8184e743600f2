"""Threads sharing one model (run by tests/test_threads.py in a subprocess, so that a crash
fails that test instead of killing pytest).

    python tests/thread_stress.py same|growing|fit|open

Each part prints `OK <part>` when every thread's results equal the single-threaded ones, and
exits non-zero (an AssertionError, or a signal) otherwise.
"""
import sys
import threading

import numpy as np

from seqc.keras.layers import Dense, Input
from seqc.keras.models import Sequential

THREADS = 4
ROWS = 300
EPOCHS = 30


def mlp(weights=None):
    model = Sequential([Input((20,)), Dense(64, activation="relu"), Dense(32, activation="tanh"),
                        Dense(10, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    if weights is not None:
        model.set_weights(weights)
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, 20)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, ROWS)]
    return x, y


def run_threads(target, n=THREADS):
    """Start n threads on target(i) at once; re-raise the first error any of them raised."""
    errors = []
    start = threading.Barrier(n)

    def body(i):
        try:
            start.wait()
            target(i)
        except BaseException as e:       # noqa: B902 -- reported to the main thread
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def part_same():
    """4 threads predict at one batch size, many times: each result equals the single-threaded one."""
    x, _ = data()
    model = mlp()
    ref = model.predict(x, batch_size=32, verbose=0)
    wrong = []

    def work(i):
        for _ in range(40):
            out = model.predict(x, batch_size=32, verbose=0)
            if not np.array_equal(out, ref):
                wrong.append(i)

    run_threads(work)
    assert not wrong, f"{len(wrong)} of {THREADS * 40} concurrent predictions differ from the single-threaded one"

    # two instances of one library (the same architecture: one build), two threads each: they
    # run in C at the same time
    other = mlp()
    ref_other = other.predict(x, batch_size=32, verbose=0)

    def pair(i):
        m, r = [(model, ref), (other, ref_other)][i % 2]
        for _ in range(40):
            if not np.array_equal(m.predict(x, batch_size=32, verbose=0), r):
                wrong.append(i)

    run_threads(pair)
    assert not wrong, f"{len(wrong)} predictions of two instances of one library differ when run at once"


def part_growing():
    """A fresh model (arena not grown yet); each thread predicts at growing batch sizes, so the
    arena is reallocated while other threads run."""
    x, _ = data()
    weights = mlp().get_weights()
    sizes = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, ROWS]
    reference = mlp(weights)
    refs = {b: reference.predict(x, batch_size=b, verbose=0) for b in sizes}
    model = mlp(weights)
    wrong = []

    def work(i):
        for rep in range(3):
            for b in sizes[i % 3:]:
                out = model.predict(x, batch_size=b, verbose=0)
                if not np.array_equal(out, refs[b]):
                    wrong.append((i, b))
            out = model(x[:7 + i])            # __call__: one batch of its own size
            if not np.allclose(out, refs[1][:7 + i], rtol=1e-5, atol=1e-6):
                wrong.append((i, "call"))

    run_threads(work)
    assert not wrong, f"concurrent predictions differ from the single-threaded ones: {wrong[:10]}"


def part_fit():
    """fit in one thread while three others predict, evaluate and read weights: the training
    history and final weights equal those of the same fit run alone."""
    x, y = data()
    weights = mlp().get_weights()
    alone = mlp(weights)
    h_alone = alone.fit(x, y, batch_size=16, epochs=EPOCHS, shuffle=False, verbose=0).history
    w_alone = alone.get_weights()

    model = mlp(weights)
    done = threading.Event()
    result = {}
    calls = [0] * THREADS

    def work(i):
        if i == 0:
            try:
                result["history"] = model.fit(x, y, batch_size=16, epochs=EPOCHS, shuffle=False, verbose=0).history
            finally:
                done.set()
            return
        b = 1
        while not done.is_set():
            calls[i] += 1
            b = (b + 7 * i) % ROWS + 1
            out = model.predict(x[:b], verbose=0)
            assert out.shape == (b, 10) and np.isfinite(out).all()
            assert np.allclose(out.sum(axis=1), 1, atol=1e-5)
            if i == 2:
                loss, acc = model.evaluate(x, y, batch_size=b, verbose=0)
                assert np.isfinite(loss) and 0 <= acc <= 1
            if i == 3:
                assert [w.shape for w in model.get_weights()] == [w.shape for w in weights]

    run_threads(work)
    assert min(calls[1:]) > 0, calls
    assert result["history"] == h_alone, (result["history"], h_alone)
    for a, b in zip(model.get_weights(), w_alone):
        assert np.array_equal(a, b)

    # train_on_batch from every thread at once: serialised, so 4 x 10 optimizer steps in all
    def steps(i):
        for k in range(10):
            loss = model.train_on_batch(x[k * 8:(k + 1) * 8], y[k * 8:(k + 1) * 8])[0]
            assert np.isfinite(loss)

    before = model.optimizer.iterations
    run_threads(steps)
    assert model.optimizer.iterations - before == THREADS * 10, model.optimizer.iterations - before


def part_open():
    """A model whose sequence length is open: threads predicting at different lengths switch
    the model between its specialisations; every result equals the single-threaded one."""
    from seqc.keras.layers import Embedding, GlobalAveragePooling1D

    def model(weights=None):
        m = Sequential([Embedding(40, 8), GlobalAveragePooling1D(), Dense(3, activation="softmax")])
        m.compile("sgd", "sparse_categorical_crossentropy")
        if weights is not None:
            m.set_weights(weights)
        return m

    rng = np.random.default_rng(1)
    xs = {n: rng.integers(0, 40, (50, n)).astype(np.float32) for n in (6, 11)}
    reference = model()
    weights = reference.get_weights()
    refs = {n: reference.predict(x, batch_size=8, verbose=0) for n, x in xs.items()}
    shared = model(weights)
    wrong = []

    def work(i):
        for rep in range(15):
            n = (6, 11)[(i + rep) % 2]
            if not np.array_equal(shared.predict(xs[n], batch_size=8, verbose=0), refs[n]):
                wrong.append((i, n))

    run_threads(work)
    assert not wrong, f"predictions at switching lengths differ from the single-threaded ones: {wrong[:10]}"


if __name__ == "__main__":
    part = sys.argv[1]
    {"same": part_same, "growing": part_growing, "fit": part_fit, "open": part_open}[part]()
    print("OK", part)
