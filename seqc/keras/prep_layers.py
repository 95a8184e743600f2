"""Keras 3 layers that scale, pass through or pad their input (seqc/ops/rescale.py and
seqc/ops/pool.py lower them): Rescaling, Normalization, Identity, ZeroPadding1D."""
import math
import numbers

import numpy as np

from . import validate as v
from .variables import eager


def _base():
    from .layers import Layer      # layers.py imports this module at its end
    return Layer


def _factor(arg, value):
    """Rescaling's scale / offset: a float, or one float per channel of the last axis."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        values = value.tolist() if hasattr(value, "tolist") else list(value)
        if not isinstance(values, list):                       # a 0-d array
            return v.real("Rescaling", arg, values)
        if not values or any(isinstance(x, (list, tuple)) for x in values):
            raise ValueError(f"Rescaling: `{arg}` must be a float or a flat list of floats (one per channel of "
                             f"the last axis), got {value!r}")
        return tuple(v.real("Rescaling", arg, x) for x in values)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise v.invalid("Rescaling", arg, value, "a float or a list of floats")
    return v.real("Rescaling", arg, value)


class Rescaling(_base()):
    """y = x * scale + offset (e.g. Rescaling(1 / 255) for pixel values, or scale=1 / 127.5,
    offset=-1 for [-1, 1]); `scale` and `offset` a float or one float per channel of the last
    axis. Inputs of an integer dtype are cast to float32 first, as by every layer."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _factor("scale", scale)
        self.offset = _factor("offset", offset)

    def config(self):
        listed = lambda x: list(x) if isinstance(x, tuple) else x     # noqa: E731
        return {"scale": listed(self.scale), "offset": listed(self.offset)}


def _norm_axis(value):
    """Normalization's `axis` as Keras keeps it: a tuple of ints (None: the empty tuple)."""
    items = () if value is None else (value,) if not isinstance(value, (list, tuple)) else tuple(value)
    for a in items:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not -2**31 < a < 2**31:
            raise TypeError(f"Normalization: `axis` must be an int, a tuple of ints or None, got {value!r}")
    return tuple(int(a) for a in items)


def _stat_values(arg, value):
    """`mean` / `variance` given to the constructor, as a float64 array (checked finite)."""
    try:
        a = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"Normalization: `{arg}` must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"Normalization: `{arg}` must be finite, got {value!r}")
    return a


def _adapt_batches(data):
    """The batches of an iterable adapt() is given, as arrays: each element, or the first of an
    (x, y) tuple; a PyDataset by index."""
    from ..runtime.batches import PyDataset
    if isinstance(data, PyDataset):
        items = (data[i] for i in range(len(data)))
    elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
        items = iter(data)
    else:
        raise TypeError(f"Unsupported data type: {type(data)}. `adapt` supports `np.ndarray`, "
                        "`keras.utils.PyDataset`, and iterables of batches (e.g. list, generator).")
    n = 0
    for item in items:
        batch = item[0] if isinstance(item, tuple) else item
        if not hasattr(batch, "shape"):
            raise TypeError("adapt() expects an iterable that yields arrays or tensors with a `.shape` attribute "
                            f"(e.g. numpy arrays). Got an element of type {type(batch).__name__}.")
        n += 1
        yield np.asarray(batch)
    if n == 0:
        raise ValueError("adapt() received an empty iterable (no batches). Expected at least one batch.")


