"""`keras.utils`: to_categorical, normalize, pad_sequences, get_file, set_random_seed, PyDataset /
Sequence."""
import numpy as np

from ..runtime.model import set_random_seed  # noqa: F401
from .files import get_file  # noqa: F401
from .preprocessing.sequence import pad_sequences  # noqa: F401


def to_categorical(x, num_classes=None):
    """One-hot encode integer labels as Keras does: a trailing axis of size 1 is dropped,
    `num_classes` None or 0 means max + 1, and the result is float64."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)) or not np.all(x == np.floor(x)):
            raise ValueError("to_categorical needs integer class labels")
    x = x.astype(np.int64)
    input_shape = x.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = input_shape[:-1]
    x = x.reshape(-1)
    if not num_classes:
        num_classes = int(x.max()) + 1 if x.size else 0
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), got values in "
                         f"[{x.min()}, {x.max()}]")
    out = np.zeros((x.shape[0], num_classes))
    out[np.arange(x.shape[0]), x] = 1
    return out.reshape(input_shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis` (zero norms left as 1), as Keras does."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis or -1)


from ..runtime.batches import PyDataset, Sequence  # noqa: E402,F401  (fit / evaluate / predict take them)


def plot_model(model, to_file="model.png", show_shapes=False, **kwargs):
    """Keras draws the model with pydot and graphviz; seqc does not draw it: without pydot this is
    Keras's own ImportError, with it an ImportError saying so (the script stops either way)."""
    try:
        import pydot  # noqa: F401
    except ImportError:
        raise ImportError("You must install pydot (`pip install pydot`) for `plot_model` to work.") from None
    raise ImportError("seqc does not draw models: plot_model is not supported (model.summary() prints the layers)")
