"""The micro-kernels in explicit vectors (seqc/templates/gemm.c.j2: gemm_micro, gemm_micro_ld,
conv_micro, conv_dw_micro) at each width a host may build them for.

One model uses every GEMM kernel family: Dense (the GEMM, B packed and read in place), a padded
Conv2D whose window (3 x 3 x 5 = 45 columns) is not a multiple of any tile height and whose 40
filters leave a narrower last panel at every tile width (the dW tail and the padded last dW
tile), a strided Conv2D (dx through the GEMM, col2im), a stride-1 Conv2DTranspose (its own
direct convolution and weight gradient) and a max pool. Its outputs and gradients are computed
by builds at the native width and at the others this host can run: 4 floats (the portable
build, SEQC_CFLAGS="": SSE2 on x86-64, NEON on AArch64) and, on an AVX-512 host, 8 floats
(SEQC_VECTOR_WIDTH=256). All must agree within float rounding (their sums run in different
orders), and each build's C must declare the vector width it was meant to have. A second model
does the same for the recurrent products (rnn_rows.c.j2): an LSTM and a GRU of odd and even
widths, on a batch that leaves a partial row block, and predicts of one and two rows (the
small-batch path).
"""
import os
import platform
import re
import shutil
import subprocess

import numpy as np
import pytest

from seqc import build, codegen, pipeline
from seqc import keras
from seqc.keras.layers import (GRU, LSTM, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten, Input, MaxPooling2D,
                               SimpleRNN)


def _conv_model():
    m = keras.Sequential([Input((9, 10, 5)),
                          Conv2D(40, 3, padding="same", activation="relu"),
                          MaxPooling2D((2, 2), strides=1),
                          Conv2D(16, 2, strides=2, activation="tanh"),
                          Conv2DTranspose(12, 3),
                          Flatten(),
                          Dense(7)])
    return m


def _rnn_model():
    return keras.Sequential([Input((6, 5)), LSTM(9, return_sequences=True), GRU(12), Dense(7)])


MODELS = {"conv": (_conv_model, (5, 9, 10, 5)), "rnn": (_rnn_model, (13, 6, 5))}


def _widths():
    """(name, environment) of every width this host can build and run."""
    widths = [("native", {}), ("portable", {"SEQC_CFLAGS": ""})]
    if "__AVX512F__" in build.target_features(build.default_flags()):
        widths.append(("avx512-at-256", {"SEQC_VECTOR_WIDTH": "256"}))
    return widths


def _run(model, env, monkeypatch):
    for k in ("SEQC_CFLAGS", "SEQC_VECTOR_WIDTH"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    build.default_flags.cache_clear()
    try:
        flags = build.default_flags()
        make, x_shape = MODELS[model]
        m = make()
        m.compile(optimizer="sgd", loss="mse")
        rng = np.random.default_rng(0)
        m.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in m.get_weights()])
        rng = np.random.default_rng(1)
        x = rng.normal(size=x_shape).astype(np.float32)
        y = rng.normal(size=(x_shape[0], 7)).astype(np.float32)
        out = np.concatenate([m.predict(x, verbose=0), m.predict_on_batch(x[:1]), m.predict_on_batch(x[1:3])])
        loss, grad = m._runtime._engine.gradients(x, y, False)
        _, _, c = pipeline.compile_spec(m.spec())
        return flags, out, loss, grad, c
    finally:
        monkeypatch.undo()
        build.default_flags.cache_clear()


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_vector_width_gives_the_same_numbers(model, monkeypatch):
    results = {name: _run(model, env, monkeypatch) for name, env in _widths()}
    _, out0, loss0, grad0, _ = results["native"]
    assert np.all(np.isfinite(grad0)) and np.abs(grad0).max() > 0
    for name, (flags, out, loss, grad, c) in results.items():
        vec = codegen.target_vector_floats(flags)
        assert f"vector_size({4 * vec})" in c, name          # the tiles are as wide as the target's choice
        if name == "portable":
            assert vec == 4
        if name == "avx512-at-256":
            assert vec == 8
        np.testing.assert_allclose(out[-3:], out0[:3], rtol=1e-4, atol=1e-5, err_msg=name)   # rows 1, 2 alone
        np.testing.assert_allclose(out, out0, rtol=1e-4, atol=1e-5, err_msg=name)
        assert abs(loss - loss0) <= 1e-5 * abs(loss0), name
        np.testing.assert_allclose(grad, grad0, rtol=1e-3, atol=1e-5 * np.abs(grad0).max(), err_msg=name)


def test_cells_and_dropout_vectorize_on_avx2(tmp_path):
    """Every element-wise loop of the recurrent cells (`#pragma omp simd`) and the dropout mask's
    loop vectorize for AVX2 (16 vector registers, no masks, no 64-bit vector conversions), not
    only where AVX-512 masks if-convert anything: gcc's report names each vectorized loop by a
    line of its body. (Before, 11 of these 12 loops stayed scalar there, and an LSTM trained
    5x slower on a 256-bit build.) At -O3, the shipping level (the suite builds at -O1), for
    -march=haswell (AVX2 and FMA, a target every gcc since 4.9 knows), with gcc even when seqc
    builds with another compiler. It is skipped only on another CPU or where there is no gcc,
    and then says so (on AArch64, test_export's cross-built programs cover the kernels)."""
    macros = build._probe(()) or ""
    if platform.machine().lower() not in ("x86_64", "amd64"):      # gcc for another CPU has no -march=haswell
        pytest.skip(f"an x86-64 check; this CPU is {platform.machine()}")
    gcc = build.compiler() if "__GNUC__" in macros and "__clang__" not in macros else shutil.which("gcc")
    if gcc is None:
        pytest.skip(f"reads gcc's -fopt-info report; there is no gcc here (the compiler is {build.compiler_id()})")
    m = keras.Sequential([Input((8, 16)), LSTM(32, return_sequences=True), Dropout(0.5),
                          GRU(16, return_sequences=True, reset_after=False), GRU(12, return_sequences=True),
                          SimpleRNN(8), Dense(10, activation="softmax")])
    m.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    _, lib, c = pipeline.compile_spec(m.spec())
    (tmp_path / "model.c").write_text(c)
    shutil.copy(os.path.join(os.path.dirname(lib), "model.h"), tmp_path)
    flags = [f for f in build.default_flags() if not f.startswith(("-march", "-mcpu", "-mprefer", "-O"))]
    r = subprocess.run([gcc, *flags, "-O3", "-march=haswell", "-fopt-info-vec-optimized", "-c", "model.c",
                        "-o", os.devnull], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    vectorized = {int(n) for n in re.findall(r"model\.c:(\d+):\d+: optimized: loop vectorized", r.stderr)}
    lines = c.split("\n")
    loops = [i + 2 for i, line in enumerate(lines) if "#pragma omp simd" in line]            # the for's line, 1-based
    loops += [i for i, line in enumerate(lines) if "mask[t] = seqc_uniform(" in line]          # the for above it
    assert len(loops) == 12, len(loops)
    scalar = [lines[n - 1].strip() for n in loops if not vectorized & set(range(n, n + 3))]
    assert not scalar, scalar
