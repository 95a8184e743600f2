"""Convolution, pooling and reshaping layers: forward against a numpy reference, every backward
kernel against central finite differences, and shape / error rules."""
import numpy as np
import pytest
from fd_params import check_param_gradients

import seqc.keras as keras
from seqc import pipeline
from seqc.errors import SeqcError
from seqc.keras import backend as K
from seqc.keras.layers import (AveragePooling1D, AveragePooling2D, Conv1D, Conv2D, Dense, Flatten,
                               GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
                               GlobalMaxPooling2D, Input, MaxPooling1D, MaxPooling2D, Reshape, ZeroPadding2D)
from seqc.keras.models import Sequential


def weighted_sum(y_true, y_pred):
    """sum(y_pred * r): its gradient w.r.t. y_pred is r, any layer's VJP can be checked."""
    return K.sum(y_pred * y_true)


CASES = {
    "conv2d_valid": ((7, 8, 3), [Conv2D(4, 3)]),
    "conv2d_same_s2": ((7, 8, 3), [Conv2D(4, (2, 3), strides=2, padding="same", activation="tanh")]),
    "conv2d_dilated_same": ((7, 8, 2), [Conv2D(3, 3, dilation_rate=2, padding="same", use_bias=False)]),
    # relu itself is checked exactly against Keras (test_conv_golden); FD needs smooth functions
    "conv2d_s21_softplus": ((7, 8, 2), [Conv2D(3, (3, 2), strides=(2, 1), activation="softplus")]),
    "conv2d_two_layers": ((9, 9, 2), [Conv2D(5, 3, activation="elu"), Conv2D(3, 2, padding="same")]),
    "conv1d_causal_dilated": ((11, 4), [Conv1D(3, 3, padding="causal", dilation_rate=2)]),
    # full register panels (32 filters), a panel plus a tail (40), and wide inputs (33 channels)
    "conv2d_f40_same": ((6, 7, 3), [Conv2D(40, 3, padding="same", activation="softplus")]),
    "conv1d_f64_c33": ((9, 33), [Conv1D(64, 3, activation="tanh")]),
    "conv2d_c33_f32_s2": ((7, 6, 33), [Conv2D(32, (3, 2), strides=2, padding="same")]),
    "conv1d_same_s2": ((11, 4), [Conv1D(3, 3, strides=2, padding="same", activation="sigmoid")]),
    "maxpool2d_same": ((7, 8, 3), [Conv2D(3, 1), MaxPooling2D(3, strides=2, padding="same")]),
    "avgpool2d_same": ((7, 8, 3), [Conv2D(3, 1), AveragePooling2D((2, 3), padding="same")]),
    "maxpool1d": ((11, 4), [Conv1D(3, 1), MaxPooling1D(3)]),
    "avgpool1d_s1": ((11, 4), [Conv1D(3, 1), AveragePooling1D(3, strides=1, padding="same")]),
    "global_avg2d": ((5, 6, 3), [Conv2D(4, 2), GlobalAveragePooling2D()]),
    "global_max2d_keep": ((5, 6, 3), [Conv2D(4, 2), GlobalMaxPooling2D(keepdims=True)]),
    "global_avg1d": ((9, 4), [Conv1D(4, 2), GlobalAveragePooling1D()]),
    "global_max1d": ((9, 4), [Conv1D(4, 2), GlobalMaxPooling1D()]),
    "pad_flatten_dense": ((4, 5, 2), [ZeroPadding2D(((1, 2), (0, 3))), Conv2D(2, 2), Flatten(), Dense(3)]),
    "reshape": ((4, 6), [Reshape((3, -1)), Conv1D(2, 2), Reshape((-1,))]),
}


def build(name):
    shape, layers = CASES[name]
    model = Sequential([Input(shape)] + [type(l)(**_args(l)) for l in layers])
    model.compile("sgd", weighted_sum)
    return model


