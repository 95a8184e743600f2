"""`keras.datasets.mnist`: 60,000 + 10,000 28x28 uint8 digit images (mnist.npz)."""
import numpy as np

from ..files import get_file
from ._common import ORIGIN


def load_data(path="mnist.npz"):
    path = get_file(fname=path, origin=f"{ORIGIN}mnist.npz",
                    file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
