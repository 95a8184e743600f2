"""`keras.datasets.imdb`: 25,000 + 25,000 movie reviews as word indices, labels 0/1 (imdb.npz),
with Keras's `num_words`, `skip_top`, `maxlen`, `start_char`, `oov_char`, `index_from`."""
import json

import numpy as np

from ..files import get_file
from ._common import ORIGIN, cap_words, index_words, load_npz, remove_long_seq


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, **kwargs):
    if kwargs:
        raise TypeError(f"Unrecognized keyword arguments: {kwargs}")
    path = get_file(fname=path, origin=f"{ORIGIN}imdb.npz",
                    file_hash="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f")
    f = load_npz(path)
    x_train, labels_train, x_test, labels_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]
    x_train, x_test = index_words(x_train, x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = remove_long_seq(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             "Increase maxlen.")
    xs = cap_words(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    idx = len(x_train)
    return ((np.array(xs[:idx], dtype="object"), labels[:idx]),
            (np.array(xs[idx:], dtype="object"), labels[idx:]))


def get_word_index(path="imdb_word_index.json"):
    path = get_file(fname=path, origin=f"{ORIGIN}imdb_word_index.json", file_hash="bfafd718b763782e994055a2d397834f")
    with open(path) as f:
        return json.load(f)
