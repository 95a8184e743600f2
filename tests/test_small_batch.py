"""Dense's small-batch path (dense.c.j2 `_gemv`, taken when a batch has at most GEMM_MR / 2 rows)
against its batched path (the GEMM driver) and a float64 numpy reference.

The same rows are predicted once inside a batch of 16 (the GEMM path) and once as a batch of
1, 2, 3, 4 (the small path where GEMM_MR is 8) or 7 (the GEMM again, a partial tile); the
outputs agree to float rounding (on x86-64 with FMA they are bit-identical). The shapes cover
an N that is not a multiple of the vector width (37, 10, 5), an N above the column block of eight
vectors with a narrower last block (300 = 128 + 128 + 44 with 512-bit vectors), a K above the GEMM's K block (300 >
GEMM_KC = 256), a saved pre-activation (gelu), widths 16, 2 and 1, and a Dense on 3-D input
(rows = batch x 3). Training steps take the small path too: the gradient of 1 or 2 samples
equals the gradient of those samples repeated to 8 (the GEMM path).
"""
import math
import os

import numpy as np
import pytest

import seqc.keras as keras
from seqc.keras.utils import set_random_seed

L = keras.layers
SMALL = (1, 2, 3, 4, 7)


def _mlp():
    """The tutorial MLP (examples/mlp_softmax.py)."""
    m = keras.models.Sequential([L.Dense(64, activation="relu", input_dim=20), L.Dropout(0.5),
                                 L.Dense(64, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax")])
    m.compile(loss="categorical_crossentropy", optimizer="sgd")
    return m


def _odd():
    """Widths that are not multiples of the vector width, K > GEMM_KC, N > 128 with a tail."""
    m = keras.models.Sequential([keras.Input(shape=(300,)), L.Dense(37, activation="tanh"),
                                 L.Dense(300, activation="gelu"), L.Dense(300, activation="relu"),
                                 L.Dense(5)])
    m.compile(loss="mse", optimizer="sgd")
    return m


def _seq():
    """Dense on (batch, 3, 11): 3 GEMM rows per sample."""
    m = keras.models.Sequential([keras.Input(shape=(3, 11)), L.Dense(13, activation="elu"), L.Flatten(),
                                 L.Dense(4, activation="sigmoid")])
    m.compile(loss="binary_crossentropy", optimizer="sgd")
    return m


def _narrow():
    """Widths 16, 2 and 1 (where gcc once vectorised the small path without fused multiply-adds)."""
    m = keras.models.Sequential([keras.Input(shape=(216,)), L.Dense(16, activation="relu"),
                                 L.Dense(2, activation="tanh"), L.Dense(1)])
    m.compile(loss="mse", optimizer="sgd")
    return m


BUILDERS = {"mlp": (_mlp, (20,)), "odd": (_odd, (300,)), "seq": (_seq, (3, 11)), "narrow": (_narrow, (216,))}
_models = {}


def model(key):
    if key not in _models:
        set_random_seed(7)
        build, shape = BUILDERS[key]
        m = build()
        # weights away from 0 and biases non-zero, so that every term counts
        rng = np.random.default_rng(1)
        m.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in m.get_weights()])
        _models[key] = (m, shape)
    return _models[key]


def data(shape, rows=16, seed=0):
    return np.random.default_rng(seed).normal(0, 1, (rows,) + shape).astype(np.float32)


def reference(m, x):
    """float64 forward of a Sequential of Dense layers (and Flatten / Dropout) from its weights."""
    acts = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh, "linear": lambda v: v,
            "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
            "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))),
            "gelu": lambda v: 0.5 * v * (1 + np.vectorize(math.erf)(v / math.sqrt(2))),
            "softmax": lambda v: np.exp(v - v.max(-1, keepdims=True)) / np.exp(v - v.max(-1, keepdims=True)).sum(
                -1, keepdims=True)}
    w = iter(m.get_weights())
    v = x.astype(np.float64)
    for layer in m.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            v = acts[layer.get_config()["activation"]](v @ next(w) + next(w))
        elif kind == "Flatten":
            v = v.reshape(len(v), -1)
    return v


