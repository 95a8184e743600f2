"""`keras.datasets.cifar100`: 50,000 + 10,000 32x32x3 uint8 images, 100 fine or 20 coarse
labels (cifar-100-python.tar.gz), channels last."""
import os

import numpy as np

from .cifar10 import _extracted, load_batch


def load_data(label_mode="fine"):
    if label_mode not in ["fine", "coarse"]:
        raise ValueError(f'`label_mode` must be one of `"fine"`, `"coarse"`. Received: label_mode={label_mode}.')
    path = _extracted("cifar-100-python-target", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                      "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7", "cifar-100-python")
    x_train, y_train = load_batch(os.path.join(path, "train"), label_key=f"{label_mode}_labels")
    x_test, y_test = load_batch(os.path.join(path, "test"), label_key=f"{label_mode}_labels")
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    return (x_train.transpose(0, 2, 3, 1), y_train), (x_test.transpose(0, 2, 3, 1), y_test)
