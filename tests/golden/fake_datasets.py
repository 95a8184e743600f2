"""Small stand-ins for the files Keras caches under ~/.keras/datasets/, in exactly their
formats (npz with object arrays, gzipped idx, CIFAR-100's pickles in a tar.gz), made
deterministically. make_dataset_goldens.py loads them with real Keras; tests/test_datasets.py
makes the same files and loads them with seqc."""
import gzip
import io
import json
import os
import pickle
import struct
import tarfile

import numpy as np


def _npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _ragged(rng, n, lo, hi, vocab):
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = [int(w) for w in rng.integers(1, vocab, size=int(rng.integers(lo, hi)))]
    return out


def _idx(path, magic, arr):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


class _Py2Pickler(pickle._Pickler):
    """Pickles bytes as Python 2's str opcodes, as the CIFAR files were written (read back with
    encoding='bytes' they are bytes again)."""
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        n = len(obj)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n))
                   + obj)
        self.memoize(obj)
    dispatch[bytes] = _save_py2_str


def _py2_pickle(obj):
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def make(root):
    """Write the fake data sets under root/datasets (root plays KERAS_HOME)."""
    rng = np.random.default_rng(2026)
    d = os.path.join(root, "datasets")
    os.makedirs(os.path.join(d, "fashion-mnist"), exist_ok=True)
    _npz(os.path.join(d, "mnist.npz"), x_train=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
         y_train=rng.integers(0, 10, 5, dtype=np.uint8), x_test=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
         y_test=rng.integers(0, 10, 2, dtype=np.uint8))
    for name, magic, arr in (("train-labels-idx1-ubyte.gz", 2049, rng.integers(0, 10, 4)),
                             ("train-images-idx3-ubyte.gz", 2051, rng.integers(0, 256, (4, 28, 28))),
                             ("t10k-labels-idx1-ubyte.gz", 2049, rng.integers(0, 10, 2)),
                             ("t10k-images-idx3-ubyte.gz", 2051, rng.integers(0, 256, (2, 28, 28)))):
        _idx(os.path.join(d, "fashion-mnist", name), magic, arr)
    _npz(os.path.join(d, "imdb.npz"), x_train=_ragged(rng, 30, 3, 40, 120), y_train=rng.integers(0, 2, 30),
         x_test=_ragged(rng, 20, 3, 40, 120), y_test=rng.integers(0, 2, 20))
    _npz(os.path.join(d, "reuters.npz"), x=_ragged(rng, 40, 2, 30, 90), y=rng.integers(0, 46, 40))
    _npz(os.path.join(d, "boston_housing.npz"), x=rng.random((25, 13)), y=rng.random(25) * 50)
    for name in ("imdb_word_index.json", "reuters_word_index.json"):
        with open(os.path.join(d, name), "w") as f:
            json.dump({"the": 1, "and": 2, "film": 3}, f)
    # CIFAR-100: the python pickles (bytes keys) in cifar-100-python/ inside a tar.gz archive
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for split, n in (("train", 6), ("test", 3)):
            payload = _py2_pickle({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                                   b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
                                   b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)]})
            info = tarfile.TarInfo(f"cifar-100-python/{split}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    with open(os.path.join(d, "cifar-100-python-target_archive"), "wb") as f:
        f.write(buf.getvalue())


# (case, module, load_data keyword arguments)
CASES = [
    ("mnist", "mnist", {}), ("fashion_mnist", "fashion_mnist", {}),
    ("imdb", "imdb", {}), ("imdb_num_words", "imdb", {"num_words": 50, "skip_top": 5}),
    ("imdb_maxlen", "imdb", {"maxlen": 20, "seed": 7}),
    ("imdb_no_start", "imdb", {"start_char": None, "index_from": 0, "oov_char": None, "num_words": 60}),
    ("reuters", "reuters", {}), ("reuters_split", "reuters", {"test_split": 0.3, "num_words": 40, "maxlen": 25}),
    ("boston_housing", "boston_housing", {}), ("boston_housing_seed", "boston_housing", {"test_split": 0.1, "seed": 3}),
    ("cifar100", "cifar100", {}), ("cifar100_coarse", "cifar100", {"label_mode": "coarse"}),
]


def flatten(result):
    """((x_train, y_train), (x_test, y_test)) as plain arrays (ragged lists: values + lengths)."""
    out = {}
    for split, (x, y) in zip(("train", "test"), result):
        if x.dtype == object:
            out[f"x_{split}_lengths"] = np.array([len(s) for s in x])
            out[f"x_{split}_values"] = np.array([w for s in x for w in s], dtype=np.int64)
        else:
            out[f"x_{split}"] = x
        out[f"y_{split}"] = np.asarray(y)
    return out