def _args(layer):
    """Re-create a layer from its config (the CASES hold templates)."""
    cfg = dict(layer.spec().config)
    cfg.pop("trainable")
    kind = type(layer).__name__
    if kind in ("Conv1D", "Conv2D"):
        cfg.pop("rank")
        return cfg
    if "Pooling" in kind and "Global" not in kind:
        return {"pool_size": tuple(cfg["pool_size"]), "strides": tuple(cfg["strides"]), "padding": cfg["padding"]}
    if "Global" in kind:
        return {"keepdims": cfg["keepdims"]}
    if kind == "Reshape":
        return {"target_shape": tuple(cfg["target_shape"])}
    if kind == "Dense":
        return {"units": cfg["units"]}
    if kind == "ZeroPadding2D":
        return {"padding": tuple(tuple(p) for p in cfg["padding"])}
    return {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_finite_differences(name):
    check_param_gradients(build(name), CASES[name][0], name, samples=40, min_checked=20)


def test_forward_conv_matches_numpy():
    model = Sequential([Input((7, 8, 3)), Conv2D(4, (2, 3), strides=2, padding="same")])
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 8, 3)).astype(np.float32)
    W, b = model.get_weights()
    xp = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))     # same: total pad 1 on each axis, after
    ref = np.zeros((2, 4, 4, 4))
    for i in range(4):
        for j in range(4):
            ref[:, i, j] = np.tensordot(xp[:, 2 * i:2 * i + 2, 2 * j:2 * j + 3], W, axes=([1, 2, 3], [0, 1, 2])) + b
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)


def test_output_shapes_follow_keras_arithmetic():
    cases = [
        (Conv2D(2, 3, strides=2), (8, 8, 1), (3, 3, 2)),
        (Conv2D(2, 3, strides=2, padding="same"), (7, 8, 1), (4, 4, 2)),
        (Conv2D(2, 3, dilation_rate=2), (9, 9, 1), (5, 5, 2)),
        (Conv1D(2, 3, padding="causal", dilation_rate=2), (10, 3), (10, 2)),
        (Conv1D(2, 3, strides=3), (10, 3), (3, 2)),
        (MaxPooling2D(), (7, 9, 2), (3, 4, 2)),
        (MaxPooling2D(padding="same"), (7, 9, 2), (4, 5, 2)),
        (MaxPooling1D(3, strides=1), (10, 2), (8, 2)),
        (GlobalAveragePooling1D(keepdims=True), (10, 2), (1, 2)),
        (Flatten(), (3, 4, 5), (60,)),
        (ZeroPadding2D(2), (3, 4, 5), (7, 8, 5)),
    ]
    for layer, inp, out in cases:
        model = Sequential([Input(inp), layer])
        assert model.output_shape == (None,) + out, (layer, model.output_shape)


def test_kernel_larger_than_input_is_a_compile_time_error():
    model = Sequential([Input((4, 4, 1)), Conv2D(2, 5)])
    with pytest.raises(SeqcError, match=r"conv2d.*kernel 5x5.*larger than its input 4x4") as e:
        model.compile("sgd", "mse")
    assert e.value.loc is not None and e.value.loc.file.endswith("test_conv.py")


def test_wrong_spatial_shape_is_a_value_error():
    model = Sequential([Input((10, 10, 3)), Conv2D(2, 3), Flatten(), Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"\(None, 10, 10, 3\)"):
        model.predict(np.zeros((2, 10, 10, 4)), verbose=0)
    with pytest.raises(ValueError, match=r"\(None, 10, 10, 3\)"):
        model.fit(np.zeros((2, 9, 10, 3)), np.zeros((2, 1)), verbose=0)


def test_argument_errors():
    with pytest.raises(ValueError, match="filters"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="dilation"):
        Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding"):
        Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="padding"):
        MaxPooling2D(padding="full")
    with pytest.raises(ValueError, match="rank"):
        m = Sequential([Input((10, 3)), Conv2D(2, 3)])
        m.compile("sgd", "mse")


def test_thread_count_does_not_change_forward():
    model = Sequential([Input((12, 12, 3)), Conv2D(8, 3, activation="relu"), MaxPooling2D(), Flatten(), Dense(2)])
    model.compile("adam", "mse")
    x = np.random.default_rng(0).random((9, 12, 12, 3)).astype(np.float32)
    engine = model._runtime._engine
    engine.set_threads(1)
    a = model.predict(x, verbose=0)
    engine.set_threads(2)
    np.testing.assert_array_equal(model.predict(x, verbose=0), a)


