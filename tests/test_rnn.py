"""Recurrent layers and Embedding: forward against numpy, backward through time against finite
differences, index checking, stateful semantics."""
import numpy as np
import pytest

import seqc.keras as keras
from seqc.keras import backend as K
from seqc.keras.layers import GRU, LSTM, Dense, Embedding, Input, SimpleRNN
from seqc.keras.models import Sequential


def weighted_sum(y_true, y_pred):
    return K.sum(y_pred * y_true)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def lstm_ref(x, W, U, b, seq=False, backwards=False, h0=None, c0=None):
    B, T, _ = x.shape
    u = U.shape[0]
    h = np.zeros((B, u)) if h0 is None else h0
    c = np.zeros((B, u)) if c0 is None else c0
    hs = []
    for t in (range(T - 1, -1, -1) if backwards else range(T)):
        z = x[:, t] @ W + h @ U + b
        i, f, g, o = _sig(z[:, :u]), _sig(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), _sig(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    return (np.stack(hs, 1) if seq else h), h, c


CASES = {
    "lstm": lambda: [Input((5, 4)), LSTM(3)],
    "lstm_seq_backwards": lambda: [Input((5, 4)), LSTM(3, return_sequences=True, go_backwards=True)],
    "lstm_stacked": lambda: [Input((4, 3)), LSTM(4, return_sequences=True), LSTM(2), Dense(2)],
    "lstm_relu_hardsig_nobias": lambda: [Input((4, 3)), LSTM(3, activation="softplus",
                                                              recurrent_activation="sigmoid", use_bias=False)],
    "lstm_wide": lambda: [Input((3, 5)), LSTM(40, return_sequences=True)],
    "gru": lambda: [Input((5, 4)), GRU(3)],
    "gru_seq_backwards_nobias": lambda: [Input((4, 3)), GRU(4, return_sequences=True, go_backwards=True,
                                                            use_bias=False)],
    "simple_rnn_stacked": lambda: [Input((5, 3)), SimpleRNN(4, return_sequences=True), SimpleRNN(3)],
    # 19 samples: several row blocks per thread, split unevenly between the threads
    "lstm_stacked_backwards_b19": lambda: [Input((4, 3)), LSTM(4, return_sequences=True, go_backwards=True),
                                           LSTM(3), Dense(2)],
    "gru_reset_before": lambda: [Input((5, 4)), GRU(3, reset_after=False)],
    "gru_reset_before_seq_backwards_nobias": lambda: [Input((4, 3)), GRU(4, reset_after=False, return_sequences=True,
                                                                       go_backwards=True, use_bias=False), GRU(2)],
    "gru_reset_before_wide": lambda: [Input((3, 3)), GRU(32, reset_after=False)],   # unpacked-B weight GEMMs
    "gru_reset_before_b19": lambda: [Input((4, 3)), GRU(5, reset_after=False, return_sequences=True), Dense(2)],
    "gru_stacked_b19": lambda: [Input((4, 3)), GRU(4, return_sequences=True), GRU(3, go_backwards=True)],
    "simple_rnn_b19": lambda: [Input((5, 3)), SimpleRNN(4, return_sequences=True, go_backwards=True)],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lstm_gradients_match_finite_differences(name):
    model = Sequential(CASES[name]())
    model.compile("sgd", weighted_sum)
    eng = model._runtime._engine
    rng = np.random.default_rng(2)
    n = 19 if name.endswith("_b19") else 3
    x = rng.normal(size=(n,) + model.input_shape[1:]).astype(np.float32)
    out_shape = model.predict(x, verbose=0).shape
    r = (rng.normal(size=out_shape) / np.sqrt(np.prod(out_shape))).astype(np.float32)
    eng.params[:] = rng.normal(scale=0.5, size=eng.params.shape)
    assert _check_gradients(eng, x, r.reshape(n, -1), rng, name) >= min(20, eng.params.size // 2)


def _check_gradients(eng, x, r, rng, name, training=False):
    """The engine's gradient of up to 40 random weights against central differences (two
    steps; a weight whose two estimates disagree, at a kink, is skipped). Returns how many
    were compared."""
    _, g = eng.gradients(x, r, training=training)
    p0 = eng.params.copy()

    def f(p):
        eng.params[:] = p
        return eng.gradients(x, r, training=training)[0]

    checked = 0
    for i in rng.choice(len(p0), size=min(40, len(p0)), replace=False):
        fd = []
        for step in (1e-2, 5e-3):
            pp, pm = p0.copy(), p0.copy()
            pp[i] += step
            pm[i] -= step
            fd.append((f(pp) - f(pm)) / (2 * step))
        if abs(fd[0] - fd[1]) > 1e-2 * (1 + abs(fd[1])):
            continue
        checked += 1
        assert g[i] == pytest.approx(fd[1], rel=3e-2, abs=3e-3 * float(np.abs(g).max())), (name, i)
    eng.params[:] = p0
    return checked


@pytest.mark.parametrize("n", [1, 3, 21])
def test_lstm_forward_matches_numpy(n):
    """n = 21: three row blocks, split unevenly between two threads."""
    model = Sequential([Input((6, 4)), LSTM(5, return_sequences=True, go_backwards=True)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(n, 6, 4)).astype(np.float32)
    ref, _, _ = lstm_ref(x, *model.get_weights(), seq=True, backwards=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-6)
    for batch in (1, 4, 21):
        np.testing.assert_allclose(model.predict(x, batch_size=batch, verbose=0), ref, rtol=1e-5, atol=1e-6)


def test_lstm_initial_bias_has_unit_forget_bias():
    w = LSTM(4)
    model = Sequential([Input((2, 3)), w])
    bias = model.get_weights()[2]
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])


def test_embedding_lstm_forward_and_gradient_rows():
    model = Sequential([Input((5,)), Embedding(10, 4), LSTM(3)])
    model.compile("sgd", weighted_sum)
    rng = np.random.default_rng(0)
    x = np.array([[0, 9, 3, 3, 1], [2, 2, 2, 2, 9]], dtype=np.float32)
    E, W, U, b = model.get_weights()
    ref, _, _ = lstm_ref(E[x.astype(int)], W, U, b)
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-6)
    r = rng.normal(size=(2, 3)).astype(np.float32)
    _, g = model._runtime._engine.gradients(x, r)
    dE = g[:40].reshape(10, 4)
    untouched = sorted(set(range(10)) - {0, 1, 2, 3, 9})
    assert np.all(dE[untouched] == 0) and np.all(np.abs(dE[[0, 1, 2, 3, 9]]).sum(1) > 0)


def test_embedding_index_out_of_range_is_a_value_error():
    model = Sequential([Input((4,)), Embedding(10, 3), LSTM(2), Dense(1, activation="sigmoid")])
    model.compile("rmsprop", "binary_crossentropy")
    x = np.zeros((3, 4))
    x[2, 1] = 10
    with pytest.raises(ValueError, match=r"10.*\[2, 1\]|\[2, 1\].*10"):
        model.predict(x, verbose=0)
    x[2, 1] = -1
    with pytest.raises(ValueError, match="-1"):
        model.fit(x, np.zeros((3, 1)), verbose=0)
    x[2, 1] = 1.5
    with pytest.raises(ValueError, match="1.5"):
        model.predict(x, verbose=0)


def stateful_model(batch=2):
    model = Sequential([LSTM(3, return_sequences=True, stateful=True, batch_input_shape=(batch, 4, 3)),
                        LSTM(2, stateful=True), Dense(2, activation="softmax")])
    model.compile("rmsprop", "categorical_crossentropy")
    return model


@pytest.mark.parametrize("batch", [2, 19])
def test_stateful_state_carries_across_calls_until_reset(batch):
    model = stateful_model(batch)
    w = model.get_weights()
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(batch, 4, 3)).astype(np.float32) for _ in range(3)]
    outs = [model.predict(x, verbose=0) for x in xs]
    # reference: two numpy LSTMs carrying (h, c) over the three calls
    s1 = s2 = (None, None)
    for x, out in zip(xs, outs):
        seq, h1, c1 = lstm_ref(x, *w[0:3], seq=True, h0=s1[0], c0=s1[1])
        _, h2, c2 = lstm_ref(seq, *w[3:6], h0=s2[0], c0=s2[1])
        s1, s2 = (h1, c1), (h2, c2)
        z = h2 @ w[6] + w[7]
        p = np.exp(z - z.max(1, keepdims=True))
        np.testing.assert_allclose(out, p / p.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    model.reset_states()
    np.testing.assert_allclose(model.predict(xs[0], verbose=0), outs[0], rtol=1e-6, atol=1e-7)


def test_stateful_batch_rules():
    """Keras's rules: every batch has the fixed size. Batches come from batch_size (default 32):
    6 samples with the default make one batch of 6, a ValueError for a model of batch 2."""
    model = stateful_model()
    x = np.zeros((6, 4, 3))
    y = np.zeros((6, 2))
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert model.predict(x, batch_size=2, verbose=0).shape == (6, 2)
    model.evaluate(x, y, batch_size=2, verbose=0)
    assert model.predict(x[:2], verbose=0).shape == (2, 2)        # one batch of 2 with the default
    with pytest.raises(ValueError, match="multiple of 2"):
        model.fit(x[:5], y[:5], batch_size=2, shuffle=False, verbose=0)
    for call in (lambda: model.fit(x, y, shuffle=False, verbose=0), lambda: model.predict(x, verbose=0),
                 lambda: model.evaluate(x, y, verbose=0), lambda: model.predict(x, batch_size=4, verbose=0),
                 lambda: model.fit(x, y, batch_size=6, shuffle=False, verbose=0)):
        with pytest.raises(ValueError, match="exactly 2 samples.*pass batch_size=2"):
            call()
    with pytest.raises(ValueError, match="exactly 2"):
        model.predict_on_batch(x[:3])
    with pytest.warns(UserWarning, match="shuffle"):
        model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="batch size"):
        Sequential([LSTM(2, stateful=True, input_shape=(4, 3))]).compile("sgd", "mse")


