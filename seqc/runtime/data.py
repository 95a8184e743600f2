"""Input checking and conversion: every user array is validated here, before any C runs.

Inputs may be any numeric array-like (lists, float64, integers, non-contiguous views); they
become C-contiguous float32. Wrong shapes, row counts, non-finite or out-of-range labels are a
ValueError that names what was expected and what came.
"""
import numpy as np


def _fmt(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def as_float_array(a, what):
    if a is None:
        raise ValueError(f"{what} is None")
    try:
        arr = np.asarray(a)
    except Exception as e:  # ragged lists etc.
        raise ValueError(f"{what} could not be converted to an array: {e}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 0:                # a scalar weight (Normalization's count): ascontiguousarray makes it 1-d
        return np.array(arr, np.float32)
    return np.ascontiguousarray(arr, dtype=np.float32)


_F32 = np.dtype(np.float32)


def check_x(x, input_shape, what="x"):
    if type(x) is np.ndarray and x.dtype == _F32 and x.flags.c_contiguous and x.ndim == len(input_shape) + 1 \
            and x.shape[1:] == tuple(input_shape):
        return x                     # already what the C takes (the common case, and batch-1 predict)
    arr = as_float_array(x, what)
    expected = (None,) + tuple(input_shape)
    # Keras 3 adjusts the rank by a trailing axis of 1: x of shape (n,) feeds a model of input
    # shape (1,), and x of shape (n, 10, 1) one of input shape (10,)
    adjusted = None
    if arr.ndim == len(input_shape) and input_shape and input_shape[-1] == 1:
        adjusted = arr[..., None]
    elif arr.ndim == len(expected) + 1 and arr.shape[-1] == 1:
        adjusted = arr[..., 0]
    if adjusted is not None and tuple(adjusted.shape[1:]) == tuple(input_shape):
        return np.ascontiguousarray(adjusted)
    if arr.ndim == len(input_shape) and tuple(arr.shape) == tuple(input_shape):
        raise ValueError(f"{what} has shape {_fmt(arr.shape)}, expected {_fmt(expected)}: "
                         "the batch dimension is missing (use x[None] for one sample)")
    if arr.ndim != len(expected) or tuple(arr.shape[1:]) != tuple(input_shape):
        raise ValueError(f"Input {what} has shape {_fmt(arr.shape)}, but the model expects {_fmt(expected)}")
    return arr


def check_indices(arr, n, what="x"):
    """Embedding inputs: whole numbers in [0, n). Names the first bad value and where it is."""
    bad = ~np.isfinite(arr) | (arr < 0) | (arr >= n) | (arr != np.floor(arr))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{what}[{', '.join(map(str, where))}] = {arr[where]:g} is not a valid index for an "
                         f"Embedding of input_dim {n} (expected an integer in [0, {n}))")
    return arr


def check_y(y, n_rows, y_shape, what="y", sparse_classes=None):
    """Labels as float32 (n, *y_shape). (n,) and (n, 1) are interchangeable for one value per row."""
    arr = as_float_array(y, what)
    if arr.ndim == 0:
        raise ValueError(f"{what} must have a batch dimension, got a scalar")
    if arr.shape[0] != n_rows:
        raise ValueError(f"x and {what} have different numbers of rows: x has {n_rows}, "
                         f"{what} has {arr.shape[0]} (shape {_fmt(arr.shape)})")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{what} contains a non-finite value at index {tuple(int(i) for i in bad)}")
    if sparse_classes is not None:
        if n_rows == 0:
            return arr.reshape(0, *y_shape).astype(np.float32)   # no rows: the caller reports it
        flat = arr.reshape(n_rows, -1)
        if flat.shape[1] != 1:
            raise ValueError(f"sparse labels need one class index per sample, got {what} of shape {_fmt(arr.shape)}")
        bad = np.nonzero((flat[:, 0] < 0) | (flat[:, 0] >= sparse_classes) | (flat[:, 0] != np.floor(flat[:, 0])))[0]
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{what}[{i}] = {flat[i, 0]:g} is not a valid class index in [0, {sparse_classes})")
    return np.ascontiguousarray(arr)


def label_shape(y, n_rows):
    """Per-sample label shape as given, with (n,) treated as (n, 1)."""
    shape = tuple(np.shape(y)[1:])
    return shape if shape else (1,)


# ---- arguments of fit / evaluate / predict ---------------------------------------------------
# Keras's own checks raise TypeError for a value of the wrong kind and ValueError for a value out
# of range; these do the same, before any array is converted or any C runs.

def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_batch_size(batch_size, default, what="batch_size"):
    """A positive integer (None: `default`). Larger than the data is fine (one batch), as in Keras."""
    if batch_size is None:
        return default
    if not _is_int(batch_size):
        raise TypeError(f"`{what}` must be a positive integer or None, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"`{what}` must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def rows_per_batch(batch_size, n):
    """The batch size the C runs with: never more rows than there are (a batch_size of 2**40
    over 100 samples is one batch of 100, and reserves activations for 100)."""
    return max(1, min(int(batch_size), int(n)))


def check_verbose(verbose):
    """'auto' (1), or 0 (silent), 1 (progress bar), 2 (one line per epoch)."""
    if isinstance(verbose, str):
        if verbose == "auto":
            return 1
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2, got {verbose!r}")
    if not isinstance(verbose, (int, np.integer)):     # bool is an int: True is 1, as in Keras
        raise TypeError(f"`verbose` must be 'auto', 0, 1 or 2, got {verbose!r}")
    if verbose < 0:
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def check_epochs(epochs, initial_epoch):
    for what, v in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if not _is_int(v):
            raise TypeError(f"`{what}` must be a non-negative integer, got {v!r}")
        if v < 0:
            raise ValueError(f"`{what}` must be a non-negative integer, got {v!r}")
    return int(epochs), int(initial_epoch)


def check_validation_split(v):
    """A fraction in [0, 1); None and False mean no split (Keras tests it for truth first)."""
    if v is None or v is False:
        return 0.0
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"`validation_split` must be a float in [0, 1), got {v!r}")
    if not 0 <= v < 1:     # NaN fails this too
        raise ValueError(f"`validation_split` must be a float in [0, 1), got {v!r}")
    return float(v)


def check_validation_freq(v):
    """Keras: an int k (validate every k-th epoch) or a collection of 1-based epoch numbers.
    Returns a predicate on the 0-based epoch index."""
    if _is_int(v):
        if v < 1:
            raise ValueError(f"`validation_freq` must be a positive integer, got {v!r}")
        return lambda epoch: (epoch + 1) % int(v) == 0
    if isinstance(v, (list, tuple, set, frozenset)) and all(_is_int(e) for e in v):
        epochs = {int(e) for e in v}
        return lambda epoch: epoch + 1 in epochs
    raise TypeError(f"`validation_freq` must be a positive integer or a list of epoch numbers, got {v!r}")


def check_shuffle(shuffle):
    if isinstance(shuffle, (bool, np.bool_)) or shuffle == "batch":
        return shuffle if shuffle == "batch" else bool(shuffle)
    raise TypeError(f"`shuffle` must be True, False or 'batch', got {shuffle!r}")


def check_callbacks(callbacks):
    """None, a callback, or a (nested) list of callbacks: objects of keras.callbacks.Callback
    (or with its interface). Anything else (a string, None in the list, object()) is a TypeError
    here instead of an AttributeError in the middle of training."""
    if callbacks is None:
        return None
    items = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    flat = []
    while items:
        cb = items.pop(0)
        if isinstance(cb, (list, tuple)):
            items[:0] = list(cb)
            continue
        if not all(callable(getattr(cb, hook, None)) for hook in ("set_model", "set_params", "on_epoch_end")):
            raise TypeError("`callbacks` must be a list of keras.callbacks.Callback instances, got an element "
                            f"{cb!r} of type {type(cb).__name__}")
        flat.append(cb)
    return flat


def check_sample_weight(sample_weight, n_rows, what="sample_weight"):
    """One weight per sample: shape (n,) or (n, 1), finite; float32 (n,), or None."""
    if sample_weight is None:
        return None
    arr = as_float_array(sample_weight, what)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(f"`{what}` must have one weight per sample, shape ({n_rows},) or ({n_rows}, 1); "
                         f"got shape {_fmt(arr.shape)} (seqc does not weight the timesteps of a sample)")
    if arr.shape[0] != n_rows:
        raise ValueError(f"Data cardinality is ambiguous: x has {n_rows} samples, `{what}` has {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{what}` contains a non-finite value at index {int(np.argwhere(~np.isfinite(arr))[0][0])}")
    return np.ascontiguousarray(arr)


def check_class_weight(class_weight, sample_weight):
    """Keras: a dict {class index: weight}; not together with sample_weight."""
    if class_weight is None:
        return None
    if sample_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    if not isinstance(class_weight, dict):
        raise TypeError(f"`class_weight` must be a dict mapping class indices to weights, got {class_weight!r}")
    out = {}
    for k, w in class_weight.items():
        if not _is_int(k):
            raise TypeError(f"`class_weight` keys must be integer class indices, got {k!r}")
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, float, np.integer, np.floating)) \
                or not np.isfinite(w):
            raise ValueError(f"`class_weight[{k}]` must be a finite number, got {w!r}")
        out[int(k)] = float(w)
    return out


