"""`model.weights` / `layer.weights` / `layer.kernel` as Keras 3's variables, and Keras 3's
`metrics_names`. The expected values are what real Keras 3 prints for the same models
(tests/golden/check_variables_in_keras.py, run by hand with Keras installed)."""
import numpy as np
import pytest

from seqc import keras
from seqc.keras import backend as K
from seqc.keras import layers


def _model():
    # the names Keras gives these layers in a fresh session (seqc's counters run on across tests)
    return keras.Sequential([layers.Input((8,)), layers.Dense(4, name="d1"),
                             layers.BatchNormalization(name="batch_normalization"), layers.Dense(3, name="dense")],
                            name="sequential")


def test_paths_names_and_trainable_as_keras():
    m = _model()
    assert [w.path for w in m.weights] == [
        "sequential/d1/kernel", "sequential/d1/bias", "sequential/batch_normalization/gamma",
        "sequential/batch_normalization/beta", "sequential/batch_normalization/moving_mean",
        "sequential/batch_normalization/moving_variance", "sequential/dense/kernel", "sequential/dense/bias"]
    assert [w.name for w in m.weights] == ["kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance",
                                           "kernel", "bias"]
    assert [w.trainable for w in m.weights] == [True, True, True, True, False, False, True, True]
    assert (len(m.trainable_weights), len(m.non_trainable_weights), len(m.variables), len(m.trainable_variables),
            len(m.non_trainable_variables)) == (6, 2, 8, 6, 2)
    assert [w.path for w in m.layers[1].trainable_weights] == ["sequential/batch_normalization/gamma",
                                                               "sequential/batch_normalization/beta"]
    assert m.layers[0].kernel.shape == (8, 4) and m.layers[1].moving_mean.trainable is False
    assert m.layers[0].kernel.dtype == "float32" and repr(m.layers[0].kernel).startswith(
        "<Variable path=sequential/d1/kernel, shape=(8, 4), dtype=float32, value=")
    m.layers[0].trainable = False
    assert len(m.trainable_weights) == 4 and [w.trainable for w in m.layers[0].weights] == [False, False]


@pytest.mark.parametrize("compiled", [False, True])
def test_values_are_live_and_assignable(compiled):
    m = _model()
    if compiled:
        m.compile(optimizer="sgd", loss="mse")
    v = m.layers[0].bias
    v.assign(np.ones(4))
    v.assign_add(np.ones(4))
    v.assign_sub(0.5 * np.ones(4))
    assert m.layers[0].get_weights()[1].tolist() == [1.5, 1.5, 1.5, 1.5]
    with pytest.raises(ValueError, match="The shape of the target variable and the shape of the target value"):
        v.assign(np.ones(5))
    k = m.weights[0]
    np.testing.assert_array_equal(np.asarray(k), m.get_weights()[0])
    np.testing.assert_array_equal(k.numpy() * 2, k * 2)
    np.testing.assert_array_equal(K.get_value(k), k.numpy())
    K.set_value(k, np.zeros((8, 4)))
    assert not m.get_weights()[0].any() and K.count_params(k) == 32
    assert keras.ops.convert_to_numpy(k).shape == (8, 4)
    if compiled:   # the C model reads the new weights
        x = np.ones((2, 8), np.float32)
        m.set_weights([np.zeros_like(w) for w in m.get_weights()])
        m.layers[2].bias.assign(np.array([1, 2, 3], np.float32))
        np.testing.assert_allclose(m.predict(x, verbose=0), [[1, 2, 3], [1, 2, 3]])


def test_recurrent_and_embedding_paths_and_unbuilt_models():
    lstm = keras.Sequential([layers.Input((5, 3)), layers.LSTM(4, name="lstm")], name="rnn")
    assert [w.path for w in lstm.weights] == ["rnn/lstm/lstm_cell/kernel", "rnn/lstm/lstm_cell/recurrent_kernel",
                                              "rnn/lstm/lstm_cell/bias"]
    e = keras.Sequential([layers.Input((5,)), layers.Embedding(10, 3, name="embedding")], name="emb")
    assert [w.path for w in e.weights] == ["emb/embedding/embeddings"] and e.layers[0].embeddings.shape == (10, 3)
    u = keras.Sequential([layers.Dense(3)])
    assert u.weights == [] and u.layers[0].weights == []
    with pytest.raises(AttributeError):
        u.layers[0].kernel            # not built: no variables yet
    with pytest.raises(AttributeError):
        e.layers[0].no_such_attribute


def test_metrics_names_as_keras_3():
    x = np.random.default_rng(0).random((10, 8)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.random.default_rng(1).integers(0, 3, 10)]
    a = keras.Sequential([layers.Input((8,)), layers.Dense(3, activation="softmax")])
    assert a.metrics_names == []
    a.compile(optimizer="sgd", loss="mse")
    a.fit(x, y, verbose=0)
    assert a.metrics_names == ["loss"]
    b = keras.Sequential([layers.Input((8,)), layers.Dense(3, activation="softmax")])
    b.compile(optimizer="sgd", loss="mse", metrics=["mae", "acc"], weighted_metrics=["mse"])
    assert b.metrics_names == ["loss", "compile_metrics"]
    b.fit(x, y, verbose=0)
    assert b.metrics_names == ["loss", "compile_metrics"] and len(b.evaluate(x, y, verbose=0)) == 4


def test_convert_to_numpy_of_a_traced_tensor_is_a_clear_error():
    from seqc import trace
    with pytest.raises(ValueError, match="traced tensor"):
        keras.ops.convert_to_numpy(trace.Expr("y_pred", shape=(trace.B, 3)))
