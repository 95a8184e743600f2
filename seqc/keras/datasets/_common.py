"""What the data sets share: the download location and safe readers of their files."""
import io
import pickle
import zipfile

import numpy as np

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_NUMPY_GLOBALS = frozenset({("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                            ("numpy._core.multiarray", "_reconstruct")})


class ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only: a data file cannot run code."""

    def find_class(self, module, name):
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"Refusing to deserialize `{module}.{name}` while loading a Keras dataset. "
                                     "The file may be corrupted or malicious.")


def _npy_member(fp):
    try:
        return np.lib.format.read_array(fp, allow_pickle=False)
    except ValueError:          # an object array (ragged sequences): pickled, numpy arrays only
        fp.seek(0)
        version = np.lib.format.read_magic(fp)
        if version[0] == 1:
            np.lib.format.read_array_header_1_0(fp)
        elif version[0] in (2, 3):
            np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"Unsupported `.npy` file version: {version}.") from None
        return ArraysOnly(fp).load()


def load_npz(path):
    """The arrays of an .npz file, object arrays included (as imdb.npz and reuters.npz hold)."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as raw:
                    arrays[member[:-4]] = _npy_member(io.BytesIO(raw.read()))
    return arrays


def remove_long_seq(maxlen, seq, label):
    kept = [(x, y) for x, y in zip(seq, label) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def index_words(x_train, x_test, start_char, index_from):
    """Word indices shifted by `index_from`, each sequence after `start_char` (imdb)."""
    def shift(xs):
        if start_char is not None:
            return [[start_char] + [w + index_from for w in x] for x in xs]
        if index_from:
            return [[w + index_from for w in x] for x in xs]
        return [list(x) for x in xs]
    return shift(x_train), shift(x_test)


def cap_words(xs, num_words, skip_top, oov_char):
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]