def test_small_batch_inference_splits_rows_between_threads():
    """With fewer samples than threads, a convolution's output rows are shared out: the
    outputs must not depend on the batch size (padded, strided and plain layers)."""
    from seqc.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from seqc.keras.models import Sequential
    model = Sequential([Conv2D(8, 3, padding="same", activation="relu", input_shape=(9, 7, 3)),
                        Conv2D(6, 3, strides=2, padding="same"), MaxPooling2D(2), Conv2D(5, 2),
                        Flatten(), Dense(3)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(5, 9, 7, 3)).astype(np.float32)
    ref = model.predict(x, batch_size=5, verbose=0)
    for bs in (1, 2, 3):
        np.testing.assert_allclose(model.predict(x, batch_size=bs, verbose=0), ref, rtol=1e-6, atol=1e-6)
    # training after single-sample calls still matches a fresh model's gradients
    g1 = model._runtime._engine.gradients(x[:1], np.ones((1, 3), np.float32))[1]
    g2 = model._runtime._engine.gradients(np.repeat(x[:1], 4, 0), np.ones((4, 3), np.float32))[1]
    np.testing.assert_allclose(g1, g2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("steps, channels, filters", [(44, 33, 40), (160, 70, 48)])
def test_conv1d_gradients_against_numpy(threads, steps, channels, filters):
    """dW, db of two stacked Conv1D layers against numpy in float64, over 11 samples (chunks of
    5 and 6 samples on two threads): a first layer (no dx) and a second one (dx, activation),
    filters a register panel and a tail. The longer sequence's rows do not fit L1 with their dz,
    so its weight gradient runs them in pieces: 53, 53 and 52 pixels in the first layer, 78 and
    78 in the second (checked in the generated C)."""
    rng = np.random.default_rng(3)
    keras.utils.set_random_seed(3)   # the initial weights too, whatever order the tests run in
    model = Sequential([Input((steps, channels)), Conv1D(filters, 3), Conv1D(5, 3, activation="tanh")])
    model.compile("sgd", weighted_sum)
    if steps == 160:
        c = pipeline.compile_spec(model.spec())[2]
        assert "ow0 += 53)   /* the row in pieces of 53 pixels */" in c
        assert "ow0 += 78)   /* the row in pieces of 78 pixels */" in c
    eng = model._runtime._engine
    eng.set_threads(threads)
    ow1, ow2 = steps - 2, steps - 4
    x = rng.normal(size=(11, steps, channels)).astype(np.float32)
    r = rng.normal(size=(11, ow2, 5)).astype(np.float32)
    w1, b1, w2, b2 = [w.astype(np.float64) for w in model.get_weights()]
    xd = x.astype(np.float64)

    def windows(a, k):              # (n, ow, k, c): the k-wide windows of a valid convolution
        return np.stack([a[:, j:a.shape[1] - k + 1 + j] for j in range(k)], axis=2)

    h = np.einsum("nokc,kcf->nof", windows(xd, 3), w1) + b1
    z = np.einsum("nokc,kcf->nof", windows(h, 3), w2) + b2
    dz = r * (1 - np.tanh(z) ** 2)
    dw2 = np.einsum("nokc,nof->kcf", windows(h, 3), dz)
    dh = np.zeros_like(h)
    for j in range(3):
        dh[:, j:j + ow2] += dz @ w2[j].T
    dw1 = np.einsum("nokc,nof->kcf", windows(xd, 3), dh)
    assert dh.shape[1] == ow1
    loss, g = eng.gradients(x, r.reshape(11, -1))
    scale = loss / float(np.sum(np.tanh(z) * r))        # the loss's reduction over the batch
    expect = np.concatenate([dw1.ravel(), dh.sum((0, 1)), dw2.ravel(), dz.sum((0, 1))]) * scale
    np.testing.assert_allclose(g, expect, rtol=2e-4, atol=2e-4 * np.abs(expect).max())


def test_conv1d_and_long_dense_rows_build_warning_free(monkeypatch):
    """-Wall -Wextra at the shipping -O3 (its flow analysis warns where the suite's -O1 does
    not): a first Conv1D without dx, bias or activation, and a Dense whose K spans several GEMM
    K blocks (its small-batch path sums them; gcc once took its accumulator for uninitialised)."""
    import os
    monkeypatch.setenv("SEQC_OPT", "-O3")
    model = Sequential([Input((100, 8)), Conv1D(16, 3, use_bias=False), Conv1D(12, 3), Flatten(), Dense(3)])
    model.compile("adam", "mse")
    model.predict(np.zeros((1, 100, 8), np.float32), verbose=0)
    assert model.layers[-1].kernel.shape[0] == 96 * 12 > 4 * 256          # GEMM_KC is 256
    log = os.path.join(os.path.dirname(model._runtime._engine.lib_path), "build.log")
    text = open(log).read().splitlines()[2:]
    assert not [l for l in text if "warning" in l], "\n".join(text)
