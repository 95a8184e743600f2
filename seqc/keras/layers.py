"""Keras-compatible layer classes (`seqc.keras.layers`).

A layer object only records and validates its constructor arguments, exactly as Keras 3 does
at construction time; `spec()` turns it into plain data (seqc.spec.LayerSpec). The static
front end constructs these same classes from literal arguments, so both front ends share
one set of argument rules.
"""
import contextlib
import sys

import numpy as np

from .. import activations as _activations
from .. import initializers as _initializers
from ..errors import SeqcError, SourceLoc
from ..spec import LayerSpec

_name_counts = {}


def _snake(name):
    """Keras's to_snake_case: 'MaxPooling2D' -> 'max_pooling2d', 'Dense' -> 'dense'."""
    import re
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset_names():
    _name_counts.clear()


@contextlib.contextmanager
def name_counters_kept():
    """Run a block that may reset or advance the layer-name counters, then put them back."""
    saved = dict(_name_counts)
    try:
        yield
    finally:
        _name_counts.clear()
        _name_counts.update(saved)


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


def reject_unsupported(layer_name, **args):
    """Keras arguments seqc does not implement yet: a clear error when one is actually used."""
    for arg, value in args.items():
        if value is not None:
            raise ValueError(f"{layer_name}: `{arg}` is not supported by seqc yet (got {value!r})")


def _bool(value, what):
    if not isinstance(value, bool):
        raise ValueError(f"Expected `{what}` to be a boolean. Received: {what}={value!r}")
    return value


class _WeightsMixin:
    """activation / use_bias / kernel and bias initializers, as Dense and the convolutions take them."""

    def _set_weight_args(self, activation, use_bias, kernel_initializer, bias_initializer):
        self.activation = _activations.get(activation).name
        self.use_bias = _bool(use_bias, "use_bias")
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)


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

    # ---- the layer's weights, kept by the model it was added to (Keras order) ----
    _model = None
    _initial_weights = None   # arrays given to the constructor (Embedding(weights=...)), else initializers

    def added_to(self, model):
        """Called by the Sequential this layer is added to: it keeps the layer's weights."""
        self._model = model

    @property
    def initial_weights(self):
        """The arrays given to the constructor (`Embedding(weights=[...])`), else None."""
        return self._initial_weights

    def get_weights(self):
        return [] if self._model is None else self._model.layer_weights(self)

    def set_weights(self, weights):
        if self._model is None:
            raise ValueError(f"layer {self.name!r} has no weights yet: add it to a model with a known input shape")
        self._model.set_layer_weights(self, weights)

    @property
    def weights(self):
        return self.get_weights()

    def count_params(self):
        return int(sum(w.size for w in self.get_weights()))


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


class Dense(_WeightsMixin, Layer):
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        _positive_int(units, "units")
        reject_unsupported("Dense", kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                           activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                           bias_constraint=bias_constraint)
        super().__init__(**kwargs)
        self.units = units
        self._set_weight_args(activation, use_bias, kernel_initializer, bias_initializer)

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


def standardize_tuple(value, n, name, allow_zero=False):
    """Keras's rule: an int or n ints, all > 0 (>= 0 with allow_zero)."""
    msg = f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}"
    if isinstance(value, int) and not isinstance(value, bool):
        out = (value,) * n
    else:
        try:
            out = tuple(value)
        except TypeError:
            raise ValueError(msg) from None
        if len(out) != n or any(isinstance(v, bool) or not isinstance(v, int) for v in out):
            raise ValueError(msg)
    bad = [v for v in out if (v < 0 if allow_zero else v <= 0)]
    if bad:
        raise ValueError(f"{msg}, including values {set(bad)} that do not satisfy "
                         f"`value {'>= 0' if allow_zero else '> 0'}`")
    return out


def _padding(value, allow_causal=False):
    ok = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if not isinstance(value, str) or value.lower() not in ok:
        raise ValueError(f"The `padding` argument must be one of {ok}. Received: padding={value!r}")
    return value.lower()


def _data_format(value):
    if value not in (None, "channels_last"):
        if value == "channels_first":
            raise ValueError("seqc supports data_format='channels_last' (Keras's default) only")
        raise ValueError(f"The `data_format` argument must be one of {{'channels_first', 'channels_last'}}. "
                         f"Received: data_format={value!r}")
    return "channels_last"


