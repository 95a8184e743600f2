"""Keras-compatible layer classes (`seqc.keras.layers`).

A layer object only records and validates its constructor arguments, exactly as Keras 3 does
at construction time; `spec()` turns it into plain data (seqc.spec.LayerSpec). The static
front end constructs these same classes from literal arguments, so both front ends share
one set of argument rules.
"""
import sys

from .. import activations as _activations
from .. import initializers as _initializers
from ..errors import SeqcError, SourceLoc
from ..spec import LayerSpec

_name_counts = {}


def _snake(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def unique_name(base):
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset_names():
    _name_counts.clear()


def caller_loc():
    """The first stack frame outside the seqc package: where the user wrote this call."""
    import os
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(pkg + os.sep):
        f = f.f_back
    if f is None:
        return None
    return SourceLoc(f.f_code.co_filename, f.f_lineno)


def _shape_tuple(value, what):
    if value is None:
        return None
    if isinstance(value, int):
        value = (value,)
    try:
        shape = tuple(None if d is None else int(d) for d in value)
    except (TypeError, ValueError):
        raise ValueError(f"`{what}` must be a tuple of integers, got {value!r}") from None
    for d in shape:
        if d is not None and d <= 0:
            raise ValueError(f"`{what}` must contain positive integers, got {value!r}")
    return shape


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Received an invalid value for `{what}`, expected a positive integer. "
                         f"Received: {what}={value!r}")
    return value


class Layer:
    """Base: the Keras-2/3 input arguments every first layer may take, plus name/trainable."""

    def __init__(self, *, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_size=None, batch_input_shape=None, input_length=None, **kwargs):
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if not isinstance(trainable, bool):
            raise ValueError(f"Expected `trainable` to be a boolean. Received: trainable={trainable!r}")
        if dtype not in (None, "float32"):
            raise ValueError(f"seqc computes in float32; got dtype={dtype!r}")
        self.loc = caller_loc()
        self._auto_name = name is None
        self.name = name if name is not None else unique_name(_snake(type(self).__name__))
        self.trainable = trainable
        self.batch_size = None if batch_size is None else _positive_int(batch_size, "batch_size")
        if batch_input_shape is not None:          # Keras 2: (batch, *shape)
            shape = _shape_tuple(batch_input_shape, "batch_input_shape")
            if len(shape) < 2:
                raise ValueError(f"`batch_input_shape` needs a batch size and a shape, got {batch_input_shape!r}")
            self.batch_size = shape[0]
            input_shape = shape[1:]
        if input_dim is not None:
            _positive_int(input_dim, "input_dim")
            input_shape = (input_length, input_dim) if input_length is not None else (input_dim,)
        self.input_shape_arg = _shape_tuple(input_shape, "input_shape")
        self.input_length = input_length

    def config(self):
        """The layer's normalised arguments (subclasses add theirs)."""
        return {}

    def spec(self):
        cfg = self.config()
        cfg["trainable"] = self.trainable
        return LayerSpec(kind=type(self).__name__, name=self.name, config=cfg, loc=self.loc,
                         auto_name=self._auto_name)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 input_shape=None, **kwargs):
        if batch_shape is not None:
            shape = _shape_tuple(batch_shape, "batch_shape")
            batch_size, shape = shape[0], shape[1:]
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("Input needs a `shape` (without the batch dimension)")
        super().__init__(name=name, dtype=dtype, input_shape=shape, batch_size=batch_size, **kwargs)


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
    """`keras.Input(shape)`: in a Sequential model it only declares the input shape."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                      name=name, **kwargs)


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        _positive_int(units, "units")
        for arg, value in (("kernel_regularizer", kernel_regularizer), ("bias_regularizer", bias_regularizer),
                           ("activity_regularizer", activity_regularizer),
                           ("kernel_constraint", kernel_constraint), ("bias_constraint", bias_constraint)):
            if value is not None:
                raise ValueError(f"Dense: `{arg}` is not supported by seqc yet (got {value!r})")
        super().__init__(**kwargs)
        self.units = units
        self.activation = _activations.get(activation).name
        if not isinstance(use_bias, bool):
            raise ValueError(f"Expected `use_bias` to be a boolean. Received: use_bias={use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)

    def config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer}


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activations.get(activation).name

    def config(self):
        return {"activation": self.activation}


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float value "
                             f"between 0 and 1. Received: rate={rate!r}")
        if noise_shape is not None:
            raise ValueError("Dropout: `noise_shape` is not supported by seqc yet")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Dropout: `seed` must be an integer, got {seed!r}")
        self.rate = float(rate)
        self.seed = seed

    def config(self):
        return {"rate": self.rate, "seed": self.seed}


def get_layer_class(name):
    cls = LAYERS.get(name)
    if cls is None:
        raise SeqcError(f"unknown or unsupported layer {name!r}; seqc supports: {', '.join(sorted(LAYERS))}")
    return cls


LAYERS = {"InputLayer": InputLayer, "Input": Input, "Dense": Dense, "Activation": Activation,
          "Dropout": Dropout}
