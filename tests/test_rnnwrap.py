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
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-4, atol=1e-5)
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
