"""`keras.datasets.cifar10`: 50,000 + 10,000 32x32x3 uint8 images in 10 classes (the python
pickles of cifar-10-python.tar.gz), channels last."""
import os

import numpy as np

from ..files import get_file
from ._common import ArraysOnly


def load_batch(fpath, label_key="labels"):
    """(data (n, 3, 32, 32) uint8, labels) of one CIFAR pickle, arrays only."""
    with open(fpath, "rb") as f:
        d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in
             ArraysOnly(f, encoding="bytes").load().items()}
    data = d["data"]
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def _extracted(dirname, origin, file_hash, inner):
    """The directory holding CIFAR's pickles: Keras 3's extraction, or Keras 2's (datasets/<inner>)."""
    from ..files import keras_home
    legacy = os.path.join(keras_home(), "datasets", inner)
    modern = os.path.join(keras_home(), "datasets", dirname, inner)
    if not os.path.isdir(modern) and os.path.isdir(legacy):
        return legacy
    return os.path.join(get_file(fname=dirname, origin=origin, extract=True, file_hash=file_hash), inner)


def load_data():
    path = _extracted("cifar-10-batches-py-target", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                      "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", "cifar-10-batches-py")
    x_train = np.empty((50000, 3, 32, 32), dtype="uint8")
    y_train = np.empty((50000,), dtype="uint8")
    for i in range(1, 6):
        x_train[(i - 1) * 10000:i * 10000], y_train[(i - 1) * 10000:i * 10000] = \
            load_batch(os.path.join(path, f"data_batch_{i}"))
    x_test, y_test = load_batch(os.path.join(path, "test_batch"))
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)      # channels last
    return (x_train, y_train), (x_test.astype(x_train.dtype), y_test.astype(y_train.dtype))
