"""Bidirectional and masking against real Keras 3 (tests/golden/make_rnnwrap_goldens.py): the
output for fixed weights and five optimizer steps (losses and weights), for every case of the
manifest; then finite-difference checks of the new backward paths (the reversed direction,
the merge modes, masked steps), and the arguments Keras refuses."""
import json
from pathlib import Path

import numpy as np
import pytest

from seqc import keras
from seqc.errors import SeqcError

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "rnnwrap_manifest.json").read_text())
CASES = sorted(k for k in MANIFEST if not k.startswith("_"))


def scope():
    env = {k: getattr(keras.layers, k) for k in dir(keras.layers) if not k.startswith("_")}
    env["Sequential"] = keras.Sequential
    return env


def load(case):
    data = np.load(GOLDEN / f"{case}.npz")
    n = len([k for k in data.files if k.startswith("w_")])
    return data, [data[f"w_{i}"] for i in range(n)], [data[f"trained_{i}"] for i in range(n)]


def build(case, optimizer=None):
    desc = MANIFEST[case]
    model = eval(desc["code"], scope())
    opt = eval(optimizer or desc["optimizer"], vars(keras.optimizers))
    model.compile(optimizer=opt, loss=desc["loss"])
    return model


@pytest.mark.parametrize("case", CASES)
def test_forward_and_training_equal_keras(case):
    data, ws, trained = load(case)
    model = build(case)
    model.set_weights(ws)
    n = len(data["x"])
    np.testing.assert_allclose(model.predict(data["x"], verbose=0, batch_size=n), data["y"], rtol=1e-4, atol=1e-5)
    if "y2" in data.files:         # a stateful model: the second batch starts from the first's state
        np.testing.assert_allclose(model.predict(data["x"], verbose=0, batch_size=n), data["y2"], rtol=1e-4, atol=1e-5)
        model.reset_states()
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(MANIFEST[case]["steps"])]
    np.testing.assert_allclose(losses, data["losses"], rtol=1e-4, atol=1e-6)
    for got, want in zip(model.get_weights(), trained):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)


# ------------------------------------------------------------------------------------------
# finite differences: the C backward of the new paths against central differences of the loss
# ------------------------------------------------------------------------------------------
L = keras.layers
IDX = np.array([[0, 0, 3, 1, 2], [4, 2, 1, 3, 0], [2, 0, 0, 0, 0], [1, 2, 3, 4, 1]], np.float32)  # pads in all places


def _fd_models():
    xf = (np.random.default_rng(5).normal(size=(4, 5, 2)) * (IDX[..., None] != 0)).astype(np.float32)
    return {
        "bi_lstm_mul_seq": ([L.Input((5, 2)), L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="mul"),
                             L.Dense(1)], xf),
        "bi_gru1_sum": ([L.Input((5, 2)), L.Bidirectional(L.GRU(2, reset_after=False), merge_mode="sum")], xf),
        "bi_simple_ave_stacked": ([L.Input((5, 2)), L.Bidirectional(L.SimpleRNN(2, return_sequences=True),
                                                                    merge_mode="ave"),
                                   L.Bidirectional(L.SimpleRNN(2))], xf),
        "mask_lstm_seq": ([L.Input((5,)), L.Embedding(5, 2, mask_zero=True), L.LSTM(2, return_sequences=True),
                           L.Dense(2)], IDX),
        "mask_bi_lstm_seq_gap": ([L.Input((5,)), L.Embedding(5, 2, mask_zero=True),
                                  L.Bidirectional(L.LSTM(2, return_sequences=True)), L.GlobalAveragePooling1D()], IDX),
        "mask_gru_backwards": ([L.Input((5,)), L.Embedding(5, 2, mask_zero=True),
                                L.GRU(2, go_backwards=True, return_sequences=True)], IDX),
        "masking_simplernn_gru": ([L.Input((5, 2)), L.Masking(), L.SimpleRNN(2, return_sequences=True),
                                   L.GRU(2, reset_after=False)], xf),
    }


@pytest.mark.parametrize("name", sorted(_fd_models()))
def test_backward_matches_finite_differences(name):
    from test_gradcheck import gradcheck
    layers, x = _fd_models()[name]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    y = rng.normal(size=(len(x),) + model.output_shape[1:]).astype(np.float32)
    model.predict(x, verbose=0)                # builds the runtime the check drives
    err, n = gradcheck(model, x, y)
    assert n == sum(w.size for w in model.get_weights())


