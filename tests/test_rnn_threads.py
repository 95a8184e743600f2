"""Recurrent layers with 1 and 2 threads (issue 13): each thread runs the time loop on slices of
the batch (forward: slices of 8 samples shared out dynamically; backward: its own slice), then
its rows of dx and the weight gradients over its rows (partial sums, added after one barrier). The outputs and gradients agree within float rounding, not bitwise: the
partial sums add in another order, and a block of one or two rows at the end of a thread's slice
sums the recurrent product in another order."""
import numpy as np
import pytest

from seqc import build

CASES = {
    # LSTM keeping its gate values (sigmoid/tanh), stacked, dx through the second layer
    "lstm_stacked": lambda L: [L.Input((5, 33)), L.LSTM(40, return_sequences=True), L.LSTM(24), L.Dense(3)],
    # LSTM recomputing its gates in the backward pass (softplus's gradient reads y, gelu's x)
    "lstm_gelu": lambda L: [L.Input((4, 7)), L.LSTM(20, activation="gelu", return_sequences=True),
                            L.LSTM(9, go_backwards=True)],
    "lstm_dropout": lambda L: [L.Input((4, 6)), L.LSTM(10, dropout=0.3, recurrent_dropout=0.2,
                                                       return_sequences=True), L.LSTM(5)],
    "gru": lambda L: [L.Input((6, 5)), L.GRU(12, return_sequences=True), L.GRU(7)],
    "gru_reset_before": lambda L: [L.Input((6, 5)), L.GRU(12, reset_after=False, return_sequences=True),
                                   L.GRU(33, reset_after=False)],
    "simple_rnn": lambda L: [L.Input((5, 4)), L.SimpleRNN(16, return_sequences=True), L.SimpleRNN(6)],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_recurrent_model_agrees_with_one_and_two_threads(request, name):
    from two_threads import rerun_with_two_threads
    if rerun_with_two_threads(request):
        return
    from seqc import keras
    model = keras.Sequential(CASES[name](keras.layers))
    model.compile(optimizer="sgd", loss="mse")
    eng = model._runtime._engine
    if "-fopenmp" not in build.default_flags():
        # without OpenMP the model runs on one thread whatever is asked, and says so
        eng.set_threads(2)
        assert eng.get_threads() == 1
    else:
        assert eng.get_threads() >= 2, "run with OMP_NUM_THREADS=2"
    rng = np.random.default_rng(13)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    n = 37                   # several row blocks per thread, split unevenly
    x = rng.normal(size=(n,) + model.input_shape[1:]).astype(np.float32)
    out = model.predict(x, verbose=0)
    r = rng.normal(size=out.shape).astype(np.float32).reshape(n, -1)
    results = {}
    try:
        for threads in (1, 2):
            eng.set_threads(threads)
            results[threads] = (eng.predict(x, n), eng.gradients(x, r), eng.gradients(x, r, training=True))
    finally:
        eng.set_threads(2)
    (p1, (l1, g1), (lt1, gt1)), (p2, (l2, g2), (lt2, gt2)) = results[1], results[2]
    np.testing.assert_allclose(p2, p1, rtol=1e-5, atol=1e-6)
    for a, b in ((g2, g1), (gt2, gt1)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * float(np.abs(b).max()))
    assert l2 == pytest.approx(l1, rel=1e-5) and lt2 == pytest.approx(lt1, rel=1e-5)
    assert np.isfinite(g1).all() and np.abs(g1).max() > 0
