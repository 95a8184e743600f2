"""Keras-compatible layer classes (`seqc.keras.layers`).

A layer object only records and validates its constructor arguments, exactly as Keras 3 does
at construction time; `spec()` turns it into plain data (seqc.spec.LayerSpec). The static
front end constructs these same classes from literal arguments, so both front ends share
one set of argument rules.
"""
import contextlib
import functools
import inspect
import numbers
import sys

import numpy as np

from .. import activations as _activations
from .. import initializers as _initializers
from ..errors import SeqcError, SourceLoc
from ..spec import LayerSpec, snake_case
from . import legacy as _legacy
from . import validate as v
from .layer_protocol import UserLayerAPI
from .variables import HasVariables
from . import constraints as _constraints
from . import regularizers as _regularizers

_name_counts = {}


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


class UnrecognizedArguments(TypeError, ValueError):
    """Keras 3 raises ValueError("Unrecognized keyword arguments ..."); Python's own word for it
    is TypeError: the error is both."""


def reject_unsupported(layer_name, **args):
    """Keras arguments seqc does not implement yet: a clear error when one is actually used."""
    for arg, value in args.items():
        if value is not None:
            raise ValueError(f"{layer_name}: `{arg}` is not supported by seqc yet (got {value!r})")


class _WeightsMixin:
    """activation / use_bias / kernel and bias initializers, as Dense and the convolutions take them."""

    def _set_weight_args(self, activation, use_bias, kernel_initializer, bias_initializer):
        self.activation = _activations.get(activation).name
        self.use_bias = v.boolean(type(self).__name__, "use_bias", use_bias)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)