class Normalization(_base()):
    """Shifts and scales its input by a fixed mean and variance: y = (x - mean) / max(sqrt(variance),
    1e-7), or with invert=True x * max(sqrt(variance), 1e-7) + mean. There is one mean and variance
    for each position of the `axis` axes (-1: each feature of the last axis; None: one for all).
    They are given to the constructor (`mean=`, `variance=`, broadcast to those axes) or learned by
    `adapt(data)` before training: then they are the layer's non-trainable weights mean, variance
    and count (Keras's order; count stays 0, as in Keras 3), which the model's files keep.
    seqc normalizes over consecutive sample axes (any single axis, None, or e.g. (1, 2))."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _norm_axis(axis)
        self.invert = v.boolean("Normalization", "invert", invert)
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean} and variance={variance}")
        self._stats = None                  # (mean, variance) float64 arrays given to the constructor
        if mean is not None:
            m, var = _stat_values("mean", mean), _stat_values("variance", variance)
            if m.shape != var.shape:
                raise ValueError("When setting values directly, `mean` and `variance` must have the same shape. "
                                 f"Received: mean shape {m.shape} and variance shape {var.shape}")
            if m.ndim > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(self.axis)}). Received: mean shape {m.shape} for axis {self.axis}")
            if np.any(var < 0):
                raise ValueError(f"Normalization: `variance` must not be negative, got {variance!r}")
            self._stats = (m, var)
        self._adapted_shape = None          # the input shape (batch first) adapt() saw

    def config(self):
        return {"axis": self.axis, "invert": self.invert,
                "mean": None if self._stats is None else tuple(float(x) for x in self._stats[0].ravel()),
                "variance": None if self._stats is None else tuple(float(x) for x in self._stats[1].ravel()),
                "stats_shape": None if self._stats is None else self._stats[0].shape}

    def _config_value(self, arg, value):
        if arg in ("mean", "variance"):      # as Keras writes them: np.array(value).tolist()
            return np.array(value).tolist()
        return value

    # ---- adapt: the mean and variance of a dataset ----
    def _kept(self, shape):
        """(kept axes, reduced axes) of an input of `shape` (batch axis first), as Keras 3 builds them."""
        ndim = len(shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        keep = tuple(sorted(a % ndim for a in self.axis))
        return keep, tuple(d for d in range(ndim) if d not in keep)

    def adapt(self, data):
        """Sets the mean and (biased) variance from `data`: an array with the batch axis first (its
        statistics computed at once), or an iterable of such batches, e.g. a generator or a
        PyDataset (combined batch by batch, in float32, as Keras 3 combines them). Before the layer
        is in a built model they become its initial weights; in one, they replace its weights."""
        if self._stats is not None:
            raise ValueError("Normalization: adapt() sets the mean and variance, which this layer was given "
                             "to its constructor (mean=, variance=)")
        if isinstance(data, np.ndarray):
            mean, var, shape, _ = self._moments(data)
        else:
            mean = var = shape = None
            count = 0
            for batch in _adapt_batches(data):
                b_mean, b_var, shape, n = self._moments(batch.astype(np.float32, copy=False))
                if mean is None:
                    mean, var = np.zeros_like(b_mean, np.float32), np.zeros_like(b_var, np.float32)
                count += n
                w, rest = np.float32(n / count), np.float32(1.0 - n / count)   # Keras's weights, in float32
                new_mean = mean * rest + b_mean * w
                var = (var + (mean - new_mean) ** 2) * rest + (b_var + (b_mean - new_mean) ** 2) * w
                mean = new_mean
        weights = [np.asarray(mean, np.float32), np.asarray(var, np.float32), np.zeros((), np.float32)]
        self._adapted_shape = shape
        self._initial_weights = weights
        if self._model is not None and self._model.built:
            self.set_weights(weights)

    def adapt_summary(self):
        """(output shape, weights) for the summary of a model not built yet, as Keras 3 (torch)
        shows a layer adapt() built; None if it was not."""
        if self._initial_weights is None or self._adapted_shape is None:
            return None
        return ("(" + ", ".join(str(d) for d in self._adapted_shape) + ")",
                int(sum(np.size(w) for w in self._initial_weights)))

    def _moments(self, batch):
        """(mean, variance, input shape, values per statistic) of one batch over the reduced axes;
        checks its shape against the input shape the layer has (in its model, or from an earlier
        adapt)."""
        if batch.ndim == 0:
            raise ValueError("Normalization.adapt: the data needs a batch axis, got a scalar")
        if not np.issubdtype(batch.dtype, np.number) and batch.dtype != np.bool_:
            raise ValueError(f"Normalization.adapt: expected numeric data, got an array of {batch.dtype}")
        keep, reduce = self._kept(batch.shape)
        want = self._model_input_shape() or self._adapted_shape
        if want is not None and any(d >= len(want) or batch.shape[d] != want[d] for d in keep):
            raise ValueError(f"The layer was built with input_shape={tuple(want)}, but adapt() is being called "
                             f"with data with an incompatible shape, data.shape={batch.shape}")
        if batch.size == 0:
            raise ValueError(f"Normalization.adapt: the data is empty (shape {batch.shape})")
        if not np.all(np.isfinite(batch)):
            raise ValueError("Normalization.adapt: the data has non-finite values (nan or inf)")
        return (np.mean(batch, axis=reduce), np.var(batch, axis=reduce), (None,) + tuple(batch.shape[1:]),
                batch.size // math.prod(batch.shape[d] for d in keep))

    def _model_input_shape(self):
        """The input shape of the layer in its model (batch first), when the model is built."""
        model = self._model
        if model is None or not model.built:
            return None
        return model.layer_input_shape(self)

    # ---- Keras's views of the statistics ----
    def _broadcast_shape(self):
        shape = self._adapted_shape or self._model_input_shape()      # Keras builds it at adapt()
        if shape is None:
            return None
        keep, _ = self._kept(shape)
        return tuple(shape[d] if d in keep else 1 for d in range(len(shape)))

    def _stat(self, i):
        shape = self._broadcast_shape()
        if self._stats is not None:
            if shape is None:
                return None
            keep, _ = self._kept(shape)
            kept_shape = tuple(shape[d] for d in keep)
            a = self._stats[i]
            a = np.broadcast_to(a.reshape((1,) * (len(kept_shape) - a.ndim) + a.shape), kept_shape)
        else:
            weights = self.get_weights() if self._model is not None and self._model.built else self._initial_weights
            if not weights or shape is None:
                return None
            a = weights[i]
        return eager(np.asarray(a, np.float32).reshape(shape).copy())

    @property
    def mean(self):
        """The mean, broadcast to the input's rank (Keras's `layer.mean`); None before it is known."""
        return self._stat(0)

    @property
    def variance(self):
        return self._stat(1)

    def __call__(self, inputs):
        """The layer on its own, on an array (batch axis first): the normalized array."""
        x = np.asarray(inputs, np.float32)
        if self._stats is not None and self._broadcast_shape() is None:
            self._adapted_shape = (None,) + x.shape[1:]      # given its statistics, Keras builds it at a call
        mean, var = self.mean, self.variance
        if mean is None:
            raise ValueError("You must call `.build(input_shape)` on the layer before using it.")
        s = np.maximum(np.sqrt(np.asarray(var)), np.float32(1e-7))
        return eager((np.asarray(mean) + x * s) if self.invert else (x - np.asarray(mean)) / s)


class Identity(_base()):
    """Returns its input unchanged (a placeholder layer)."""
    _keras_built_at_init = True          # Keras's config has no build_config for it

    def config(self):
        return {}


class ZeroPadding1D(_base()):
    """Adds `padding` zero steps at the start and end of a (batch, steps, channels) input: an
    int (both ends) or (start, end)."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        from .layers import _data_format
        self.data_format = _data_format("ZeroPadding1D", data_format)
        if isinstance(padding, (tuple, list)):
            self.padding = v.int_tuple("ZeroPadding1D", "padding", padding, 2, lo=0)
        else:
            p = v.integer("ZeroPadding1D", "padding", padding, lo=0)
            self.padding = (p, p)

    def config(self):
        return {"padding": list(self.padding)}


LAYERS = {"Rescaling": Rescaling, "Normalization": Normalization, "Identity": Identity,
          "ZeroPadding1D": ZeroPadding1D}
