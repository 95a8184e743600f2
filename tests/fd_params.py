"""The finite-difference check of every parameter gradient that the convolution tests share:
a model compiled with a loss sum(y_pred * r), its C gradient against central differences at
two step sizes (an index whose two estimates disagree has a kink within the step: skipped)."""
import numpy as np
import pytest


def check_param_gradients(model, sample_shape, name, samples, min_checked):
    eng = model._runtime._engine
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3,) + tuple(sample_shape)).astype(np.float32)
    out_shape = model.predict(x, verbose=0).shape
    r = (rng.normal(size=out_shape) / np.sqrt(np.prod(out_shape))).astype(np.float32)   # loss of order 1
    w0 = eng.params.copy()
    eng.params[:] = rng.normal(scale=0.5, size=w0.shape)
    _, g = eng.gradients(x, r.reshape(3, -1))

    def f(p):
        eng.params[:] = p
        return eng.gradients(x, r.reshape(3, -1))[0]

    p0 = eng.params.copy()
    h = 1e-2
    checked = 0
    for i in rng.choice(len(p0), size=min(samples, len(p0)), replace=False):
        fd = []
        for step in (h, h / 2):
            pp, pm = p0.copy(), p0.copy()
            pp[i] += step
            pm[i] -= step
            fd.append((f(pp) - f(pm)) / (2 * step))
        if abs(fd[0] - fd[1]) > 1e-2 * (1 + abs(fd[1])):
            continue          # a kink (relu at 0, a max changing hands) lies within the step
        checked += 1
        assert g[i] == pytest.approx(fd[1], rel=3e-2, abs=3e-3 * float(np.abs(g).max())), (name, i)
    assert checked >= min(min_checked, len(p0) // 2)
    eng.params[:] = p0
