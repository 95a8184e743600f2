"""The micro-kernels in explicit vectors (seqc/templates/gemm.c.j2: gemm_micro, gemm_micro_ld,
conv_micro, conv_dw_micro) at each width a host may build them for.

One model uses every kernel family: Dense (the GEMM, B packed and read in place), a padded
Conv2D whose window (3 x 3 x 5 = 45 columns) is not a multiple of any tile height and whose 40
filters leave a narrower last panel at every tile width (the dW tail and the padded last dW
tile), a strided Conv2D (dx through the GEMM, col2im), a stride-1 Conv2DTranspose (its own
direct convolution and weight gradient) and a max pool. Its outputs and gradients are computed
by builds at the native width and at the others this host can run: 4 floats (the portable
build, SEQC_CFLAGS="": SSE2 on x86-64, NEON on AArch64) and, on an AVX-512 host, 8 floats
(SEQC_VECTOR_WIDTH=256). All must agree within float rounding (their sums run in different
orders), and each build's C must declare the vector width it was meant to have.
"""
import numpy as np
import pytest

from seqc import build, codegen, pipeline
from seqc import keras
from seqc.keras.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Input, MaxPooling2D


def _model():
    m = keras.Sequential([Input((9, 10, 5)),
                          Conv2D(40, 3, padding="same", activation="relu"),
                          MaxPooling2D((2, 2), strides=1),
                          Conv2D(16, 2, strides=2, activation="tanh"),
                          Conv2DTranspose(12, 3),
                          Flatten(),
                          Dense(7)])
    m.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    m.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in m.get_weights()])
    return m


def _widths():
    """(name, environment) of every width this host can build and run."""
    widths = [("native", {}), ("portable", {"SEQC_CFLAGS": ""})]
    if "__AVX512F__" in build.target_features(build.default_flags()):
        widths.append(("avx512-at-256", {"SEQC_VECTOR_WIDTH": "256"}))
    return widths


def _run(env, monkeypatch):
    for k in ("SEQC_CFLAGS", "SEQC_VECTOR_WIDTH"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    build.default_flags.cache_clear()
    try:
        flags = build.default_flags()
        m = _model()
        rng = np.random.default_rng(1)
        x = rng.normal(size=(5, 9, 10, 5)).astype(np.float32)
        y = rng.normal(size=(5, 7)).astype(np.float32)
        out = m.predict(x, verbose=0)
        loss, grad = m._runtime._engine.gradients(x, y, False)
        _, _, c = pipeline.compile_spec(m.spec())
        return flags, out, loss, grad, c
    finally:
        monkeypatch.undo()
        build.default_flags.cache_clear()


def test_every_vector_width_gives_the_same_numbers(monkeypatch):
    results = {name: _run(env, monkeypatch) for name, env in _widths()}
    _, out0, loss0, grad0, _ = results["native"]
    assert np.all(np.isfinite(grad0)) and np.abs(grad0).max() > 0
    for name, (flags, out, loss, grad, c) in results.items():
        vec = codegen.target_vector_floats(flags)
        assert f"vector_size({4 * vec})" in c, name          # the tiles are as wide as the target's choice
        if name == "portable":
            assert vec == 4
        if name == "avx512-at-256":
            assert vec == 8
        np.testing.assert_allclose(out, out0, rtol=1e-4, atol=1e-5, err_msg=name)
        assert abs(loss - loss0) <= 1e-5 * abs(loss0), name
        np.testing.assert_allclose(grad, grad0, rtol=1e-3, atol=1e-5 * np.abs(grad0).max(), err_msg=name)
