"""Transposed, depthwise and separable convolutions and bilinear upsampling: every backward
kernel against central finite differences (the C gradients of a loss whose gradient with
respect to the output is a fixed random array), output shapes as Keras computes them, and the
argument and shape errors. Their Keras goldens are in test_convx_golden.py."""
import numpy as np
import pytest
from fd_params import check_param_gradients

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
    "ct2d_s1_f40_c33": ((3, 4, 33), lambda: [Conv2D(33, 1), Conv2DTranspose(40, (2, 3), padding="same",
                                                                            activation="softplus")]),
    "ct1d_s1_same": ((6, 3), lambda: [Conv1D(3, 1), Conv1DTranspose(4, 4, padding="same", use_bias=False)]),
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
    check_param_gradients(build(name), CASES[name][0], name, samples=48, min_checked=24)


# Keras 3.15's output shapes and weight shapes for these layers (printed by Keras for this table)
SHAPES = [
    ("Conv2DTranspose", (5, 7, 3), dict(filters=2, kernel_size=3, strides=2), (11, 15, 2), [(3, 3, 2, 3), (2,)]),
    ("Conv2DTranspose", (5, 7, 3), dict(filters=2, kernel_size=4, strides=3, padding="same"), (15, 21, 2),
     [(4, 4, 2, 3), (2,)]),
    ("Conv2DTranspose", (5, 7, 3), dict(filters=2, kernel_size=(1, 5), strides=(3, 2), padding="same",
                                        output_padding=(2, 1)), (15, 14, 2), [(1, 5, 2, 3), (2,)]),
    ("Conv2DTranspose", (5, 7, 3), dict(filters=2, kernel_size=2, strides=4, output_padding=3), (21, 29, 2),
     [(2, 2, 2, 3), (2,)]),
    ("Conv2DTranspose", (5, 7, 3), dict(filters=2, kernel_size=3, dilation_rate=3), (11, 13, 2), [(3, 3, 2, 3), (2,)]),
    ("Conv1DTranspose", (9, 3), dict(filters=4, kernel_size=5, strides=4, padding="same", output_padding=0), (33, 4),
     [(5, 4, 3), (4,)]),
    ("Conv1DTranspose", (9, 3), dict(filters=4, kernel_size=2, strides=5), (45, 4), [(2, 4, 3), (4,)]),
    ("DepthwiseConv2D", (9, 8, 3), dict(kernel_size=3, strides=(2, 3), padding="same", depth_multiplier=4), (5, 3, 12),
     [(3, 3, 3, 4), (12,)]),
    ("DepthwiseConv1D", (9, 3), dict(kernel_size=4, strides=2, depth_multiplier=2), (3, 6), [(4, 3, 2), (6,)]),
    ("SeparableConv2D", (9, 8, 3), dict(filters=5, kernel_size=(3, 2), strides=2, dilation_rate=2), (3, 3, 5),
     [(3, 2, 3, 1), (1, 1, 3, 5), (5,)]),
    ("SeparableConv1D", (9, 3), dict(filters=5, kernel_size=3, strides=3, padding="same"), (3, 5),
     [(3, 3, 1), (1, 3, 5), (5,)]),
]


@pytest.mark.parametrize("cls, shape, kw, out, weights", SHAPES)
def test_output_and_weight_shapes_follow_keras(cls, shape, kw, out, weights):
    model = Sequential([Input(shape), getattr(keras.layers, cls)(**kw)])
    assert tuple(model.output_shape[1:]) == out
    assert [tuple(w.shape) for w in model.get_weights()] == weights


@pytest.mark.parametrize("make, match", [
    (lambda: Conv2DTranspose(2, 3, data_format="channels_first"), "channels_last"),
    (lambda: Conv2DTranspose(2, 3, strides=2, output_padding=2), "output_padding"),
    (lambda: Conv2DTranspose(2, 3, strides=(2, 1), output_padding=(1, 1)), "output_padding"),
    (lambda: Conv2DTranspose(2, 3, strides=2, dilation_rate=2), "dilation_rate"),
    (lambda: Conv2DTranspose(2, 3, padding="causal"), "padding"),
    (lambda: Conv1DTranspose(2, 3, kernel_regularizer="l2"), "kernel_regularizer"),
    (lambda: Conv2DTranspose(0, 3), "filters"),
    (lambda: Conv2DTranspose(2, (3, 3, 3)), "kernel_size"),
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
    (lambda: DepthwiseConv2D(3, data_format="channels_first"), "channels_last"),
    (lambda: DepthwiseConv1D(3, depthwise_constraint="non_neg"), "depthwise_constraint"),
    (lambda: SeparableConv2D(4, 3, pointwise_regularizer="l1"), "pointwise_regularizer"),
    (lambda: SeparableConv2D(4, 3, depth_multiplier=1.5), "depth_multiplier"),
    (lambda: SeparableConv1D(4, 3, padding="full"), "padding"),
    (lambda: UpSampling2D(interpolation="bicubic"), "bicubic"),
    (lambda: UpSampling2D(interpolation="cubic"), "interpolation"),
    (lambda: UpSampling2D(interpolation=3), "interpolation"),
])
def test_argument_errors_name_the_layer_and_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bilinear_interpolation_is_case_insensitive_as_in_keras():
    assert UpSampling2D(interpolation="BiLinear").interpolation == "bilinear"


