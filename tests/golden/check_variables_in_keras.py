"""What real Keras 3 says about a model's variables and metric names: the facts
tests/test_variables.py holds seqc to. Run by hand (needs Keras; KERAS_BACKEND=torch):
    KERAS_BACKEND=torch python tests/golden/check_variables_in_keras.py
It prints each fact as `name = value`; the test file quotes them."""
import numpy as np

import keras
from keras import layers


def main():
    m = keras.Sequential([layers.Input((8,)), layers.Dense(4, name="d1"), layers.BatchNormalization(), layers.Dense(3)])
    print("paths =", [w.path for w in m.weights])
    print("names =", [w.name for w in m.weights])
    print("trainable =", [w.trainable for w in m.weights])
    print("counts =", len(m.trainable_weights), len(m.non_trainable_weights), len(m.variables),
          len(m.trainable_variables), len(m.non_trainable_variables))
    print("bn_trainable_paths =", [w.path for w in m.layers[1].trainable_weights])
    v = m.layers[0].bias
    v.assign(np.ones(4))
    v.assign_add(np.ones(4))
    v.assign_sub(0.5 * np.ones(4))
    print("after_assign =", m.layers[0].get_weights()[1].tolist())
    try:
        v.assign(np.ones(5))
    except ValueError as e:
        print("assign_error =", str(e).split(".")[0])
    m.layers[0].trainable = False
    print("frozen_counts =", len(m.trainable_weights), [w.trainable for w in m.layers[0].weights])
    lstm = keras.Sequential([layers.Input((5, 3)), layers.LSTM(4)], name="rnn")
    print("lstm_paths =", [w.path for w in lstm.weights])
    e = keras.Sequential([layers.Input((5,)), layers.Embedding(10, 3)], name="emb")
    print("embedding =", [w.path for w in e.weights], tuple(e.layers[0].embeddings.shape))
    u = keras.Sequential([layers.Dense(3)])
    print("unbuilt =", u.weights, u.layers[0].weights)

    x = np.random.rand(10, 8)
    y = np.eye(3)[np.random.randint(0, 3, 10)]
    a = keras.Sequential([layers.Input((8,)), layers.Dense(3, activation="softmax")])
    print("metrics_names_uncompiled =", a.metrics_names)
    a.compile(optimizer="sgd", loss="mse")
    a.fit(x, y, verbose=0)
    print("metrics_names_no_metrics =", a.metrics_names)
    b = keras.Sequential([layers.Input((8,)), layers.Dense(3, activation="softmax")])
    b.compile(optimizer="sgd", loss="mse", metrics=["mae", "acc"], weighted_metrics=["mse"])
    print("metrics_names_compiled =", b.metrics_names)
    b.fit(x, y, verbose=0)
    print("metrics_names_after_fit =", b.metrics_names, "evaluate_length =", len(b.evaluate(x, y, verbose=0)))


if __name__ == "__main__":
    main()
