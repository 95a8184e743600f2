"""The argument rules of issue 9's training additions (no Keras needed): optimizer arguments,
regularizer and constraint identifiers, metric names as Keras 3 reports them, and Nadam's
momentum-schedule product across an optimizer reset."""
import numpy as np
import pytest

from seqc import keras
from seqc.errors import SeqcError

R, C, M, O = keras.regularizers, keras.constraints, keras.metrics, keras.optimizers


def _mlp(**dense_kw):
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="tanh", **dense_kw),
                             keras.layers.Dense(3, activation="softmax")])


def test_optimizer_names_defaults_and_checks():
    for name, cls in (("adadelta", O.Adadelta), ("adamax", O.Adamax), ("nadam", O.Nadam), ("ftrl", O.Ftrl),
                      ("lion", O.Lion)):
        opt = O.get(name)
        assert type(opt) is cls and opt.name == name and opt.learning_rate == pytest.approx(0.001)
    assert O.Adadelta(lr=1.0).learning_rate == 1.0                       # Keras 2 spelling
    assert O.Ftrl().get_config()["initial_accumulator_value"] == 0.1
    assert O.Lion().get_config()["beta_2"] == 0.99
    with pytest.raises(ValueError, match="learning_rate_power"):
        O.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="l1_regularization_strength"):
        O.Ftrl(l1_regularization_strength=-1)
    with pytest.raises(ValueError, match="beta_1"):
        O.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="Only one of"):
        O.Nadam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="use_ema"):
        O.Adamax(use_ema=True)


def test_nadam_after_an_optimizer_reset_repeats_its_first_steps():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    model = _mlp()
    model.compile(O.Nadam(0.05), "categorical_crossentropy")
    w0 = model.get_weights()
    for _ in range(2):
        model.train_on_batch(x, y)
    w2 = model.get_weights()
    model._rt()._engine.reset_optimizer()
    model.set_weights(w0)
    for _ in range(2):
        model.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), w2):
        np.testing.assert_array_equal(a, b)


def test_regularizer_and_constraint_identifiers():
    assert isinstance(R.get("l1l2"), R.L1L2) and R.get("L2").l2 == 0.01 and R.l1_l2 is R.L1L2
    with pytest.raises(ValueError, match="Could not interpret"):
        R.get("l1_l2")                      # not one of Keras 3's names either
    with pytest.raises(ValueError, match="non-negative"):
        R.L2(-0.1)
    with pytest.raises(ValueError, match="custom regularizer"):
        keras.layers.Dense(2, kernel_regularizer=lambda w: 0.0)
    with pytest.raises(ValueError, match="OrthogonalRegularizer"):
        keras.layers.Dense(2, kernel_regularizer="orthogonal_regularizer")
    assert isinstance(C.get("non_neg"), C.NonNeg) and C.get("MaxNorm").max_value == 2
    with pytest.raises(ValueError, match="Could not interpret"):
        keras.layers.Dense(2, kernel_constraint="nonneg")
    # norms over axes the weight does not have, or not consecutive: refused naming the layer
    model = _mlp(kernel_constraint=C.MaxNorm(axis=2))
    with pytest.raises(SeqcError, match="axis"):
        model.compile("sgd", "mse")
        model.predict(np.zeros((1, 5), np.float32), verbose=0)
    conv = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(2, 3, kernel_constraint=C.UnitNorm([0, 2])),
                             keras.layers.Flatten()])
    with pytest.raises(SeqcError, match="consecutive"):
        conv.compile("sgd", "mse")
        conv.predict(np.zeros((1, 4, 4, 2), np.float32), verbose=0)


def test_metric_names_as_keras_reports_them():
    keras.backend.clear_session()
    model = _mlp()
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy", "accuracy", M.Precision(), "precision"],
                  weighted_metrics=["accuracy", M.AUC()])
    x = np.zeros((4, 5), np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(logs) == sorted(["loss", "accuracy", "accuracy_1", "precision", "precision_1",
                                   "weighted_accuracy", "auc"])
    with pytest.raises(SeqcError, match="k=5"):
        bad = _mlp()
        bad.compile("sgd", "categorical_crossentropy", metrics=["top_k_categorical_accuracy"])
        bad.evaluate(x, y, verbose=0)
    with pytest.raises(ValueError, match="top_k"):
        M.Precision(top_k=2)
    with pytest.raises(ValueError, match="Threshold"):
        M.Recall(thresholds=[0.5, 1.5])


def test_class_weight_keys_outside_the_classes_are_ignored_as_in_keras():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((12, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 12)]
    a, b = _mlp(), _mlp()
    for m in (a, b):
        m.compile("sgd", "categorical_crossentropy")
    b.set_weights(a.get_weights())
    a.fit(x, y, class_weight={0: 2.0, 9: 5.0}, batch_size=4, shuffle=False, verbose=0)
    b.fit(x, y, sample_weight=np.where(y.argmax(1) == 0, 2.0, 1.0), batch_size=4, shuffle=False, verbose=0)
    for u, w in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, w)