@pytest.mark.parametrize("layers, match", [
    (lambda: [DepthwiseConv2D(5)], "larger than its input"),
    (lambda: [SeparableConv2D(2, (2, 6))], "larger than its input"),
    (lambda: [Conv2DTranspose(2, 3)], "rank 4"),
])
def test_shape_errors_before_any_c(layers, match):
    with pytest.raises(SeqcError, match=match):
        Sequential([Input((4, 4) if "rank" in match else (4, 4, 2))] + layers()).compile("sgd", "mse")


def test_empty_transposed_output_is_an_error():
    # 'same' with an even kernel and output_padding 0 on a length-1 axis: (1 - 1) * 2 + 0 + 0 = 0
    with pytest.raises(SeqcError, match="empty"):
        Sequential([Input((1, 3)), Conv1DTranspose(2, 2, strides=2, padding="same", output_padding=0)]).compile(
            "sgd", "mse")


GENERATOR = """
from keras.models import Sequential
from keras.layers import (Dense, Reshape, Conv2DTranspose, UpSampling2D, Conv2D, SeparableConv2D,
                          DepthwiseConv2D, Conv1DTranspose, SeparableConvolution1D)
latent = 8
model = Sequential([
    Dense(4 * 4 * 16, activation="relu", input_shape=(latent,)),
    Reshape((4, 4, 16)),
    Conv2DTranspose(8, 4, strides=2, padding="same", output_padding=(0, 1), activation="relu"),
    UpSampling2D(interpolation="bilinear"),
    DepthwiseConv2D(3, padding="same", depth_multiplier=2),
    SeparableConv2D(4, 3, padding="same", activation="relu"),
    Conv2D(1, 3, padding="same", activation="tanh"),
])
model.compile(optimizer="adam", loss="mse")
"""


def test_both_front_ends_read_the_layers_alike(tmp_path):
    import builtins

    from seqc.frontend.ast_frontend import parse_model
    from seqc.frontend.runner import run_script
    path = tmp_path / "gen.py"
    path.write_text(GENERATOR)
    static = parse_model(str(path))
    path.write_text(GENERATOR + "\nimport builtins\nbuiltins._seqc_convx_model = model\n")
    try:
        run_script(str(path))
        dynamic = builtins._seqc_convx_model
    finally:
        if hasattr(builtins, "_seqc_convx_model"):
            del builtins._seqc_convx_model
    specs = [(l.spec().kind, l.spec().config) for l in static.layers]
    assert specs == [(l.spec().kind, l.spec().config) for l in dynamic.layers]
    assert [k for k, _ in specs][2:6] == ["Conv2DTranspose", "UpSampling2D", "DepthwiseConv2D", "SeparableConv2D"]
    assert specs[2][1]["output_padding"] == [0, 1] and specs[3][1]["interpolation"] == "bilinear"
    assert tuple(static.output_shape[1:]) == (12, 14, 1)     # (4 - 1) * 2 + 4 % 2 + (0, 1), doubled


