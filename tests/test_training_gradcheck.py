"""Finite-difference checks of the training paths of issue 9: the weighted loss (per-row loss
scaled by the sample weights, fused and traced losses) and the regularization penalties.

`engine.gradients(x, y, sw=...)` (the C backward, float32) is compared with central
differences of the loss the same engine reports, one parameter at a time. Smooth
activations only (tanh, sigmoid, softmax), so no parameter sits on a kink; l1 penalties are
checked on weights away from 0.
"""
import numpy as np
import pytest

from seqc import keras

H = 1e-2
RTOL, ATOL = 2e-2, 2e-3


def _fd_check(model, x, y, sw=None, min_abs=0.0):
    eng = model._rt()._engine if hasattr(model, "_rt") else model.engine
    loss, g = eng.gradients(x, y, sw=sw)
    p = eng.params
    num = np.empty_like(g)
    for i in range(len(p)):
        old = p[i]
        p[i] = old + H
        lp = eng.gradients(x, y, sw=sw)[0]
        p[i] = old - H
        lm = eng.gradients(x, y, sw=sw)[0]
        p[i] = old
        num[i] = (lp - lm) / (2 * H)
    np.testing.assert_allclose(g, num, rtol=RTOL, atol=ATOL)
    assert np.abs(g).max() > 10 * ATOL      # a gradient that is not trivially zero
    return loss, g


def _mlp(head, loss, hidden_kw=None, head_kw=None, seed=0):
    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6, activation="tanh", **(hidden_kw or {})),
                              keras.layers.Dense(head[0], activation=head[1], **(head_kw or {}))])
    model.loc = None
    model.compile(optimizer="sgd", loss=loss)
    model.set_weights([0.6 * rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    return model


PROBLEMS = {
    "mse": ((3, "linear"), "mse"),
    "softmax_cce": ((4, "softmax"), "categorical_crossentropy"),
    "softmax_scce": ((4, "softmax"), "sparse_categorical_crossentropy"),
    "sigmoid_bce": ((1, "sigmoid"), "binary_crossentropy"),
    "huber": ((3, "tanh"), "huber"),
}


def _data(key, n=7, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    head = PROBLEMS[key][0]
    if key == "softmax_scce":
        y = rng.integers(0, 4, (n, 1)).astype(np.float32)
    elif key == "softmax_cce":
        y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)]
    elif key == "sigmoid_bce":
        y = (rng.random((n, 1)) > 0.5).astype(np.float32)
    else:
        y = rng.standard_normal((n, head[0])).astype(np.float32)
    sw = (2 * rng.random(n)).astype(np.float32)
    sw[2] = 0.0
    return x, y, sw


@pytest.mark.parametrize("key", sorted(PROBLEMS))
def test_weighted_loss_gradient(key):
    head, loss = PROBLEMS[key]
    model = _mlp(head, loss)
    x, y, sw = _data(key)
    wl, wg = _fd_check(model, x, y, sw)
    # and it is the weighted sum over the batch size of the per-row losses
    eng = model._rt()._engine
    rows = [eng.gradients(x[i:i + 1], y[i:i + 1])[0] for i in range(len(x))]
    assert abs(wl - float(np.dot(sw, rows)) / len(x)) < 1e-5 * max(1.0, abs(wl))
    # unit weights give the unweighted loss and gradient
    ul, ug = eng.gradients(x, y)
    l1, g1 = eng.gradients(x, y, sw=np.ones(len(x), np.float32))
    assert abs(l1 - ul) < 1e-6 * max(1.0, abs(ul))
    np.testing.assert_allclose(g1, ug, rtol=1e-5, atol=1e-7)


PENALTIES = {
    "kernel_l1_l2_bias_l2": dict(hidden_kw=dict(kernel_regularizer=keras.regularizers.L1L2(0.05, 0.1),
                                                bias_regularizer=keras.regularizers.L2(0.2))),
    "activity_l2_hidden": dict(hidden_kw=dict(activity_regularizer=keras.regularizers.L2(0.3))),
    "activity_l2_head_softmax": dict(head_kw=dict(activity_regularizer=keras.regularizers.L2(0.5)),
                                     problem="softmax_cce"),
    "activity_l1l2_head_kernel_l1": dict(head_kw=dict(activity_regularizer=keras.regularizers.L1L2(0.0, 0.2),
                                                      kernel_regularizer=keras.regularizers.L1(0.1))),
}


@pytest.mark.parametrize("key", sorted(PENALTIES))
@pytest.mark.parametrize("weighted", [False, True])
def test_penalty_gradient(key, weighted):
    cfg = dict(PENALTIES[key])
    problem = cfg.pop("problem", "mse")
    head, loss = PROBLEMS[problem]
    model = _mlp(head, loss, **cfg)
    # l1 has a kink at 0: keep every weight at least 0.05 away from it (H = 0.01)
    model.set_weights([np.where(w >= 0, 1, -1) * np.maximum(np.abs(w), 0.05) for w in model.get_weights()])
    x, y, sw = _data(problem)
    loss_value, _ = _fd_check(model, x, y, sw if weighted else None)
    # the penalty is part of the reported loss: the same model without it reports less
    plain = _mlp(head, loss)
    plain.set_weights(model.get_weights())
    assert loss_value > plain._rt()._engine.gradients(x, y, sw=sw if weighted else None)[0] + 1e-4
