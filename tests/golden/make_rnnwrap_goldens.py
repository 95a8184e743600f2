"""Golden reference data for Bidirectional and masking, from real Keras 3 (torch backend).

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_rnnwrap_goldens.py

Each case is a model written as Keras source (`code`, evaluated with the names of
keras.layers in scope; tests/test_rnnwrap.py evaluates the same text with seqc.keras), fixed
random weights installed with set_weights, the output for an input batch, and a few steps of
train_on_batch with an optimizer: the losses and the weights after them. Masked cases feed
batches padded as keras.utils.pad_sequences pads them (padding 'pre' or 'post', value 0).
Writes tests/golden/rnnwrap_manifest.json and tests/golden/rnnwrap_<case>.npz (deleting only
rnnwrap_*.npz first).
"""
import os
import zlib
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
import keras  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_common import Goldens  # noqa: E402

OUT = Path(__file__).resolve().parent
PREFIX = "rnnwrap_"
G = Goldens(OUT, PREFIX)
STEPS = 5
OPTIMIZERS = {"sgd": "SGD(learning_rate=0.1)", "adam": "Adam(learning_rate=0.01)",
              "rmsprop": "RMSprop(learning_rate=0.01)"}


def scope():
    env = {k: getattr(keras.layers, k) for k in dir(keras.layers) if not k.startswith("_")}
    env["Sequential"] = keras.Sequential
    return env


def padded(rng, n, T, vocab, padding):
    """Index sequences of random lengths 1..T, zero-padded as pad_sequences does."""
    seqs = [list(rng.integers(1, vocab, size=int(rng.integers(1, T + 1)))) for _ in range(n)]
    seqs[0] = list(rng.integers(1, vocab, size=T))          # one full-length row
    return keras.utils.pad_sequences(seqs, maxlen=T, padding=padding, value=0).astype(np.float32)