class Layer(UserLayerAPI, HasVariables):
    """Base of the layers: name, trainable, dtype (float32) and the input arguments a first
    layer may take (Keras 3's input_shape / input_dim / batch_size; Keras 2's
    batch_input_shape and input_length). An unknown keyword is an error, as in Keras; Keras 1's
    argument names are mapped (seqc/keras/legacy.py).

    Keras's `get_config()` / `from_config()` come from the constructor: each class's own
    arguments are recorded as called (defaults applied) and written out as Keras does
    (seqc.keras.saving.layer_config), the normalised attribute of the same name preferred
    (kernel_size as a tuple, data_format resolved); `_config_exclude` lists arguments Keras's
    get_config leaves out, `_config_extra` keys it writes that are no arguments (their fixed
    values), and `_config_value(arg, value)` may rewrite one value."""
    _config_exclude = ()
    _config_extra = {}
    _keras_built_at_init = False     # Keras builds it in its constructor: no build_config in a .keras file

    @property
    def kind(self):
        """The Keras 3 class this layer is (Keras 1's Convolution2D is a Conv2D)."""
        return getattr(type(self), "KERAS_CLASS", None) or type(self).__name__

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_seqc_wrapped", False):
            return
        maps_keras1 = cls.__module__.startswith("seqc.")   # a user's own Layer keeps its arguments as written
        signature = inspect.signature(init)
        passes_through = any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values())

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            if maps_keras1:
                kwargs = _legacy.renamed_layer_args(type(self), kwargs)
            # the outermost constructor that names its arguments records them (for get_config)
            if "_init_arguments" not in self.__dict__ and not passes_through:
                try:
                    bound = signature.bind(self, *args, **kwargs)
                    bound.apply_defaults()
                    self._init_arguments = {k: v for k, v in list(bound.arguments.items())[1:]}
                except TypeError:
                    self._init_arguments = {}      # the constructor itself reports the bad call
            init(self, *args, **kwargs)
        __init__._seqc_wrapped = True
        cls.__init__ = __init__

    def get_config(self):
        """Keras 3's get_config() of this layer (JSON-able, as in a .keras file's config.json)."""
        from .saving import layer_config
        return layer_config(self)

    @classmethod
    def from_config(cls, config):
        from .saving import layer_from_config
        return layer_from_config(cls, config)

    def _config_value(self, arg, value):
        return value

    def __init__(self, *, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_size=None, batch_input_shape=None, input_length=None, activity_regularizer=None, **kwargs):
        owner = type(self).__name__
        if kwargs:
            first = next(iter(kwargs))
            raise UnrecognizedArguments(f"{owner}() got an unexpected keyword argument {first!r} "
                                        f"(Unrecognized keyword arguments passed to {owner}: {kwargs})")
        self.loc = caller_loc()
        if dtype not in (None, "float32"):
            raise ValueError(f"{owner}: seqc computes in float32; got dtype={dtype!r}")
        self._auto_name = name is None
        self.name = v.name(owner, name) if name is not None else unique_name(snake_case(self.kind))
        self.trainable = v.boolean(owner, "trainable", trainable)
        self.batch_size = v.optional(v.integer)(owner, "batch_size", batch_size)
        self.input_length = v.optional(v.integer)(owner, "input_length", input_length)
        if batch_input_shape is not None:          # Keras 2: (batch, *shape)
            shape = v.shape(owner, "batch_input_shape", batch_input_shape)
            if len(shape) < 2:
                raise ValueError(f"{owner}: `batch_input_shape` needs a batch size and a shape, "
                                 f"got {batch_input_shape!r}")
            self.batch_size = shape[0]
            input_shape = shape[1:]
        if input_dim is not None:
            input_dim = v.integer(owner, "input_dim", input_dim)
            input_shape = (self.input_length, input_dim) if self.input_length is not None else (input_dim,)
        self.input_shape_arg = None if input_shape is None else v.shape(owner, "input_shape", input_shape)
        self.activity_regularizer = _regularizers.spec_of(owner, "activity_regularizer", activity_regularizer)

    # weight regularizers and constraints by weight role ('kernel', 'recurrent_kernel', 'bias', 'embeddings')
    _weight_regularizers = _weight_constraints = None

    def _set_penalties(self, regularizers, constraints):
        """{role: identifier} of the layer's weight regularizer and constraint arguments (the
        argument named `<role>_regularizer`, RNNs' recurrent one `recurrent_regularizer`)."""
        owner = type(self).__name__
        arg = {"recurrent_kernel": "recurrent"}
        self._weight_regularizers = {r: s for r, x in regularizers.items() if (
            s := _regularizers.spec_of(owner, f"{arg.get(r, r)}_regularizer", x)) is not None}
        self._weight_constraints = {r: s for r, x in constraints.items() if (
            s := _constraints.spec_of(owner, f"{arg.get(r, r)}_constraint", x)) is not None}

    def config(self):
        """The layer's normalised arguments (subclasses add theirs)."""
        return {}

    def spec(self):
        from .user_layers import spec_kind
        kind = spec_kind(self)       # 'UserLayer': a user subclass with its own call (user_layers.py)
        cfg = {"layer": self, "class_name": type(self).__name__} if kind == "UserLayer" else self.config()
        if kind != "UserLayer":
            if self._weight_regularizers:
                cfg["regularizers"] = dict(self._weight_regularizers)
            if self._weight_constraints:
                cfg["constraints"] = dict(self._weight_constraints)
            if self.activity_regularizer:
                cfg["activity_regularizer"] = dict(self.activity_regularizer)
        cfg["trainable"] = self.trainable
        return LayerSpec(kind=kind, name=self.name, config=cfg, loc=self.loc,
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

    def _variables(self):
        """Keras 3's variables (`weights`, `trainable_weights`...: seqc/keras/variables.py)."""
        if self._model is None:
            return []
        from .variables import model_variables
        return model_variables(self._model, self)

    _WEIGHT_ATTRIBUTES = frozenset(("kernel", "bias", "recurrent_kernel", "embeddings", "gamma", "beta",
                                    "moving_mean", "moving_variance", "alpha", "depthwise_kernel",
                                    "pointwise_kernel"))

    def __getattr__(self, name):
        """`layer.kernel`, `layer.bias`, ... (Keras's weight attributes) once the layer's model is
        built; only called for names the layer does not otherwise have."""
        if name in Layer._WEIGHT_ATTRIBUTES and self.__dict__.get("_model") is not None:
            for w in self.weights:
                if w.name == name:
                    return w
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def count_params(self):
        return int(sum(w.size for w in self.get_weights()))


class InputLayer(Layer):
    """The input of a Sequential model: `shape` per sample (no batch dimension), or Keras 2's
    `batch_shape` (batch size first); in a Sequential model it only declares the input."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, sparse=None,
                 input_shape=None, **kwargs):
        v.default_only(None)("InputLayer", "sparse", sparse)
        if batch_shape is not None:
            shape = v.shape("InputLayer", "batch_shape", batch_shape)
            if len(shape) < 1:
                raise ValueError(f"InputLayer: `batch_shape` needs a batch size first, got {batch_shape!r}")
            batch_size, shape = shape[0], shape[1:]
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("Input needs a `shape` (without the batch dimension)")
        self.dtype = self.input_dtype = input_dtype("InputLayer", dtype)
        super().__init__(name=name, input_shape=shape, batch_size=batch_size, **kwargs)


# The input dtypes Keras users declare. Integer inputs are token indices for an Embedding (or
# values cast to float32 at the boundary, as any other numeric input); seqc computes in float32.
INPUT_DTYPES = ("float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64",
                "uint8", "uint16", "uint32", "uint64", "bool")


def input_dtype(owner, dtype):
    """`Input(dtype=...)` as a name: None means float32; numpy/str spellings are accepted."""
    if dtype is None:
        return "float32"
    name = getattr(dtype, "name", None) if not isinstance(dtype, str) else dtype
    if name is None:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = None
    if name not in INPUT_DTYPES:
        raise ValueError(f"{owner}: unsupported input dtype {dtype!r}; expected one of {', '.join(INPUT_DTYPES)}")
    return name


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, **kwargs):
    """`keras.Input(shape)`: in a Sequential model it only declares the input shape."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                      name=name, sparse=sparse, **kwargs)


class Dense(_WeightsMixin, Layer):
    """Densely connected layer: activation(x @ kernel + bias), `units` outputs; the kernel is
    (inputs, units) in Keras's order. Regularizers, constraints and LoRA are not supported."""
    _config_exclude = ("activity_regularizer", "lora_rank")
    _config_extra = {"quantization_config": None}

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 **kwargs):
        self.units = v.integer("Dense", "units", units)
        reject_unsupported("Dense", lora_rank=lora_rank)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._set_penalties({"kernel": kernel_regularizer, "bias": bias_regularizer},
                            {"kernel": kernel_constraint, "bias": bias_constraint})
        self._set_weight_args(activation, use_bias, kernel_initializer, bias_initializer)

    def config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer}