def test_generated_c_is_warning_free():
    """-Wall -Wextra: the build log of a model holding every variant of the new kernels (with
    and without dx, bias, padding, saved pre-activation) has no warning."""
    import os
    model = Sequential([Input((8,)), keras.layers.Dense(4 * 4 * 6, activation="relu"), keras.layers.Reshape((4, 4, 6)),
                        Conv2DTranspose(4, 4, strides=2, padding="same", activation="elu"),
                        UpSampling2D(interpolation="bilinear"),
                        DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False, activation="selu"),
                        DepthwiseConv2D(2, strides=2),
                        SeparableConv2D(4, 3, activation="softmax"),
                        Conv2DTranspose(3, 3, use_bias=False),
                        keras.layers.Reshape((-1, 3)), Conv1DTranspose(2, 3, strides=2, activation="tanh"),
                        SeparableConv1D(2, 3, padding="same", use_bias=False), DepthwiseConv1D(3, activation="swish")])
    model.compile("adam", "mse")
    first = Sequential([Input((6, 6, 2)), Conv2DTranspose(2, 3, strides=2)])      # no dx
    first.compile("sgd", "mse")
    for m in (model, first):
        log = os.path.join(os.path.dirname(m._runtime._engine.lib_path), "build.log")
        text = open(log).read().splitlines()[2:]
        assert not [l for l in text if "warning" in l], "\n".join(text)


# hostile values for every numeric / boolean argument of the new layers, through both front
# ends (the machinery of test_hostile_args.py)
from test_hostile_args import (HOSTILE, HOSTILE_BOOL, HOSTILE_INT, _api_value, _owner,  # noqa: E402
                               _script)

HOSTILE_NUMERIC = [
    ("layers.Conv2DTranspose({v}, 3)", "filters", "int", set()),
    ("layers.Conv2DTranspose(4, {v})", "kernel_size", "int", set()),
    ("layers.Conv2DTranspose(4, 3, strides={v})", "strides", "int", set()),
    ("layers.Conv2DTranspose(4, 3, dilation_rate={v})", "dilation_rate", "int", set()),
    ("layers.Conv1DTranspose(4, 3, output_padding={v})", "output_padding", "int", {"none"}),
    ("layers.DepthwiseConv2D({v})", "kernel_size", "int", set()),
    ("layers.DepthwiseConv2D(3, depth_multiplier={v})", "depth_multiplier", "int", set()),
    ("layers.DepthwiseConv1D(3, strides={v})", "strides", "int", set()),
    ("layers.SeparableConv2D({v}, 3)", "filters", "int", set()),
    ("layers.SeparableConv1D(4, 3, depth_multiplier={v})", "depth_multiplier", "int", set()),
    ("layers.SeparableConv2D(4, 3, dilation_rate={v})", "dilation_rate", "int", set()),
    ("layers.UpSampling2D(interpolation={v})", "interpolation", "str", set()),
]
HOSTILE_BOOLEAN = ["layers.Conv2DTranspose(4, 3, use_bias={v})", "layers.DepthwiseConv2D(3, use_bias={v})",
                   "layers.SeparableConv1D(4, 3, use_bias={v})"]


def _hostile_cases():
    for call, arg, number, valid in HOSTILE_NUMERIC:
        values = HOSTILE + (HOSTILE_INT if number == "int" else [])
        values += ([] if "none" in valid else ["None"]) + ["-1"]
        for value in values:
            yield call.format(v=value), arg
    for call in HOSTILE_BOOLEAN:
        for value in HOSTILE_BOOL:
            yield call.format(v=value), "use_bias"


HOSTILE_CASES = list(_hostile_cases())


@pytest.mark.parametrize("call, arg", HOSTILE_CASES)
def test_hostile_values_are_refused_by_the_python_api(call, arg):
    with pytest.raises((ValueError, TypeError)) as info:
        _api_value(call)
    assert _owner(call) in str(info.value) and arg in str(info.value), str(info.value)


@pytest.mark.parametrize("call, arg", HOSTILE_CASES)
def test_hostile_values_are_refused_by_the_static_front_end(tmp_path, call, arg):
    from seqc.frontend.ast_frontend import parse_model
    path = tmp_path / "m.py"
    path.write_text(_script("layer", call))
    with pytest.raises(SeqcError) as info:
        parse_model(str(path))
    assert info.value.loc is not None and info.value.loc.line == 3, str(info.value)
    if "**" in call and "too large for a static evaluation" in info.value.message:
        return
    assert _owner(call) in info.value.message and arg in info.value.message, info.value.message


SANITIZE_SNIPPET = """
import numpy as np
from sanitize_cases import RNG, exercise, onehot
from seqc.keras import layers as L
from seqc.keras import optimizers as O
x = RNG.normal(size=(16, 5, 6, 3)).astype(np.float32)
exercise([L.Input((5, 6, 3)), L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
          L.UpSampling2D(interpolation="bilinear"), L.DepthwiseConv2D(3, padding="same", depth_multiplier=2),
          L.SeparableConv2D(4, 3, strides=2, activation="tanh"), L.Conv2DTranspose(2, 2, strides=3, use_bias=False),
          L.Flatten(), L.Dense(3, activation="softmax")],
         O.Adam(0.01), "categorical_crossentropy", x, onehot(16, 3))
x1 = RNG.normal(size=(16, 7, 3)).astype(np.float32)
exercise([L.Input((7, 3)), L.Conv1DTranspose(4, 4, strides=3, output_padding=2), L.DepthwiseConv1D(3, strides=2),
          L.SeparableConv1D(3, 3, padding="same", depth_multiplier=2), L.Flatten(), L.Dense(1)],
         O.SGD(0.01, momentum=0.9), "mse", x1, RNG.normal(size=(16, 1)).astype(np.float32), metrics=())
print("convx ok")
"""