# ------------------------------------------------------------------------------------------
# arguments and models Keras refuses, or seqc does not build: clear errors before any C
# ------------------------------------------------------------------------------------------
def test_bidirectional_arguments_refused_as_keras_does():
    with pytest.raises(ValueError, match="Invalid merge mode"):
        L.Bidirectional(L.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="keras.layers.Layer"):
        L.Bidirectional("lstm")
    with pytest.raises(ValueError, match="different `go_backwards`"):
        L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2))
    with pytest.raises(ValueError, match="different `go_backwards`"):
        L.Bidirectional(L.LSTM(2, go_backwards=True))
    with pytest.raises(ValueError, match='same value for attribute "return_sequences"'):
        L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2, go_backwards=True, return_sequences=True))
    with pytest.raises(ValueError, match="backward_layer.*LSTM of 2 units"):
        L.Bidirectional(L.LSTM(2), backward_layer=L.GRU(2, go_backwards=True))
    with pytest.raises(ValueError, match="backward_layer.*LSTM of 2 units"):
        L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(3, go_backwards=True))
    with pytest.raises(ValueError, match="seqc wraps LSTM, GRU and SimpleRNN"):
        L.Bidirectional(L.Dense(2))


def test_merge_mode_none_is_a_clear_error():
    model = keras.Sequential([L.Input((5, 2)), L.Bidirectional(L.LSTM(2), merge_mode=None), L.Dense(1)])
    with pytest.raises(SeqcError, match="merge_mode=None.*two tensors"):
        model.compile("sgd", "mse")


def test_bidirectional_weights_argument_sets_both_directions():
    rng = np.random.default_rng(0)
    shapes = [(2, 8), (2, 8), (8,)] * 2
    ws = [rng.normal(size=s).astype(np.float32) for s in shapes]
    model = keras.Sequential([L.Input((5, 2)), L.Bidirectional(L.LSTM(2), weights=ws)])
    for got, want in zip(model.get_weights(), ws):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="`weights` must be 6 arrays"):
        keras.Sequential([L.Input((5, 2)), L.Bidirectional(L.LSTM(2), weights=ws[:3])]).get_weights()


def test_metrics_on_a_masked_output_are_refused():
    model = keras.Sequential([L.Input((5,)), L.Embedding(5, 2, mask_zero=True), L.LSTM(2, return_sequences=True)])
    with pytest.raises(SeqcError, match="masked output"):
        model.compile("sgd", "mse", metrics=["mae"])


def test_layers_without_mask_support_end_the_mask_with_keras_warning():
    model = keras.Sequential([L.Input((5,)), L.Embedding(5, 2, mask_zero=True), L.Flatten(), L.Dense(1)])
    with pytest.warns(UserWarning, match="does not support masking"):
        model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="mask_value"):
        L.Masking(mask_value=float("nan"))


def test_static_front_end_reads_bidirectional_and_masking(tmp_path):
    from seqc.frontend import parse_script
    from seqc.pipeline import forward_graph
    script = tmp_path / "imdb.py"
    script.write_text("from keras.models import Sequential\n"
                      "from keras.layers import Embedding, Bidirectional, LSTM, Dense, Masking\n"
                      "model = Sequential()\n"
                      "model.add(Embedding(200, 8, input_length=20, mask_zero=True))\n"
                      "model.add(Bidirectional(LSTM(4, return_sequences=True), merge_mode='sum'))\n"
                      "model.add(Bidirectional(LSTM(4)))\n"
                      "model.add(Dense(1, activation='sigmoid'))\n"
                      "model.compile('adam', 'binary_crossentropy')\n")
    spec = parse_script(str(script))
    assert [l.kind for l in spec.layers] == ["Embedding", "Bidirectional", "Bidirectional", "Dense"]
    g = forward_graph(spec)
    assert [op.kind for op in g.ops] == ["embedding", "mask", "bidirectional", "bidirectional", "dense"]
    assert g.output.shape == (1,) and g.output_mask is None
    assert [p.shape for p in g.params[1:4]] == [(8, 16), (4, 16), (16,)]