class _Conv(_WeightsMixin, Layer):
    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        reject_unsupported(type(self).__name__, kernel_regularizer=kernel_regularizer,
                           bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                           kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive value. "
                             f"Received filters={filters!r}.")
        if groups != 1:
            raise ValueError(f"{type(self).__name__}: only groups=1 is supported by seqc (got groups={groups!r})")
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = standardize_tuple(strides, self.rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = _padding(padding, allow_causal=self.rank == 1)
        self.data_format = _data_format(data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self._set_weight_args(activation, use_bias, kernel_initializer, bias_initializer)

    def config(self):
        return {"filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "dilation_rate": list(self.dilation_rate), "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer, "rank": self.rank}


class Conv1D(_Conv):
    rank = 1


class Conv2D(_Conv):
    rank = 2


class _Pooling(Layer):
    rank = None
    mode = None
    default_pool = None

    def __init__(self, pool_size=None, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        pool_size = self.default_pool if pool_size is None else pool_size
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size")
        self.strides = standardize_tuple(self.pool_size if strides is None else strides, self.rank, "strides",
                                         allow_zero=True)
        if 0 in self.strides:
            raise ValueError(f"The `strides` argument cannot contain 0. Received strides={strides!r}")
        self.padding = _padding(padding)
        self.data_format = _data_format(data_format)

    def config(self):
        return {"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding,
                "mode": self.mode, "rank": self.rank}


class MaxPooling1D(_Pooling):
    rank, mode, default_pool = 1, "max", 2


class AveragePooling1D(_Pooling):
    rank, mode, default_pool = 1, "avg", 2


class MaxPooling2D(_Pooling):
    rank, mode, default_pool = 2, "max", (2, 2)


class AveragePooling2D(_Pooling):
    rank, mode, default_pool = 2, "avg", (2, 2)


class _GlobalPooling(Layer):
    rank = None
    mode = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        if not isinstance(keepdims, bool):
            raise ValueError(f"`keepdims` must be a boolean, got {keepdims!r}")
        self.keepdims = keepdims

    def config(self):
        return {"mode": self.mode, "rank": self.rank, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    rank, mode = 1, "avg"


class GlobalMaxPooling1D(_GlobalPooling):
    rank, mode = 1, "max"


class GlobalAveragePooling2D(_GlobalPooling):
    rank, mode = 2, "avg"


class GlobalMaxPooling2D(_GlobalPooling):
    rank, mode = 2, "max"


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            shape = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(f"`target_shape` must be a tuple of integers, got {target_shape!r}") from None
        if sum(1 for d in shape if d == -1) > 1 or any(d == 0 or d < -1 for d in shape):
            raise ValueError(f"`target_shape` may hold positive integers and at most one -1, got {target_shape!r}")
        self.target_shape = shape

    def config(self):
        return {"target_shape": list(self.target_shape)}


class ZeroPadding2D(Layer):
    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        msg = ("`padding` should be an int, a tuple of 2 ints or a tuple of 2 tuples of 2 ints, "
               f"got {padding!r}")
        if isinstance(padding, int) and not isinstance(padding, bool):
            pads = ((padding, padding), (padding, padding))
        else:
            try:
                items = tuple(padding)
                if len(items) != 2:
                    raise ValueError(msg)
                if all(isinstance(v, int) for v in items):
                    pads = ((items[0], items[0]), (items[1], items[1]))
                else:
                    pads = tuple(tuple(standardize_tuple(v, 2, "padding", allow_zero=True)) for v in items)
            except TypeError:
                raise ValueError(msg) from None
        if any(v < 0 for pair in pads for v in pair):
            raise ValueError(msg)
        self.padding = pads

    def config(self):
        return {"padding": [list(p) for p in self.padding]}


class Embedding(Layer):
    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, input_length=None, **kwargs):
        for what, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{what}` must be a positive integer. Received: {what}={value!r}")
        reject_unsupported("Embedding", embeddings_regularizer=embeddings_regularizer,
                           embeddings_constraint=embeddings_constraint)
        if weights is not None:   # the initial embeddings, e.g. pretrained vectors (Keras: a matrix or [matrix])
            if isinstance(weights, (list, tuple)) and len(weights) == 1:
                weights = weights[0]
            try:
                weights = np.array(weights, dtype=np.float32)
            except (TypeError, ValueError):
                raise ValueError(f"Embedding: `weights` must be a float matrix of shape ({input_dim}, {output_dim})")
            if weights.shape != (input_dim, output_dim):
                raise ValueError(f"Layer embedding weight shape ({input_dim}, {output_dim}) is not compatible with "
                                 f"provided weight shape {weights.shape}.")
            self._initial_weights = [weights]
        if mask_zero:
            raise ValueError("Embedding: mask_zero=True is not supported by seqc yet")
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(input_length=input_length, **kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = _initializers.get(embeddings_initializer)

    def config(self):
        return {"input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": self.embeddings_initializer}


class _RNN(Layer):
    cell = None

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        kwargs.pop("implementation", None)
        kwargs.pop("use_cudnn", None)
        self._cell_kwargs = {k: kwargs.pop(k) for k in ("recurrent_activation", "unit_forget_bias", "reset_after")
                             if k in kwargs}
        reject_unsupported(type(self).__name__, kernel_regularizer=kernel_regularizer,
                           recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                           activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                           recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint)
        for what, value in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"`{what}` must be a float between 0 and 1, got {value!r}")
        if return_state:
            raise ValueError(f"{type(self).__name__}: return_state=True cannot be used in a Sequential model")
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError("Received an invalid value for argument `units`, expected a positive integer, "
                             f"got {units!r}.")
        for what, value in (("use_bias", use_bias), ("return_sequences", return_sequences),
                            ("go_backwards", go_backwards), ("stateful", stateful)):
            if not isinstance(value, bool):
                raise ValueError(f"`{what}` must be a boolean, got {value!r}")
        self.units = units
        self.activation = _activations.get(activation).name
        self.use_bias = use_bias
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.recurrent_initializer = _initializers.get(recurrent_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.dropout = min(1.0, max(0.0, float(dropout)))       # Keras clips both rates to [0, 1]
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))

    def reset_state(self):
        """Zero this layer's carried state (stateful layers; a no-op otherwise), as Keras 3."""
        if self.stateful and self._model is not None:
            self._model.reset_layer_states(self.name)

    def reset_states(self):
        self.reset_state()

    @property
    def states(self):
        """The carried state of a stateful layer, [h, c] (LSTM) or [h], each (batch, units), as
        numpy arrays (Keras: variables); None otherwise or before the model has run."""
        if not self.stateful or self._model is None:
            return None
        return self._model.layer_states(self.name)

    def config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "recurrent_initializer": self.recurrent_initializer,
                "bias_initializer": self.bias_initializer, "return_sequences": self.return_sequences,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "cell": self.cell,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout}


class LSTM(_RNN):
    cell = "lstm"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = _activations.get(recurrent_activation).name
        if not isinstance(unit_forget_bias, bool):
            raise ValueError(f"`unit_forget_bias` must be a boolean, got {unit_forget_bias!r}")
        self.unit_forget_bias = unit_forget_bias

    def config(self):
        return {**super().config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}


class GRU(_RNN):
    cell = "gru"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 reset_after=True, **kwargs):
        if not isinstance(reset_after, bool):
            raise ValueError(f"`reset_after` must be a boolean, got {reset_after!r}")
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = _activations.get(recurrent_activation).name
        self.reset_after = reset_after

    def config(self):
        return {**super().config(), "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}


class SimpleRNN(_RNN):
    cell = "simple"


def get_layer_class(name):
    cls = LAYERS.get(name)
    if cls is None:
        raise SeqcError(f"unknown or unsupported layer {name!r}; seqc supports: {', '.join(sorted(LAYERS))}")
    return cls


LAYERS = {"InputLayer": InputLayer, "Input": Input, "Dense": Dense, "Activation": Activation,
          "Dropout": Dropout, "Conv1D": Conv1D, "Conv2D": Conv2D, "MaxPooling1D": MaxPooling1D,
          "MaxPooling2D": MaxPooling2D, "AveragePooling1D": AveragePooling1D,
          "AveragePooling2D": AveragePooling2D, "GlobalAveragePooling1D": GlobalAveragePooling1D,
          "GlobalAveragePooling2D": GlobalAveragePooling2D, "GlobalMaxPooling1D": GlobalMaxPooling1D,
          "GlobalMaxPooling2D": GlobalMaxPooling2D, "Flatten": Flatten, "Reshape": Reshape,
          "ZeroPadding2D": ZeroPadding2D, "Embedding": Embedding, "LSTM": LSTM, "GRU": GRU,
          "SimpleRNN": SimpleRNN}

# Keras's aliases
Convolution1D, Convolution2D = Conv1D, Conv2D
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
LAYERS.update({"Convolution1D": Conv1D, "Convolution2D": Conv2D, "MaxPool1D": MaxPooling1D,
               "MaxPool2D": MaxPooling2D, "AvgPool1D": AveragePooling1D, "AvgPool2D": AveragePooling2D,
               "GlobalAvgPool1D": GlobalAveragePooling1D, "GlobalAvgPool2D": GlobalAveragePooling2D,
               "GlobalMaxPool1D": GlobalMaxPooling1D, "GlobalMaxPool2D": GlobalMaxPooling2D})

# layers that move values (seqc/keras/resample_layers.py)
from .resample_layers import (Cropping1D, Cropping2D, RepeatVector, UpSampling1D,  # noqa: E402
                              UpSampling2D)
from .resample_layers import LAYERS as _RESAMPLE_LAYERS  # noqa: E402

LAYERS.update(_RESAMPLE_LAYERS)
