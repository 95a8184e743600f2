"""Dense's input gradient through W's rows in place (dense.c.j2's dx_wrows: dx^T = W dz^T on the
convolution micro-kernel, W never packed), used for large weight matrices (VGG's Flatten ->
Dense(256) has 7.9M). The threshold is lowered here so that small layers take the path: its
gradients equal the GEMM path's bit for bit (the same sums in the same order), agree with
finite differences, and cover a last tile of W's rows of each kind (full, half-height), one
and several panels of samples, the GEMM fallback beyond the path's batch limit, and threads."""
import os

import numpy as np
import pytest

from seqc import keras
from seqc.ops.dense import Dense as DenseOp

from test_gradcheck import gradcheck


def _model(hidden, seed=0):
    m = keras.Sequential([keras.Input((13,)),
                          keras.layers.Dense(hidden, activation="tanh", name="d0"),
                          keras.layers.Dense(9, name="d1")])
    m.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(seed)
    m.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in m.get_weights()])
    return m


def _source(m, x):
    with open(os.path.join(os.path.dirname(m._rt(x)._engine.lib_path), "model.c")) as f:
        return f.read()


@pytest.mark.parametrize("hidden", [21, 20])        # W's row tiles end in 5 rows (full tile) or 4 (half)
def test_wrows_gradients_equal_the_gemm_paths(monkeypatch, hidden):
    rng = np.random.default_rng(hidden)
    xs = {m: rng.normal(size=(m, 13)).astype(np.float32) for m in (5, 40, 200)}   # 1, 2 panels; > the limit
    ys = {m: rng.normal(size=(m, 9)).astype(np.float32) for m in xs}
    gemm = _model(hidden)
    assert "_dx_wrows(" not in _source(gemm, xs[5])
    monkeypatch.setattr(DenseOp, "DX_WROWS_MIN_WEIGHTS", 0)
    wrows = _model(hidden)
    src = _source(wrows, xs[5])
    assert "dense_1_dx_wrows(" in src and "dense_dx_wrows(" not in src     # the first layer needs no dx
    for m in xs:
        for threads in (1, 2):
            for model in (gemm, wrows):
                model._rt(xs[m])._engine.set_threads(threads)
            lg, gg = gemm._rt(xs[m])._engine.gradients(xs[m], ys[m])
            lw, gw = wrows._rt(xs[m])._engine.gradients(xs[m], ys[m])
            assert lw == lg
            np.testing.assert_array_equal(gw, gg, err_msg=f"batch {m}, {threads} thread(s)")


def test_wrows_gradients_match_finite_differences(monkeypatch):
    monkeypatch.setattr(DenseOp, "DX_WROWS_MIN_WEIGHTS", 0)
    m = _model(20, seed=3)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(37, 13)).astype(np.float32)
    y = rng.normal(size=(37, 9)).astype(np.float32)
    assert "dense_1_dx_wrows(" in _source(m, x)
    gradcheck(m, x, y)


def test_threshold_takes_large_layers_only():
    """A layer of 1100 x 1000 weights (over 2^20) takes the path, one of 1000 x 64 does not."""
    assert DenseOp.DX_WROWS_MIN_WEIGHTS == 1 << 20
    m = keras.Sequential([keras.Input((7,)), keras.layers.Dense(1100, name="first"),
                          keras.layers.Dense(1000, name="big"), keras.layers.Dense(64, name="small")])
    m.compile(optimizer="sgd", loss="mse")
    src = _source(m, np.zeros((2, 7), np.float32))
    assert "dense_1_dx_wrows(" in src                        # C names: dense, dense_1, dense_2
    assert "dense_2_dx_wrows(" not in src and "dense_dx_wrows(" not in src