def test_sequence_length_bound_at_first_use():
    model = Sequential([Embedding(12, 4), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile("rmsprop", "binary_crossentropy", metrics=["accuracy"])
    w = model.get_weights()
    assert [a.shape for a in w] == [(12, 4), (4, 12), (3, 12), (12,), (3, 1), (1,)]
    rng = np.random.default_rng(0)
    for length in (5, 9, 5):
        x = rng.integers(12, size=(4, length))
        out = model.predict(x, verbose=0)
        E, W, U, b, Wd, bd = model.get_weights()
        _, h, _ = lstm_ref(E[x], W, U, b)
        np.testing.assert_allclose(out, _sig(h @ Wd + bd), rtol=1e-5, atol=1e-6)
        model.fit(x, np.ones((4, 1)), verbose=0)


def test_gru_reset_after_bias_layout_and_bad_value():
    assert [w.shape for w in Sequential([Input((4, 3)), GRU(5)]).get_weights()] == [(3, 15), (5, 15), (2, 15)]
    assert [w.shape for w in Sequential([Input((4, 3)), GRU(5, reset_after=False)]).get_weights()] == \
        [(3, 15), (5, 15), (15,)]
    with pytest.raises(ValueError, match="reset_after"):
        GRU(3, reset_after="no")


def test_stateful_layer_reset_state_zeroes_that_layer_only():
    model = stateful_model()
    w = model.get_weights()
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 4, 3)).astype(np.float32) for _ in range(2)]
    model.predict(xs[0], verbose=0)
    h1, c1 = lstm_ref(xs[0], *w[0:3])[1:]
    states = model.layers[0].states                       # [h, c], each (batch, units)
    np.testing.assert_allclose(states[0], h1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(states[1], c1, rtol=1e-5, atol=1e-6)
    assert len(model.layers[1].states) == 2 and model.layers[2].get_weights()
    model.layers[0].reset_state()             # Keras 3: per layer (reset_states is its alias)
    assert not model.layers[0].states[0].any() and model.layers[1].states[0].any()
    out = model.predict(xs[1], verbose=0)
    seq, _, _ = lstm_ref(xs[0], *w[0:3], seq=True)
    _, h2, c2 = lstm_ref(seq, *w[3:6])
    seq, _, _ = lstm_ref(xs[1], *w[0:3], seq=True)      # layer 0 from zeros again
    _, h2, _ = lstm_ref(seq, *w[3:6], h0=h2, c0=c2)     # layer 1 carries on
    z = h2 @ w[6] + w[7]
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(out, p / p.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    first = lstm_ref(lstm_ref(xs[0], *w[0:3], seq=True)[0], *w[3:6])[0] @ w[6] + w[7]
    model.layers[0].reset_states()
    model.layers[1].reset_states()            # both layers from zeros: the first call again
    z = model.predict(xs[0], verbose=0)
    p = np.exp(first - first.max(1, keepdims=True))
    np.testing.assert_allclose(z, p / p.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_embedding_initial_weights_argument():
    """Embedding(weights=[matrix]) starts from that matrix (frozen with trainable=False)."""
    from seqc.keras.layers import GlobalAveragePooling1D
    E = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    model = Sequential([Embedding(10, 4, weights=[E], trainable=False, input_length=3), GlobalAveragePooling1D(),
                        Dense(1)])
    np.testing.assert_array_equal(model.get_weights()[0], E)
    model.compile("adam", "mse")
    x = np.array([[1, 2, 3], [0, 9, 9]])
    model.fit(x, np.ones((2, 1)), epochs=2, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], E)
    k, b = model.get_weights()[1:]
    np.testing.assert_allclose(model.predict(x, verbose=0), E[x].mean(1) @ k + b, rtol=1e-5, atol=1e-6)
    assert np.array_equal(Sequential([Embedding(10, 4, weights=E)]).get_weights()[0], E)   # a bare matrix too
    with pytest.raises(ValueError, match="not compatible"):
        Embedding(10, 5, weights=[E])


# ---- dropout / recurrent_dropout of the recurrent cells ----
DROPOUT_CASES = {
    "lstm": lambda **kw: [Input((5, 4)), LSTM(3, return_sequences=True, **kw), LSTM(2, **kw)],
    "gru": lambda **kw: [Input((5, 4)), GRU(3, return_sequences=True, go_backwards=True, **kw), GRU(2, **kw)],
    "gru_reset_before": lambda **kw: [Input((5, 4)), GRU(3, reset_after=False, return_sequences=True, **kw),
                                      GRU(2, reset_after=False, **kw)],
    "simple_rnn": lambda **kw: [Input((5, 4)), SimpleRNN(3, return_sequences=True, **kw), SimpleRNN(2, **kw)],
}


@pytest.mark.parametrize("name", sorted(DROPOUT_CASES))
def test_rnn_dropout_gradients_match_finite_differences(name):
    """Training-mode gradients with both masks on (fixed per batch: the finite differences see
    the same masks) against central differences, over 11 samples split between the threads."""
    model = Sequential(DROPOUT_CASES[name](dropout=0.3, recurrent_dropout=0.4))
    model.compile("sgd", weighted_sum)
    eng = model._runtime._engine
    rng = np.random.default_rng(5)
    x = rng.normal(size=(11, 5, 4)).astype(np.float32)
    r = (rng.normal(size=(11, 2)) / 4).astype(np.float32)
    eng.params[:] = rng.normal(scale=0.5, size=eng.params.shape)
    loss_train, _ = eng.gradients(x, r, training=True)
    loss_eval, _ = eng.gradients(x, r, training=False)
    assert loss_train != pytest.approx(loss_eval, rel=1e-3)     # the masks do something
    assert _check_gradients(eng, x, r, rng, name, training=True) >= 20


def test_rnn_dropout_is_inactive_outside_training_and_rate_one_is_off():
    """predict/evaluate ignore the masks (Keras); Keras applies a rate r only when 0 < r < 1."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5, 4)).astype(np.float32)
    plain = Sequential([Input((5, 4)), LSTM(3, return_sequences=True), LSTM(2)])
    plain.compile("sgd", weighted_sum)
    for kw in ({"dropout": 0.5, "recurrent_dropout": 0.5}, {"dropout": 1.0, "recurrent_dropout": 1.0}):
        model = Sequential([Input((5, 4)), LSTM(3, return_sequences=True, **kw), LSTM(2, **kw)])
        model.compile("sgd", weighted_sum)
        model.set_weights(plain.get_weights())
        np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
        r = rng.normal(size=(6, 2)).astype(np.float32)
        same = np.allclose(model._runtime._engine.gradients(x, r, training=True)[1],
                           plain._runtime._engine.gradients(x, r, training=True)[1], rtol=1e-6, atol=1e-7)
        assert same == (kw["dropout"] == 1.0)
    with pytest.raises(ValueError, match="dropout"):
        LSTM(2, dropout="0.5")


def test_rnn_dropout_masks_keep_the_expected_share():
    """About 1 - rate of the inputs survive, scaled by 1 / (1 - rate): with W = identity-like
    columns and no recurrence, a SimpleRNN's linear output shows the input mask."""
    model = Sequential([Input((1, 200)), SimpleRNN(200, activation="linear", dropout=0.25, use_bias=False)])
    model.compile("sgd", weighted_sum)
    model.set_weights([np.eye(200, dtype=np.float32), np.zeros((200, 200), np.float32)])
    eng = model._runtime._engine
    x = np.ones((50, 1, 200), np.float32)
    loss, _ = eng.gradients(x, np.ones((50, 200), np.float32) / 1e4, training=True)
    # loss = sum of outputs / 1e4; each output is 0 or 1 / 0.75, kept with probability 0.75
    assert loss * 1e4 / (50 * 200) == pytest.approx(1.0, abs=0.03)


def test_hostile_inputs_to_recurrent_models_are_value_errors(tmp_path):
    """Odd inputs to an Embedding + LSTM model and a stateful GRU, in a subprocess (a crash would
    show as a negative return code): each is a ValueError naming the problem, or runs."""
    import subprocess
    import sys
    script = tmp_path / "hostile_rnn.py"
    script.write_text(
        "import numpy as np\n"
        "from seqc.keras.models import Sequential\n"
        "from seqc.keras.layers import LSTM, Dense, Embedding, GRU\n"
        "m = Sequential([Embedding(50, 4), LSTM(3, dropout=0.2, recurrent_dropout=0.2), Dense(2, activation='softmax')])\n"
        "m.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "for x in [np.zeros((0, 5)), np.full((3, 5), np.nan), np.full((3, 5), 1e30), np.zeros((3, 5, 2)),\n"
        "          np.array([['a'] * 5] * 3), np.zeros((3, 0)), np.zeros((2, 3000), dtype=np.int64)]:\n"
        "    for call in ('fit', 'predict', 'evaluate'):\n"
        "        try:\n"
        "            if call == 'fit': m.fit(x, np.zeros(len(x)), verbose=0)\n"
        "            elif call == 'predict': m.predict(x, verbose=0)\n"
        "            else: m.evaluate(x, np.zeros(len(x)), verbose=0)\n"
        "            print('ok', call, x.shape)\n"
        "        except ValueError as e:\n"
        "            print('ValueError', call, x.shape, e)\n"
        "s = Sequential([GRU(3, stateful=True, batch_input_shape=(4, 6, 2)), Dense(1)])\n"
        "s.compile('sgd', 'mse')\n"
        "for x in (np.full((4, 6, 2), np.inf), np.zeros((4, 7, 2)), np.zeros((8, 6, 3))):\n"
        "    try:\n"
        "        s.fit(x, np.zeros((len(x), 1)), shuffle=False, verbose=0); print('ok stateful', x.shape)\n"
        "    except ValueError as e:\n"
        "        print('ValueError stateful', x.shape, e)\n"
        "print('alive')\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "alive" in out
    assert "fit (0, 5) fit needs at least one sample" in out
    assert "x[0, 0] = nan is not a valid index" in out and "x[0, 0] = 1e+30 is not a valid index" in out
    assert "ValueError predict (3, 5, 2) Input x has shape (3, 5, 2)" in out
    assert "must be numeric" in out
    assert "ValueError stateful (4, 7, 2)" in out and "ValueError stateful (8, 6, 3)" in out