class Activation(Layer):
    """Applies an activation function (a name or a keras.activations function) elementwise."""
    _keras_built_at_init = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activations.get(activation).name

    def config(self):
        return {"activation": self.activation}


def _seed(owner, value):
    return v.optional(v.integer)(owner, "seed", value, lo=0)


class Dropout(Layer):
    """Sets a fraction `rate` of its inputs to 0 in training and scales the rest by
    1 / (1 - rate); the identity at inference. `noise_shape` is not supported."""
    _keras_built_at_init = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = v.unit_interval("Dropout", "rate", rate)
        if noise_shape is not None:
            raise ValueError("Dropout: `noise_shape` is not supported by seqc yet")
        self.seed = _seed("Dropout", seed)

    def config(self):
        return {"rate": self.rate, "seed": self.seed}


def _padding(owner, value, allow_causal=False):
    ok = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if not isinstance(value, str) or value.lower() not in ok:
        raise ValueError(f"{owner}: the `padding` argument must be one of {ok}. Received: padding={value!r}")
    return value.lower()


def _data_format(owner, value):
    if value not in (None, "channels_last"):
        if value == "channels_first":
            raise ValueError(f"{owner}: seqc supports data_format='channels_last' (Keras's default) only")
        raise ValueError(f"{owner}: the `data_format` argument must be one of {{'channels_first', "
                         f"'channels_last'}}. Received: data_format={value!r}")
    return "channels_last"


