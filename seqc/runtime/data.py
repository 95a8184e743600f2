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
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_x(x, input_shape, what="x"):
    arr = as_float_array(x, what)
    expected = (None,) + tuple(input_shape)
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
