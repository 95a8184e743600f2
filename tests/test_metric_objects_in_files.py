"""Metric objects (AUC, Precision, TopK..., compiled with their arguments) saved in a .keras file
and read back with the same arguments (checked once by hand: real Keras 3.15 loaded such a file,
written by seqc, and its evaluate gave seqc's numbers to 1e-7); optimizers' get_config /
from_config as Keras 3's."""
import json
import zipfile

import numpy as np
import pytest

from seqc import keras
from seqc.keras import layers


def test_metric_objects_round_trip_through_a_keras_file(tmp_path):
    m = keras.Sequential([layers.Input((6,)), layers.Dense(3, activation="softmax")])
    m.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="categorical_crossentropy",
              metrics=["accuracy", keras.metrics.AUC(name="auc", num_thresholds=50, curve="PR"),
                       keras.metrics.Precision(thresholds=0.3), keras.metrics.TopKCategoricalAccuracy(k=2),
                       keras.metrics.RootMeanSquaredError()])
    rng = np.random.default_rng(0)
    x = rng.random((20, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 20)]
    m.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "metrics.keras"
    m.save(path)
    with zipfile.ZipFile(path) as z:
        metrics = json.loads(z.read("config.json"))["compile_config"]["metrics"]
    assert metrics[0] == "accuracy"
    auc = metrics[1]
    assert auc["class_name"] == "AUC" and auc["module"] == "keras.metrics"
    assert {k: auc["config"][k] for k in ("name", "num_thresholds", "curve", "summation_method", "multi_label")} == \
        {"name": "auc", "num_thresholds": 50, "curve": "PR", "summation_method": "interpolation", "multi_label": False}
    assert metrics[2]["config"]["thresholds"] == 0.3 and metrics[3]["config"]["k"] == 2
    assert metrics[4]["class_name"] == "RootMeanSquaredError"
    m2 = keras.models.load_model(path)
    np.testing.assert_allclose(m2.evaluate(x, y, verbose=0), m.evaluate(x, y, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: keras.optimizers.Adam(0.01, beta_1=0.8, amsgrad=True),
    lambda: keras.optimizers.RMSprop(0.001, centered=True, clipnorm=1.0),
    lambda: keras.optimizers.AdamW(0.002, weight_decay=0.01),
    lambda: keras.optimizers.Adagrad(),
])
def test_optimizer_config_round_trip(make):
    opt = make()
    cfg = opt.get_config()
    assert cfg["learning_rate"] == float(np.float32(opt.learning_rate))       # Keras's float32 variable
    assert {"name", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "use_ema"} <= set(cfg)
    again = type(opt).from_config(cfg)
    assert again.get_config() == cfg


def test_a_compiled_optimizer_reports_the_current_learning_rate():
    m = keras.Sequential([layers.Input((3,)), layers.Dense(1)])
    opt = keras.optimizers.SGD(0.1)
    m.compile(optimizer=opt, loss="mse")
    opt.learning_rate = 0.025
    assert m.optimizer.get_config()["learning_rate"] == float(np.float32(0.025))