def class_weight_to_sample_weight(class_weight, y):
    """Keras 3's conversion: the class of a sample is argmax(y) for one-hot labels, else
    round(y); the weight of a class absent from the dict is 1 (as Keras, keys for classes the
    labels never take are ignored)."""
    n = y.shape[0]
    flat = y.reshape(n, -1)
    if y.ndim > 2:
        raise ValueError(f"`class_weight` needs one class per sample; the labels have shape {_fmt(y.shape)}")
    cls = np.argmax(flat, axis=-1) if flat.shape[1] != 1 else np.round(flat[:, 0]).astype(np.int64)
    sw = np.ones(n, np.float32)
    for c, w in class_weight.items():
        sw[cls == c] = w
    return sw


def check_validation_data(validation_data):
    """(x_val, y_val) or (x_val, y_val, sample_weight_val); the arrays are checked by the
    caller. Returns (x_val, y_val, sample_weight_val or None)."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("`validation_data` must be a tuple (x_val, y_val), got "
                         + (f"a {type(validation_data).__name__} of length {len(validation_data)}"
                            if isinstance(validation_data, (tuple, list)) else repr(type(validation_data).__name__)))
    return validation_data[0], validation_data[1], (validation_data[2] if len(validation_data) == 3 else None)


def same_label_shape(given, expected):
    """Keras's losses accept labels of the prediction's shape, or with one trailing axis of 1
    more or less ((n,) for (n, 1), (n, T) for (n, T, 1)); any other shape fails in the loss."""
    given, expected = tuple(given), tuple(expected)
    return (given == expected or given == expected + (1,) or given + (1,) == expected)
