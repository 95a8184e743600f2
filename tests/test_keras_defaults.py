"""Keras 3 behaviours users' scripts lean on without knowing: checked against what real Keras 3.15
does (noted in each test)."""
import numpy as np
import pytest

from seqc import keras
from seqc.errors import SeqcError


def test_none_initializer_is_glorot_uniform_as_keras_add_weight():
    """`Dense(1, bias_initializer=None)` (TF's imbalanced-data tutorial passes its output_bias
    that way): Keras 3's add_weight takes glorot_uniform for a float weight given no initializer,
    and get_config keeps None."""
    keras.utils.set_random_seed(0)
    dense = keras.layers.Dense(400, bias_initializer=None, kernel_initializer=None)
    conv = keras.layers.Conv1D(300, 3, bias_initializer=None)
    model = keras.Sequential([keras.Input((5, 3)), conv, keras.layers.Flatten(), dense])
    bias = dense.get_weights()[1]
    limit = np.sqrt(6 / (400 + 400))      # glorot_uniform of a (400,) weight: fan_in = fan_out = 400
    assert np.all(np.abs(bias) <= limit + 1e-7) and bias.std() > 0.5 * limit / np.sqrt(3)
    assert np.abs(conv.get_weights()[1]).max() > 0
    assert dense.get_config()["bias_initializer"] is None and dense.get_config()["kernel_initializer"] is None
    model.compile(optimizer="sgd", loss="mse")
    assert np.isfinite(model.train_on_batch(np.ones((2, 5, 3)), np.ones((2, 400))))


def test_lstm_unit_forget_bias_needs_an_initializer():
    """Keras 3 fails calling a None bias initializer for the forget gate's ones (TypeError)."""
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.LSTM(2, bias_initializer=None)])
    with pytest.raises(SeqcError, match="unit_forget_bias"):
        model.predict(np.ones((1, 4, 3)), verbose=0)


def test_keras_config_module(tmp_path):
    """keras.config as Keras 3 has it; enable_unsafe_deserialization() lets load_model read a
    Lambda's code with its default safe_mode=True (Keras's global setting wins over the argument)."""
    from seqc.keras import saving
    assert keras.config.floatx() == "float32" and keras.config.epsilon() == keras.backend.epsilon()
    assert keras.config.image_data_format() == "channels_last" and keras.version() == keras.__version__
    with pytest.raises(ValueError, match="float32"):
        keras.config.set_floatx("float16")
    with pytest.raises(ValueError, match="float32"):
        keras.config.set_dtype_policy("mixed_float16")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2.0), keras.layers.Dense(1)])
    model.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="safe"):
        keras.models.load_model(tmp_path / "lam.keras")
    try:
        keras.config.enable_unsafe_deserialization()
        again = keras.models.load_model(tmp_path / "lam.keras")
        np.testing.assert_array_equal(again.predict(np.ones((2, 3)), verbose=0), model.predict(np.ones((2, 3)), verbose=0))
    finally:
        saving.GLOBAL_SAFE_MODE[0] = None


def test_plot_model_is_an_import_error():
    """Keras needs pydot to draw a model and raises ImportError without it; seqc does not draw."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ImportError, match="pydot|does not draw"):
        keras.utils.plot_model(model, show_shapes=True)


def test_learning_rate_variable_pop_and_loss():
    """Keras 3's optimizer.learning_rate is a variable: scripts assign() it (or K.set_value it);
    Sequential.pop() returns the layer it removes; model.loss is compile()'s loss."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    assert model.loss is None
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    assert model.loss == "mse"
    lr = model.optimizer.learning_rate
    assert abs(float(lr) - 0.1) < 1e-7 and abs(lr.numpy() - np.float32(0.1)) == 0
    lr.assign(0.25)
    assert model.optimizer.learning_rate == 0.25
    keras.backend.set_value(model.optimizer.learning_rate, 0.5)
    assert keras.backend.get_value(model.optimizer.learning_rate) == 0.5
    w = model.get_weights()
    model.train_on_batch(np.ones((1, 3)), np.zeros((1, 1)))
    g = model.get_weights()
    model.set_weights(w)
    model.optimizer.learning_rate.assign(0.25)
    model.train_on_batch(np.ones((1, 3)), np.zeros((1, 1)))
    np.testing.assert_allclose(w[-1] - model.get_weights()[-1], (w[-1] - g[-1]) / 2, rtol=1e-5)   # the C saw it
    last = model.layers[-1]
    assert model.pop() is last and len(model.layers) == 1
