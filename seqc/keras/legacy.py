"""Keras 1 spellings that public scripts still use, mapped onto Keras 3's arguments.

One table for every layer argument renamed since Keras 1 (`output_dim` -> `units`,
`border_mode` -> `padding`, ...), applied when a seqc layer is constructed (so `seqc run` and
the static front end of `seqc compile`, which builds the same classes, both accept them), with
one warning line per class and argument, as Keras 2 printed when it converted them. Keras 1's
layer classes with other positional arguments (`Convolution2D(nb_filter, nb_row, nb_col)`)
are small subclasses at the end of seqc/keras/layers.py; `fit(nb_epoch=)` and the Keras 2
generator methods are mapped in seqc/keras/models.py with `renamed_fit_args`.
"""
import warnings

_DIM_ORDERING = {"tf": "channels_last", "th": "channels_first", "default": None}

# argument -> Keras 3 argument (None: the argument is dropped, with the reason below)
_EVERY_LAYER = {"init": "kernel_initializer", "W_regularizer": "kernel_regularizer",
                "b_regularizer": "bias_regularizer", "W_constraint": "kernel_constraint",
                "b_constraint": "bias_constraint", "bias": "use_bias", "border_mode": "padding",
                "subsample": "strides", "dim_ordering": "data_format"}
_RECURRENT = {"output_dim": "units", "inner_init": "recurrent_initializer",
              "inner_activation": "recurrent_activation", "U_regularizer": "recurrent_regularizer",
              "U_constraint": "recurrent_constraint", "dropout_W": "dropout", "dropout_U": "recurrent_dropout",
              "consume_less": None, "forget_bias_init": None}
_BY_CLASS = {
    "Dense": {"output_dim": "units"},
    "Dropout": {"p": "rate"},
    "SpatialDropout1D": {"p": "rate"}, "SpatialDropout2D": {"p": "rate"},
    "Conv1D": {"nb_filter": "filters", "filter_length": "kernel_size", "subsample_length": "strides"},
    "Conv2D": {"nb_filter": "filters"},
    "MaxPooling1D": {"pool_length": "pool_size", "stride": "strides"},
    "AveragePooling1D": {"pool_length": "pool_size", "stride": "strides"},
    "Embedding": {"init": "embeddings_initializer", "W_regularizer": "embeddings_regularizer",
                  "W_constraint": "embeddings_constraint", "dropout": None},
    "LSTM": _RECURRENT, "GRU": _RECURRENT, "SimpleRNN": _RECURRENT,
    "LeakyReLU": {"alpha": "negative_slope"},
}
_DROPPED = {
    "dropout": "The `dropout` argument is no longer supported in `Embedding`. You can apply a "
               "`keras.layers.SpatialDropout1D` layer right after the `Embedding` layer to get the same behavior.",
    "consume_less": "`consume_less` chose an implementation of the recurrent layer; it does not change the results.",
    "forget_bias_init": "`forget_bias_init` is replaced by `unit_forget_bias=True` (a forget-gate bias of one), "
                        "Keras's default.",
}
_warned = set()


def _warn(owner, message):
    if (owner, message) not in _warned:
        _warned.add((owner, message))
        warnings.warn(message, UserWarning, stacklevel=4)


def renamed_layer_args(cls, kwargs):
    """`kwargs` of a layer of class `cls` with Keras 1's argument names replaced by Keras 3's
    (the table of the class or of the Keras class it derives from: Convolution2D is a Conv2D)."""
    owner = cls.__name__
    table = dict(_EVERY_LAYER)
    for base in reversed(cls.__mro__):
        table.update(_BY_CLASS.get(base.__name__, {}))
    if not any(k in table for k in kwargs):
        return kwargs
    out = {}
    for key, value in kwargs.items():
        if key not in table:
            out[key] = value
            continue
        new = table[key]
        if new is None:
            _warn(owner, f"{owner}: {_DROPPED[key]} (Keras 1 argument `{key}` ignored)")
            continue
        if key == "dim_ordering":
            if value not in _DIM_ORDERING:
                raise ValueError(f"{owner}: `dim_ordering` must be 'tf' or 'th', got {value!r}")
            value = _DIM_ORDERING[value]
        if new in kwargs or new in out:
            raise TypeError(f"{owner}() got both the Keras 1 argument `{key}` and its Keras 2/3 name `{new}`")
        _warn(owner, f"Update your `{owner}` call to the Keras 2/3 API: `{new}=` instead of `{key}=` "
                     "(seqc maps it)")
        out[new] = value
    return out


def renamed_fit_args(method, kwargs):
    """fit/evaluate keyword arguments with Keras 1's names replaced (`nb_epoch` -> `epochs`)."""
    if "nb_epoch" in kwargs:
        if "epochs" in kwargs:
            raise TypeError(f"{method}() got both `nb_epoch` and `epochs`")
        _warn(method, f"The `nb_epoch` argument in `{method}` has been renamed `epochs`.")
        kwargs = dict(kwargs)
        kwargs["epochs"] = kwargs.pop("nb_epoch")
    if "show_accuracy" in kwargs:      # Keras 0.x: accuracy is a metric given to compile()
        _warn(method, f"`{method}(show_accuracy=)` is gone since Keras 1: pass metrics=['accuracy'] to compile()")
        kwargs = {k: v for k, v in kwargs.items() if k != "show_accuracy"}
    return kwargs


def warn_renamed_method(old, new):
    _warn(old, f"`model.{old}` is deprecated and will be removed in a future version. Please use `model.{new}`, "
               "which supports generators.")


def warn_renamed_argument(method, old, new):
    _warn(method, f"The `{old}` argument in `{method}` has been renamed `{new}` (Keras 1 counted samples, "
                  "Keras 2 counts batches: converted with the generator's batch size).")