def check_strides_dilation(owner, strides, dilation_rate):
    """Keras's convolutions take strides > 1 or a dilation_rate > 1, not both."""
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(f"{owner}: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                         f"Received: strides={strides} and dilation_rate={dilation_rate}")


class _Conv(_WeightsMixin, Layer):
    """Convolution of `rank` spatial dimensions (channels last): `filters` output channels,
    kernel (*kernel_size, channels, filters); strides, 'valid'/'same' (Conv1D also 'causal')
    padding, dilation; groups=1 only. Regularizers and constraints are not supported."""
    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        owner = type(self).__name__
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._set_penalties({"kernel": kernel_regularizer, "bias": bias_regularizer},
                            {"kernel": kernel_constraint, "bias": bias_constraint})
        self.filters = v.integer(owner, "filters", filters)
        if v.integer(owner, "groups", groups) != 1:
            raise ValueError(f"{owner}: only groups=1 is supported by seqc (got groups={groups!r})")
        self.kernel_size = v.int_tuple(owner, "kernel_size", kernel_size, self.rank)
        self.strides = v.int_tuple(owner, "strides", strides, self.rank)
        self.dilation_rate = v.int_tuple(owner, "dilation_rate", dilation_rate, self.rank)
        self.padding = _padding(owner, padding, allow_causal=self.rank == 1)
        self.data_format = _data_format(owner, data_format)
        check_strides_dilation(owner, self.strides, self.dilation_rate)
        self._set_weight_args(activation, use_bias, kernel_initializer, bias_initializer)

    def config(self):
        return {"filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "dilation_rate": list(self.dilation_rate), "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer, "rank": self.rank}


class Conv1D(_Conv):
    """Convolution over time (batch, steps, channels); padding 'valid', 'same' or 'causal'."""
    rank = 1


class Conv2D(_Conv):
    """Convolution over rows and columns (batch, rows, cols, channels)."""
    rank = 2


class _Pooling(Layer):
    """Max or average pooling over windows of `pool_size` moved by `strides` (default: the
    pool size), 'valid' or 'same' padding, channels last."""
    _keras_built_at_init = True
    rank = None
    mode = None
    default_pool = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)     # Keras's signature shows each class's default pool size
        sig = inspect.signature(_Pooling.__init__)
        params = [p.replace(default=cls.default_pool) if p.name == "pool_size" else p
                  for p in list(sig.parameters.values())[1:]]
        cls.__signature__ = sig.replace(parameters=params)

    def __init__(self, pool_size=None, strides=None, padding="valid", data_format=None, **kwargs):
        owner = type(self).__name__
        super().__init__(**kwargs)
        pool_size = self.default_pool if pool_size is None else pool_size
        self.pool_size = v.int_tuple(owner, "pool_size", pool_size, self.rank)
        self.strides = v.int_tuple(owner, "strides", self.pool_size if strides is None else strides, self.rank)
        self.padding = _padding(owner, padding)
        self.data_format = _data_format(owner, data_format)

    def config(self):
        return {"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding,
                "mode": self.mode, "rank": self.rank}


class MaxPooling1D(_Pooling):
    """Maximum over windows of `pool_size` steps (default 2)."""
    rank, mode, default_pool = 1, "max", 2


class AveragePooling1D(_Pooling):
    """Average over windows of `pool_size` steps (default 2)."""
    rank, mode, default_pool = 1, "avg", 2


class MaxPooling2D(_Pooling):
    """Maximum over windows of `pool_size` rows x columns (default (2, 2))."""
    rank, mode, default_pool = 2, "max", (2, 2)


class AveragePooling2D(_Pooling):
    """Average over windows of `pool_size` rows x columns (default (2, 2))."""
    rank, mode, default_pool = 2, "avg", (2, 2)