@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_small_path_is_generated(key):
    """Each Dense of the model has the small path and picks it up to GEMM_MR / 2 rows."""
    m, _ = model(key)
    source = _source(m)
    n_dense = sum(type(layer).__name__ == "Dense" for layer in m.layers)
    assert source.count("_gemv(") >= 2 * n_dense, "every Dense defines and calls a small-batch path"
    assert "<= GEMM_MR && (tm->threads == 1 ||" in source    # a product big enough for threads keeps the GEMM


def _source(m):
    """The generated C the model runs (kept beside its library in the build cache)."""
    d = os.path.dirname(m._runtime._engine.lib_path)
    (c,) = [f for f in os.listdir(d) if f.endswith(".c")]
    with open(os.path.join(d, c)) as f:
        return f.read()


@pytest.mark.parametrize("key", sorted(BUILDERS))
@pytest.mark.parametrize("rows", SMALL)
def test_small_batch_matches_batched_path(key, rows):
    m, shape = model(key)
    x = data(shape)
    batched = m.predict(x, batch_size=16, verbose=0)          # 16 (or 48) GEMM rows
    for start in (0, 16 - rows):
        small = m.predict_on_batch(x[start:start + rows])
        # float rounding: relative to the outputs' scale (an element may cancel to near 0)
        np.testing.assert_allclose(small, batched[start:start + rows], rtol=1e-5, atol=1e-6 * np.abs(batched).max())
        np.testing.assert_allclose(np.asarray(m(x[start:start + rows])), small, rtol=0, atol=0)
    np.testing.assert_allclose(batched, reference(m, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_small_batch_matches_reference(key):
    m, shape = model(key)
    x = data(shape, rows=7, seed=3)
    for rows in SMALL:
        np.testing.assert_allclose(m.predict_on_batch(x[:rows]), reference(m, x[:rows]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("key", ["odd", "seq", "narrow"])
@pytest.mark.parametrize("rows", [1, 2])
def test_small_batch_gradients_match_batched_path(key, rows):
    """The training forward at 1 or 2 samples (the small path; gelu and elu save their
    pre-activation) gives the gradient that the same samples repeated to 8 (the GEMM path) give:
    the mean is the same."""
    m, shape = model(key)
    x = data(shape, rows=rows, seed=5)
    y_shape = m._runtime.desc.y_shape
    y = np.random.default_rng(6).random((rows,) + tuple(y_shape)).astype(np.float32)
    engine = m._runtime._engine
    reps = 8 // rows
    loss_s, g_s = engine.gradients(x, y)
    loss_8, g_8 = engine.gradients(np.tile(x, (reps,) + (1,) * len(shape)), np.tile(y, (reps,) + (1,) * len(y_shape)))
    assert abs(loss_s - loss_8) <= 1e-5 * max(1.0, abs(loss_8))
    np.testing.assert_allclose(g_s, g_8, rtol=1e-4, atol=1e-5 * np.abs(g_8).max())
    assert np.abs(g_s).max() > 0


# ---- the Python side of batch-1 predict (seqc/runtime/model.py fast path, Engine.predict) ----

def test_predict_outputs_are_fresh_arrays():
    """Outputs of up to Engine.SMALL_PREDICT_ROWS rows pass through a buffer the engine keeps:
    each call still returns a new, writable, C-contiguous float32 array that owns its data."""
    m, shape = model("mlp")
    x = data(shape, rows=20, seed=8)
    a = m.predict_on_batch(x[:1])
    a_copy = a.copy()
    b = m(x[1:2])
    c = m.predict_on_batch(x[:1])
    np.testing.assert_array_equal(a, a_copy)          # not overwritten by the later calls
    assert not np.shares_memory(a, b) and not np.shares_memory(a, c)
    np.testing.assert_array_equal(a, c)
    for out in (a, b):                                # model(x): a Keras-tensor-like view of a fresh array
        assert out.dtype == np.float32 and out.shape == (1, 10) and out.flags.c_contiguous
        fresh = out if out.base is None else out.base
        assert fresh.flags.owndata and out.flags.writeable and fresh.base is None
    ref = m.predict(x, batch_size=20, verbose=0)
    for rows in (1, 15, 16, 17, 20):                  # both sides of the kept buffer's size
        np.testing.assert_allclose(m.predict_on_batch(x[:rows]), ref[:rows], rtol=1e-5,
                                   atol=1e-6 * np.abs(ref).max())
        np.testing.assert_array_equal(np.asarray(m(x[:rows])), m.predict_on_batch(x[:rows]))


def test_predict_fast_path_keeps_the_conversions_and_checks():
    m, shape = model("mlp")
    x = data(shape, rows=3, seed=9)
    want = m.predict_on_batch(x)
    wide = np.zeros((3, 40), np.float32)
    wide[:, ::2] = x
    for other in (x.astype(np.float64), x.tolist(), wide[:, ::2], x.astype(">f4"), np.asfortranarray(x)):
        for f in (m.predict_on_batch, m):
            np.testing.assert_array_equal(np.asarray(f(other)), want)
        np.testing.assert_array_equal(m.predict(other, verbose=0), want)
    for bad in (x[:, :19], x[0], x[None], np.zeros((3, 20), object), "x"):
        for f in (m.predict_on_batch, m):
            with pytest.raises(ValueError):
                f(bad)
    with pytest.raises(ValueError, match="no samples"):
        m.predict_on_batch(x[:0])
    assert m(x[:0]).shape == (0, 10)


def test_predict_from_threads():
    """Calls from several threads share the engine's output buffer under its lock."""
    import threading
    m, shape = model("mlp")
    x = data(shape, rows=64, seed=10)
    ref = m.predict(x, batch_size=64, verbose=0)
    errors = []

    def work(t):
        for i in range(200):
            r = (t * 200 + i) % 64
            out = m.predict_on_batch(x[r:r + 1])
            if not np.allclose(out, ref[r:r + 1], rtol=1e-5, atol=1e-6):
                errors.append((t, r))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_predict_after_the_arena_grows():
    """The small path writes into the arena's own input rows (seqc_input_rows) and reads its
    output rows: when a larger batch makes seqc_reserve move the arena, the next call reads
    the new one. Each step up in rows below grows it; a stale view would give the old arena's
    (freed) rows or fail to index the new row count."""
    m, shape = model("mlp")
    x = data(shape, rows=40, seed=11)
    ref = m.predict(x, batch_size=40, verbose=0)
    m2 = _mlp()                                           # its own engine (model() shares one)
    m2.set_weights(m.get_weights())
    for rows in (1, 2, 3, 8, 16, 5, 1):
        np.testing.assert_allclose(m2.predict_on_batch(x[:rows]), ref[:rows], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(m2(x[rows:2 * rows])), ref[rows:2 * rows], rtol=1e-5, atol=1e-6)
    m2.fit(x, np.eye(10, dtype=np.float32)[np.arange(40) % 10], batch_size=40, epochs=1, verbose=0)
    after = m2.predict(x, batch_size=40, verbose=0)
    assert not np.allclose(after, ref)                    # the weights moved
    for rows in (1, 4):
        np.testing.assert_allclose(m2.predict_on_batch(x[:rows]), after[:rows], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", [L.Reshape((4, 5)), L.Flatten(), L.Activation("linear")])
def test_model_without_compute_predicts_and_trains(layer):
    """A model whose output is its input (reshapes alone): its output buffer is the arena's
    input, and the loss's gradient buffer is still planned, so it builds, predicts and fits."""
    m = keras.Sequential([keras.Input((20,)), layer])
    x = data((20,), rows=6, seed=12)
    want = x.reshape((6,) + tuple(m.output_shape[1:]))
    np.testing.assert_array_equal(m.predict_on_batch(x[:1]), want[:1])
    np.testing.assert_array_equal(m.predict(x, batch_size=4, verbose=0), want)
    m.compile(optimizer="sgd", loss="mse")
    hist = m.fit(x, np.zeros_like(want), batch_size=6, epochs=2, verbose=0)
    np.testing.assert_allclose(hist.history["loss"], [float(np.mean(x * x))] * 2, rtol=1e-6)
    np.testing.assert_allclose(m.evaluate(x, np.zeros_like(want), verbose=0), np.mean(x * x), rtol=1e-6)
