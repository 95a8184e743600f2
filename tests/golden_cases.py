"""Shared by the golden tests whose cases are one small model each (test_layer_golden.py,
test_normalization.py): a case's stored arrays, and the comparison of seqc's output and of its
training steps with Keras's."""
import numpy as np


def load(golden_dir, case):
    """(the case's arrays, its initial weights w_i, Keras's weights after training trained_i)."""
    data = np.load(golden_dir / f"{case}.npz")
    n = len([k for k in data.files if k.startswith("w_")])
    return data, [data[f"w_{i}"] for i in range(n)], [data[f"trained_{i}"] for i in range(n)]


def assert_trains_as_keras(model, data, weights, trained, steps):
    """From `weights`, the output for x and `steps` train_on_batch steps toward target equal
    Keras's (the model compiled as the case was)."""
    model.set_weights(weights)
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-4, atol=1e-5)
    losses = [float(model.train_on_batch(data["x"], data["target"])) for _ in range(steps)]
    np.testing.assert_allclose(losses, data["losses"], rtol=1e-4, atol=1e-6)
    for got, want in zip(model.get_weights(), trained):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