class _GlobalPooling(Layer):
    """Max or average over all spatial positions, per channel; `keepdims` keeps the spatial
    axes as size 1."""
    _keras_built_at_init = True
    rank = None
    mode = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        owner = type(self).__name__
        super().__init__(**kwargs)
        self.data_format = _data_format(owner, data_format)
        self.keepdims = v.boolean(owner, "keepdims", keepdims)

    def config(self):
        return {"mode": self.mode, "rank": self.rank, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    """Average over the steps, per channel: (batch, steps, channels) -> (batch, channels)."""
    rank, mode = 1, "avg"


class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the steps, per channel: (batch, steps, channels) -> (batch, channels)."""
    rank, mode = 1, "max"


class GlobalAveragePooling2D(_GlobalPooling):
    """Average over rows and columns, per channel -> (batch, channels)."""
    rank, mode = 2, "avg"


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over rows and columns, per channel -> (batch, channels)."""
    rank, mode = 2, "max"


class Flatten(Layer):
    """Flattens each sample to one dimension (no copy in the generated C)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("Flatten", data_format)


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (positive ints, at most one -1 for the rest)."""
    _keras_built_at_init = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        dims = target_shape if isinstance(target_shape, (tuple, list)) else ()
        ok = bool(dims) and sum(1 for d in dims if d == -1) <= 1 and all(
            not isinstance(d, (bool, np.bool_)) and isinstance(d, numbers.Integral)
            and (d == -1 or 1 <= d <= v.SIZE_LIMIT) for d in dims)
        if not ok:
            raise v.invalid("Reshape", "target_shape", target_shape,
                            "a tuple of positive integers with at most one -1")
        self.target_shape = tuple(int(d) for d in dims)

    def config(self):
        return {"target_shape": list(self.target_shape)}


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros: `padding` an int, (rows, cols), or
    ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("ZeroPadding2D", data_format)
        expected = "an int, a tuple of 2 ints or a tuple of 2 tuples of 2 ints, each >= 0"
        if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
                isinstance(p, (tuple, list)) for p in padding):
            pads = tuple(v.int_tuple("ZeroPadding2D", "padding", p, 2, lo=0) for p in padding)
        elif isinstance(padding, (tuple, list)) and len(padding) == 2:
            rows, cols = v.int_tuple("ZeroPadding2D", "padding", padding, 2, lo=0)
            pads = ((rows, rows), (cols, cols))
        elif isinstance(padding, (tuple, list)):
            raise v.invalid("ZeroPadding2D", "padding", padding, expected)
        else:
            p = v.integer("ZeroPadding2D", "padding", padding, lo=0)
            pads = ((p, p), (p, p))
        self.padding = pads

    def config(self):
        return {"padding": [list(p) for p in self.padding]}


class Embedding(Layer):
    """Looks up a row of an (input_dim, output_dim) matrix for each integer index; `weights`
    gives the initial matrix (e.g. pretrained vectors); mask_zero makes index 0 padding: the
    layers after it carry the mask `index != 0` (seqc/ops/masking.py). Regularizers, constraints
    and LoRA are not supported; Keras 2's `input_length` fixes the sequence length."""
    _config_exclude = ("weights", "lora_rank")
    _config_extra = {"activity_regularizer": None, "quantization_config": None}

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, **kwargs):
        input_dim = v.integer("Embedding", "input_dim", input_dim)
        output_dim = v.integer("Embedding", "output_dim", output_dim)
        reject_unsupported("Embedding", lora_rank=lora_rank)
        self.mask_zero = v.boolean("Embedding", "mask_zero", mask_zero)
        if weights is not None:   # the initial embeddings, e.g. pretrained vectors (Keras: a matrix or [matrix])
            if isinstance(weights, (list, tuple)) and len(weights) == 1:
                weights = weights[0]
            try:
                weights = np.array(weights, dtype=np.float32)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"Embedding: `weights` must be a float matrix of shape ({input_dim}, {output_dim})")
            if weights.shape != (input_dim, output_dim):
                raise ValueError(f"Layer embedding weight shape ({input_dim}, {output_dim}) is not compatible with "
                                 f"provided weight shape {weights.shape}.")
            if not np.all(np.isfinite(weights)):
                raise ValueError("Embedding: `weights` must be finite")
            self._initial_weights = [weights]
        input_length = v.optional(v.integer)("Embedding", "input_length", kwargs.get("input_length"))
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self._set_penalties({"embeddings": embeddings_regularizer}, {"embeddings": embeddings_constraint})
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = _initializers.get(embeddings_initializer)

    def config(self):
        return {"input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": self.embeddings_initializer, "mask_zero": self.mask_zero}


