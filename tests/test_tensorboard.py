"""The TensorBoard callback's event files (seqc/runtime/tfevents.py): records byte for byte as
TensorFlow writes them (tests/golden/make_tfevents_goldens.py), and what a fit writes where
Keras 3's callback writes it."""
import collections
import json
import os
from pathlib import Path

import numpy as np
import pytest

from seqc import keras
from seqc.runtime import tfevents

GOLDEN = json.loads((Path(__file__).parent / "golden" / "tfevents.json").read_text())


def test_records_are_tensorflows_bytes():
    assert tfevents.crc32c(b"123456789") == 0xE3069283           # the CRC-32C check value
    c = GOLDEN["file_version"]
    assert tfevents.record(tfevents.event(c["wall_time"], file_version="brain.Event:2")).hex() == c["record"]
    c = GOLDEN["scalar"]
    value = tfevents.scalar_value(c["tag"], c["value"])
    assert tfevents.record(tfevents.event(c["wall_time"], c["step"], summary=value)).hex() == c["record"]
    c = GOLDEN["histogram"]
    value = tfevents.histogram_value(c["tag"], c["values"], c["buckets"])
    assert tfevents.record(tfevents.event(c["wall_time"], c["step"], summary=value)).hex() == c["record"]
    c = GOLDEN["keras_model"]
    value = tfevents.text_tensor_value(c["tag"], c["text"], c["plugin_name"], c["content"].encode())
    assert tfevents.record(tfevents.event(c["wall_time"], c["step"], summary=value)).hex() == c["record"]


def _tags(directory):
    """{(tag, kind): [steps]} of the one event file in `directory` (CRCs checked on reading)."""
    files = os.listdir(directory)
    assert len(files) == 1 and files[0].startswith("events.out.tfevents.") and files[0].endswith(".v2")
    events = tfevents.read_events(os.path.join(directory, files[0]))
    assert events[0][3] == [b"brain.Event:2"]
    out = collections.defaultdict(list)
    for e in events[1:]:
        value = tfevents._fields(tfevents._fields(e[5][0])[1][0])
        kind = "scalar" if 2 in value else "histogram" if 5 in value else "tensor"
        out[(value[1][0].decode(), kind)].append(e.get(2, [0])[0])
    return out


def test_fit_writes_what_keras_writes_where_it_writes_it(tmp_path):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(40, 4))
    y = (x[:, 0] > 0).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    tb = keras.callbacks.TensorBoard(log_dir=tmp_path / "logs", histogram_freq=2, update_freq=3)
    h = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, callbacks=[tb], verbose=0)
    train = _tags(tmp_path / "logs" / "train")
    assert train[("keras", "tensor")] == [0]                          # the model's JSON, for the graph
    for name in ("loss", "accuracy", "learning_rate"):
        assert train[(f"epoch_{name}", "scalar")] == [0, 1, 2]
    assert train[("batch_loss", "scalar")] == [3, 6, 9, 12]            # 4 batches an epoch, every 3rd
    paths = [w.path for w in model.weights]                           # e.g. sequential/dense/kernel
    assert len(paths) == 4
    for path in paths:
        assert train[(f"{path}/histogram", "histogram")] == [0, 2]
    val = _tags(tmp_path / "logs" / "validation")
    assert val[("epoch_loss", "scalar")] == [0, 1, 2] and val[("epoch_accuracy", "scalar")] == [0, 1, 2]
    assert val[("evaluation_loss_vs_iterations", "scalar")] == [4, 8, 12]
    # the values are the history's
    events = tfevents.read_events(next((tmp_path / "logs" / "validation").iterdir()))
    losses = [tfevents._fields(tfevents._fields(e[5][0])[1][0])[2][0] for e in events[1:]
              if tfevents._fields(tfevents._fields(e[5][0])[1][0])[1][0] == b"epoch_loss"]
    np.testing.assert_allclose(losses, h.history["val_loss"], rtol=1e-6)


def test_arguments():
    with pytest.raises(ValueError, match="Profiling"):
        keras.callbacks.TensorBoard(profile_batch=2)
    with pytest.raises(ValueError, match="update_freq"):
        keras.callbacks.TensorBoard(update_freq="step")
    with pytest.warns(UserWarning, match="images"):
        keras.callbacks.TensorBoard(write_images=True)