@pytest.mark.sanitize
def test_kernels_are_clean_under_sanitizers():
    """The new kernels trained, evaluated and run under ASan/UBSan (as tests/test_sanitize.py
    runs the other templates: a process of its own with libasan preloaded)."""
    import os
    import subprocess
    import sys

    from test_sanitize import LIBASAN, REPORT
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(here), here]))
    if LIBASAN is not None:
        env.update(SEQC_SANITIZE="1", LD_PRELOAD=LIBASAN, ASAN_OPTIONS="detect_leaks=0",
                   UBSAN_OPTIONS="print_stacktrace=1")
    # (a compiler without libasan: the same run unsanitized, which must still finish cleanly)
    env.setdefault("OMP_NUM_THREADS", "2")
    r = subprocess.run([sys.executable, "-c", SANITIZE_SNIPPET], env=env, capture_output=True, text=True,
                       errors="replace", timeout=900)
    assert not REPORT.search(r.stderr), r.stderr[-4000:]
    assert r.returncode == 0 and "convx ok" in r.stdout, r.stderr[-4000:]


def test_thread_count_and_batch_split_do_not_change_results():
    """Samples are split over threads in fixed chunks and the weight gradients' per-thread sums
    are added in thread order: outputs and gradients do not depend on the thread count beyond
    that order, and predictions not on the batch size."""
    model = Sequential([Input((5, 6, 3)), Conv2DTranspose(4, 3, strides=2, padding="same", activation="tanh"),
                        UpSampling2D(interpolation="bilinear"), DepthwiseConv2D(3, padding="same", depth_multiplier=2),
                        SeparableConv2D(3, 3, strides=2), keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5, 6, 3)).astype(np.float32)
    y = rng.normal(size=(7, 2)).astype(np.float32)
    engine = model._runtime._engine
    engine.set_threads(1)
    a = model.predict(x, verbose=0)
    ga = engine.gradients(x, y)[1].copy()
    engine.set_threads(2)
    np.testing.assert_array_equal(model.predict(x, verbose=0), a)
    np.testing.assert_allclose(engine.gradients(x, y)[1], ga, rtol=1e-5, atol=1e-6)
    for bs in (1, 3):
        np.testing.assert_array_equal(model.predict(x, batch_size=bs, verbose=0), a)


def test_layers_of_one_shape_share_their_kernels():
    """Named by their geometry, identical depthwise / transposed convolutions are emitted once;
    one with another activation gets a version of its own."""
    import os
    import re
    model = Sequential([Input((6, 6, 4)), Conv2D(4, 1), DepthwiseConv2D(3, padding="same", activation="relu"),
                        DepthwiseConv2D(3, padding="same", activation="relu"),
                        DepthwiseConv2D(3, padding="same", activation="tanh"),
                        Conv2DTranspose(4, 1), Conv2DTranspose(4, 1)])
    model.compile("sgd", "mse")
    src = open(os.path.join(os.path.dirname(model._runtime._engine.lib_path), "model.c")).read()
    kernels = re.findall(r"^static void (\w+)_forward\(", src, re.M)
    assert sorted(kernels[1:]) == sorted(["depthwise_6x6x4_k3x3_p1x1_to6x6x4", "depthwise_6x6x4_k3x3_p1x1_to6x6x4_v2",
                                      "conv_transpose_6x6x4_k1x1_p0x0_to6x6x4"]), kernels
    calls = re.findall(r"^    (\w+)_forward\(B", src, re.M)[1:]
    assert calls == ["depthwise_6x6x4_k3x3_p1x1_to6x6x4"] * 2 + ["depthwise_6x6x4_k3x3_p1x1_to6x6x4_v2"] + \
        ["conv_transpose_6x6x4_k1x1_p0x0_to6x6x4"] * 2
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype(np.float32)
    assert model.predict(x, verbose=0).shape == (2, 6, 6, 4)