_RNN_ROLES = {"kernel": "kernel", "recurrent": "recurrent_kernel", "bias": "bias"}
_RNN_FLAGS = ("use_bias", "return_sequences", "go_backwards", "stateful", "unroll", "unit_forget_bias", "reset_after")


class _RNN(Layer):
    """Base of the recurrent layers; each subclass declares Keras 3's signature and hands its
    arguments (`locals()`) to `_init_rnn`, which checks them once."""
    _config_exclude = ("use_cudnn",)
    _config_extra = {"zero_output_for_mask": False}
    cell = None

    def _init_rnn(self, args):
        owner = type(self).__name__
        args = {k: x for k, x in args.items() if k not in ("self", "__class__")}
        kwargs = args.pop("kwargs")
        kwargs.pop("implementation", None)     # Keras's choice of kernel: the results are the same
        regularizers = {role: args.pop(f"{a}_regularizer") for a, role in _RNN_ROLES.items()}
        constraints = {role: args.pop(f"{a}_constraint") for a, role in _RNN_ROLES.items()}
        kwargs["activity_regularizer"] = args.pop("activity_regularizer")
        if v.boolean(owner, "return_state", args.pop("return_state")):
            raise ValueError(f"{owner}: return_state=True cannot be used in a Sequential model")
        if args.pop("use_cudnn", "auto") not in ("auto", True, False):
            raise ValueError(f"{owner}: `use_cudnn` must be 'auto', True or False")
        super().__init__(**kwargs)
        self._set_penalties(regularizers, constraints)
        self.units = v.integer(owner, "units", args.pop("units"))
        for flag in _RNN_FLAGS:
            if flag in args:
                setattr(self, flag, v.boolean(owner, flag, args.pop(flag)))
        for rate in ("dropout", "recurrent_dropout"):         # Keras clips both rates to [0, 1]
            setattr(self, rate, min(1.0, max(0.0, v.real(owner, rate, args.pop(rate)))))
        self.seed = _seed(owner, args.pop("seed"))
        for act in ("activation", "recurrent_activation"):
            if act in args:
                setattr(self, act, _activations.get(args.pop(act)).name)
        for init in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            setattr(self, init, _initializers.get(args.pop(init)))
        assert not args, args

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
    """Long short-term memory over a sequence (batch, time, features): gates i, f, c, o with
    `recurrent_activation` on i, f, o; `units` outputs, the last step's or every step's
    (return_sequences); dropout masks per sample, held over the sequence; stateful carries
    (h, c) between batches. Regularizers and constraints are not supported."""
    cell = "lstm"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        self._init_rnn(locals())

    def config(self):
        return {**super().config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}


class GRU(_RNN):
    """Gated recurrent unit over a sequence (batch, time, features): update and reset gates
    with `recurrent_activation`; reset_after (Keras 3's default) applies the reset gate after
    the recurrent product, with separate input and recurrent biases. Otherwise as LSTM."""
    cell = "gru"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        self._init_rnn(locals())

    def config(self):
        return {**super().config(), "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}


class SimpleRNN(_RNN):
    """Fully connected recurrence h_t = activation(x_t W + h_(t-1) U + b) over a sequence
    (batch, time, features); it has no gates, hence no `recurrent_activation`. Otherwise as LSTM."""
    _config_exclude = ("use_cudnn", "seed")
    cell = "simple"

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, **kwargs):
        self._init_rnn(locals())


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



class Convolution1D(Conv1D):
    """Keras 1's Conv1D: `Convolution1D(nb_filter, filter_length, ...)` (keywords mapped by
    seqc/keras/legacy.py)."""
    KERAS_CLASS = "Conv1D"


