"""Transposed, depthwise and separable convolutions and bilinear upsampling: every backward
kernel against central finite differences (the C gradients of a loss whose gradient with
respect to the output is a fixed random array), output shapes as Keras computes them, and the
argument and shape errors. Their Keras goldens are in test_convx_golden.py."""
import numpy as np
import pytest

import seqc.keras as keras
from seqc.errors import SeqcError
from seqc.keras import backend as K
from seqc.keras.layers import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, DepthwiseConv1D,
                               DepthwiseConv2D, Input, SeparableConv1D, SeparableConv2D, UpSampling2D)
from seqc.keras.models import Sequential


def weighted_sum(y_true, y_pred):
    """sum(y_pred * r): its gradient with respect to y_pred is r."""
    return K.sum(y_pred * y_true)


# (input shape, layers): the layer under test after a Conv (so its dx is checked through the
# conv's weights) or first (its weight gradient alone)
CASES = {
    "ct2d_valid": ((4, 5, 3), lambda: [Conv2DTranspose(2, 3)]),
    "ct2d_same_s2_tanh": ((4, 5, 3), lambda: [Conv2D(3, 1), Conv2DTranspose(4, 3, strides=2, padding="same",
                                                                            activation="tanh")]),
    "ct2d_s21_valid": ((4, 5, 3), lambda: [Conv2D(2, 1), Conv2DTranspose(3, (2, 3), strides=(2, 1))]),
    "ct2d_same_outpad": ((3, 4, 2), lambda: [Conv2D(2, 1), Conv2DTranspose(3, 3, strides=2, padding="same",
                                                                          output_padding=1, use_bias=False)]),
    "ct2d_s3_k2": ((3, 4, 2), lambda: [Conv2D(2, 1), Conv2DTranspose(3, 2, strides=3, activation="softplus")]),
    "ct2d_dilated": ((5, 5, 2), lambda: [Conv2D(2, 1), Conv2DTranspose(3, 3, dilation_rate=2, padding="same")]),
    "ct2d_f40_c33": ((3, 3, 33), lambda: [Conv2D(33, 1), Conv2DTranspose(40, 2, strides=2, padding="same")]),
    "ct1d_same_s2": ((6, 3), lambda: [Conv1D(3, 1), Conv1DTranspose(3, 3, strides=2, padding="same",
                                                                    activation="sigmoid")]),
    "ct1d_outpad": ((6, 3), lambda: [Conv1D(2, 1), Conv1DTranspose(2, 4, strides=3, output_padding=2)]),
    "dw2d_valid": ((5, 6, 3), lambda: [DepthwiseConv2D(3)]),
    "dw2d_same_s2_m2": ((5, 6, 3), lambda: [Conv2D(3, 1), DepthwiseConv2D(3, strides=2, padding="same",
                                                                         depth_multiplier=2, activation="tanh")]),
    "dw2d_dilated_m3": ((7, 6, 2), lambda: [Conv2D(2, 1), DepthwiseConv2D((2, 3), dilation_rate=2, padding="same",
                                                                         depth_multiplier=3, use_bias=False)]),
    "dw2d_s2_valid_edge": ((6, 7, 2), lambda: [Conv2D(2, 1), DepthwiseConv2D(2, strides=2)]),
    "dw1d_same_s2": ((8, 3), lambda: [Conv1D(3, 1), DepthwiseConv1D(3, strides=2, padding="same",
                                                                    depth_multiplier=2, activation="softplus")]),
    "sep2d_valid": ((5, 6, 3), lambda: [Conv2D(3, 1), SeparableConv2D(4, 3)]),
    "sep2d_same_s2_m2": ((5, 6, 3), lambda: [Conv2D(3, 1), SeparableConv2D(4, 3, strides=2, padding="same",
                                                                           depth_multiplier=2, activation="elu")]),
    "sep1d_same_softmax": ((8, 3), lambda: [Conv1D(3, 1), SeparableConv1D(5, 3, padding="same", depth_multiplier=2,
                                                                          activation="softmax")]),
    "bilinear_2x2": ((3, 4, 2), lambda: [Conv2D(2, 1), UpSampling2D(interpolation="bilinear")]),
    "bilinear_3x2": ((3, 4, 2), lambda: [Conv2D(3, 2), UpSampling2D((3, 2), interpolation="bilinear")]),
    "bilinear_1x4": ((2, 5, 3), lambda: [Conv2D(2, 1), UpSampling2D((1, 4), interpolation="bilinear")]),
}


def build(name):
    shape, layers = CASES[name]
    model = Sequential([Input(shape)] + layers())
    model.compile("sgd", weighted_sum)
    return model


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_finite_differences(name):
    model = build(name)
    eng = model._runtime._engine
    rng = np.random.default_rng(1)
    shape = CASES[name][0]
    x = rng.normal(size=(3,) + shape).astype(np.float32)
    out_shape = model.predict(x, verbose=0).shape
    r = (rng.normal(size=out_shape) / np.sqrt(np.prod(out_shape))).astype(np.float32)   # loss of order 1
    w0 = eng.params.copy()
    eng.params[:] = rng.normal(scale=0.5, size=w0.shape)
    loss, g = eng.gradients(x, r.reshape(3, -1))

    def f(p):
        eng.params[:] = p
        return eng.gradients(x, r.reshape(3, -1))[0]

    p0 = eng.params.copy()
    h = 1e-2
    checked = 0
    for i in rng.choice(len(p0), size=min(48, len(p0)), replace=False):
        fd = []
        for step in (h, h / 2):
            pp, pm = p0.copy(), p0.copy()
            pp[i] += step
            pm[i] -= step
            fd.append((f(pp) - f(pm)) / (2 * step))
        if abs(fd[0] - fd[1]) > 1e-2 * (1 + abs(fd[1])):
            continue          # a kink within the step
        checked += 1
        assert g[i] == pytest.approx(fd[1], rel=3e-2, abs=3e-3 * float(np.abs(g).max())), (name, i)
    assert checked >= min(24, len(p0) // 2)
    eng.params[:] = p0