def case(name, code, x, target, loss="mse", optimizer="sgd", note="", stateful=False):
    """stateful: the model carries its state from one batch to the next; `y2` is a second
    prediction of x after the first (then the states are reset before training)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    model = eval(code, scope())
    ws = [rng.uniform(-0.5, 0.5, size=w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(ws)
    opt = eval(OPTIMIZERS[optimizer], vars(keras.optimizers))
    model.compile(optimizer=opt, loss=loss)
    y = model.predict(x, verbose=0, batch_size=len(x))
    extra = {}
    if stateful:
        extra["y2"] = model.predict(x, verbose=0, batch_size=len(x))
        G.check(f"{name}: the state is carried", not np.allclose(extra["y2"], y))
        for layer in model.layers:
            layer.reset_states()
    steps = 0 if stateful else STEPS    # Keras 3 (torch) cannot train a stateful Bidirectional: "modified by an inplace operation"
    losses = [float(model.train_on_batch(x, target)) for _ in range(steps)]
    trained = model.get_weights()
    G.check(f"{name}: finite", np.all(np.isfinite(y)) and np.all(np.isfinite(losses)))
    arrays = {"x": x, "y": y, "target": target, "losses": np.array(losses, np.float32), **extra}
    arrays.update({f"w_{i}": w for i, w in enumerate(ws)})
    arrays.update({f"trained_{i}": w for i, w in enumerate(trained)})
    G.add_case(PREFIX + name, {"code": code, "loss": loss, "optimizer": OPTIMIZERS[optimizer], "steps": steps,
                               "note": note}, arrays)
    return y


def main():
    for f in OUT.glob(PREFIX + "*.npz"):
        f.unlink()
    rng = np.random.default_rng(1234)
    B, T, F, U = 3, 5, 4, 3
    xf = rng.normal(size=(B, T, F)).astype(np.float32)
    # ---- Bidirectional: each cell, each merge mode, sequences or last step, stacked -------------
    for cell in ("LSTM", "GRU", "SimpleRNN"):
        for merge in ("concat", "sum", "ave", "mul"):
            for rs in (False, True):
                w = 2 * U if merge == "concat" else U
                tgt = rng.normal(size=(B, T, w) if rs else (B, w)).astype(np.float32)
                code = (f"Sequential([Input(shape=({T}, {F})), Bidirectional({cell}({U}, return_sequences={rs}), "
                        f"merge_mode={merge!r})])")
                opt = "adam" if (merge in ("sum", "mul")) else "sgd"
                case(f"bi_{cell.lower()}_{merge}{'_seq' if rs else ''}", code, xf, tgt, optimizer=opt)
    for cell, opt in (("LSTM", "sgd"), ("GRU", "adam"), ("SimpleRNN", "rmsprop")):
        code = (f"Sequential([Input(shape=({T}, {F})), Bidirectional({cell}({U}, return_sequences=True)), "
                f"Bidirectional({cell}(2)), Dense(1)])")
        case(f"bi_{cell.lower()}_stacked_{opt}", code, xf, rng.normal(size=(B, 1)).astype(np.float32), optimizer=opt)
    code = (f"Sequential([Input(shape=({T}, {F})), Bidirectional(LSTM({U}, return_sequences=True), "
            f"backward_layer=LSTM({U}, activation='relu', return_sequences=True, go_backwards=True)), Dense(2)])")
    case("bi_backward_layer", code, xf, rng.normal(size=(B, T, 2)).astype(np.float32), optimizer="adam")
    code = (f"Sequential([Input(batch_shape=({B}, {T}, {F})), Bidirectional(LSTM({U}, stateful=True, "
            f"return_sequences=True), merge_mode='ave'), Bidirectional(GRU(2, stateful=True))])")
    case("bi_stateful", code, xf, rng.normal(size=(B, 4)).astype(np.float32), optimizer="adam", stateful=True)
    code = (f"Sequential([Input(shape=({T}, {F})), Bidirectional(GRU({U}, reset_after=False)), Dense(1, "
            f"activation='sigmoid')])")
    case("bi_gru_reset_before_bce", code, xf, (rng.random(size=(B, 1)) > 0.5).astype(np.float32),
         loss="binary_crossentropy", optimizer="adam")
    for cell in ("LSTM", "GRU", "SimpleRNN"):
        code = f"Sequential([Input(shape=({T}, {F})), {cell}({U}, return_sequences=True, go_backwards=True), Dense(2)])"
        case(f"go_backwards_{cell.lower()}", code, xf, rng.normal(size=(B, T, 2)).astype(np.float32), optimizer="adam")
    # ---- masking ---------------------------------------------------------------------------------
    V, E, Tm, Bm = 12, 4, 7, 4
    for padding in ("pre", "post"):
        xi = padded(rng, Bm, Tm, V, padding)
        for name, layers, tshape in (
                ("lstm", f"LSTM({U})", (Bm, 1)),
                ("gru", f"GRU({U})", (Bm, 1)),
                ("simplernn", f"SimpleRNN({U})", (Bm, 1)),
                ("lstm_seq", f"LSTM({U}, return_sequences=True)", (Bm, Tm, U)),
                ("gru_seq_backwards", f"GRU({U}, return_sequences=True, go_backwards=True)", (Bm, Tm, U)),
                ("bi_lstm", f"Bidirectional(LSTM({U}))", (Bm, 1)),
                ("bi_lstm_seq", f"Bidirectional(LSTM({U}, return_sequences=True), merge_mode='sum')", (Bm, Tm, U)),
                ("bi_gru_stacked", f"Bidirectional(GRU({U}, return_sequences=True)), Bidirectional(GRU(2))", (Bm, 1)),
                ("lstm_seq_gap", f"LSTM({U}, return_sequences=True), GlobalAveragePooling1D()", (Bm, 1)),
                ("gap", "GlobalAveragePooling1D()", (Bm, 1)),
                ("gmp", "GlobalMaxPooling1D()", (Bm, 1)),
                ("lstm_seq_dense", f"LSTM({U}, return_sequences=True), Dropout(0.0), Dense(2), Activation('tanh')",
                 (Bm, Tm, 2))):
            dense = "" if name.endswith(("_seq", "_backwards", "_dense")) else ", Dense(1)"
            code = f"Sequential([Input(shape=({Tm},)), Embedding({V}, {E}, mask_zero=True), {layers}{dense}])"
            opt = "adam" if name in ("gru", "bi_lstm", "lstm_seq_gap") else "sgd"
            tgt = rng.normal(size=tshape).astype(np.float32)
            case(f"mask_{padding}_{name}", code, xi, tgt, optimizer=opt)
        xm = rng.normal(size=(Bm, Tm, 3)).astype(np.float32)
        lengths = [Tm, 2, 5, 1]
        for b, n in enumerate(lengths):
            if padding == "pre":
                xm[b, :Tm - n] = 0.0
            else:
                xm[b, n:] = 0.0
        xm[2, 3 if padding == "post" else 4, 1] = 0.0          # a zero value in a kept step
        code = f"Sequential([Input(shape=({Tm}, 3)), Masking(mask_value=0.0), SimpleRNN({U}), Dense(1)])"
        case(f"masking_{padding}_simplernn", code, xm, rng.normal(size=(Bm, 1)).astype(np.float32), optimizer="adam")
        code = (f"Sequential([Input(shape=({Tm}, 3)), Masking(mask_value=0.0), "
                f"LSTM({U}, return_sequences=True)])")
        case(f"masking_{padding}_lstm_seq", code, xm, rng.normal(size=(Bm, Tm, U)).astype(np.float32))
    return G.finish({"keras": keras.__version__, "backend": keras.backend.backend()}, "rnnwrap_manifest.json")


if __name__ == "__main__":
    sys.exit(main())