class Convolution2D(Conv2D):
    """Keras 1's Conv2D: `Convolution2D(nb_filter, nb_row, nb_col, ...)`, the kernel size as two
    positional integers (Keras 2 read them the same way); keywords mapped by legacy.py."""
    KERAS_CLASS = "Conv2D"

    def __init__(self, *args, **kwargs):
        if len(args) >= 3 and all(isinstance(a, numbers.Integral) for a in args[1:3]):
            args = (args[0], (args[1], args[2])) + tuple(args[3:])
        if "nb_row" in kwargs or "nb_col" in kwargs:
            kwargs["kernel_size"] = (kwargs.pop("nb_row", None), kwargs.pop("nb_col", None))
        super().__init__(*args, **kwargs)


Convolution2D.__signature__ = inspect.signature(Conv2D)     # what it takes, as Keras's Conv2D alias


# Keras's aliases
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
LAYERS.update({"Convolution1D": Convolution1D, "Convolution2D": Convolution2D, "MaxPool1D": MaxPooling1D,
               "MaxPool2D": MaxPooling2D, "AvgPool1D": AveragePooling1D, "AvgPool2D": AveragePooling2D,
               "GlobalAvgPool1D": GlobalAveragePooling1D, "GlobalAvgPool2D": GlobalAveragePooling2D,
               "GlobalMaxPool1D": GlobalMaxPooling1D, "GlobalMaxPool2D": GlobalMaxPooling2D})

# layers that move values (seqc/keras/resample_layers.py)
from .resample_layers import (Cropping1D, Cropping2D, RepeatVector, UpSampling1D,  # noqa: E402
                              UpSampling2D)
from .resample_layers import LAYERS as _RESAMPLE_LAYERS  # noqa: E402

LAYERS.update(_RESAMPLE_LAYERS)

# normalization layers (seqc/keras/norm_layers.py)
from .norm_layers import BatchNormalization, LayerNormalization  # noqa: E402
from .norm_layers import LAYERS as _NORM_LAYERS  # noqa: E402

LAYERS.update(_NORM_LAYERS)
# activation layers (seqc/keras/act_layers.py), noise and regularisation layers (noise_layers.py)
from .act_layers import ELU, PReLU, ReLU, LeakyReLU, Softmax  # noqa: E402
from .act_layers import LAYERS as _ACT_LAYERS  # noqa: E402
from .noise_layers import (ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise,  # noqa: E402
                           SpatialDropout1D, SpatialDropout2D)
from .noise_layers import LAYERS as _NOISE_LAYERS  # noqa: E402

LAYERS.update(_ACT_LAYERS)
LAYERS.update(_NOISE_LAYERS)

# Permute and TimeDistributed (seqc/keras/shape_layers.py)
from .shape_layers import Permute, TimeDistributed  # noqa: E402
from .shape_layers import LAYERS as _SHAPE_LAYERS  # noqa: E402

LAYERS.update(_SHAPE_LAYERS)

# wrappers (seqc/keras/wrapper_layers.py)
from .wrapper_layers import Bidirectional, Masking  # noqa: E402
from .wrapper_layers import LAYERS as _WRAPPER_LAYERS  # noqa: E402

LAYERS.update(_WRAPPER_LAYERS)

# transposed, depthwise and separable convolutions (seqc/keras/conv_layers.py)
from .conv_layers import (Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D,  # noqa: E402
                          DepthwiseConv2D, SeparableConv1D, SeparableConv2D)
from .conv_layers import LAYERS as _CONV_LAYERS  # noqa: E402

Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
LAYERS.update(_CONV_LAYERS)

# user-written layers: Lambda (seqc/keras/user_layers.py; Layer subclasses lower as 'UserLayer')
from .user_layers import LAYERS as _USER_LAYERS  # noqa: E402
from .user_layers import InputSpec, Lambda  # noqa: E402,F401

LAYERS.update(_USER_LAYERS)

# scaling, pass-through and 1-D padding (seqc/keras/prep_layers.py)
from .prep_layers import LAYERS as _PREP_LAYERS  # noqa: E402
from .prep_layers import Identity, Normalization, Rescaling, ZeroPadding1D  # noqa: E402,F401

LAYERS.update(_PREP_LAYERS)
