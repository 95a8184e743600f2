"""Keras convolution layers beyond Conv1D/Conv2D (seqc/ops/conv_transpose.py and
seqc/ops/depthwise.py lower them): Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D/2D and
SeparableConv1D/2D, with Keras 3's arguments, defaults and argument checks. channels_last only;
regularizers and constraints are refused as for the other layers."""
from . import validate as v


def _layers():
    from . import layers          # layers.py imports this module at its end
    return layers


_L = _layers()


class _ConvTranspose(_L._WeightsMixin, _L.Layer):
    """Transposed convolution of `rank` spatial dimensions (channels last): `filters` output
    channels, kernel (*kernel_size, filters, channels) as Keras lays it out; strides, 'valid' /
    'same' padding, output_padding (each < its stride), dilation."""
    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        owner = type(self).__name__
        _L.reject_unsupported(owner, kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                              activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                              bias_constraint=bias_constraint)
        super().__init__(**kwargs)
        self.filters = v.integer(owner, "filters", filters)
        self.kernel_size = v.int_tuple(owner, "kernel_size", kernel_size, self.rank)
        self.strides = v.int_tuple(owner, "strides", strides, self.rank)
        self.dilation_rate = v.int_tuple(owner, "dilation_rate", dilation_rate, self.rank)
        self.padding = _L._padding(owner, padding)
        self.output_padding = None if output_padding is None else \
            v.int_tuple(owner, "output_padding", output_padding, self.rank, lo=0)
        self.data_format = _L._data_format(owner, data_format)
        if self.output_padding is not None:
            for i, (p, s) in enumerate(zip(self.output_padding, self.strides)):
                if p >= s:
                    raise ValueError(f"{owner}: `output_padding` must be strictly less than `strides` for all "
                                     f"dimensions. At dimension {i}, `output_padding` is {p} but `strides` is "
                                     f"{s}. Received: output_padding={self.output_padding}, "
                                     f"strides={self.strides}")
        _layers().check_strides_dilation(owner, self.strides, self.dilation_rate)
        self._set_weight_args(activation, use_bias, kernel_initializer, bias_initializer)

    def config(self):
        return {"filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "dilation_rate": list(self.dilation_rate),
                "output_padding": None if self.output_padding is None else list(self.output_padding),
                "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer,
                "rank": self.rank}


class Conv1DTranspose(_ConvTranspose):
    """Transposed convolution over time (batch, steps, channels)."""
    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed convolution over rows and columns (batch, rows, cols, channels)."""
    rank = 2


def _initializer(value):
    from .. import initializers
    return initializers.get(value)


class _Depthwise(_L.Layer):
    """What DepthwiseConv and SeparableConv share: a per-channel convolution with
    `depth_multiplier` outputs per input channel (kernel (*kernel_size, channels, multiplier)),
    strides, 'valid' / 'same' padding, dilation."""
    rank = None

    def _set_depthwise_args(self, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                            activation, use_bias, depthwise_initializer, bias_initializer):
        owner = type(self).__name__
        from .. import activations
        self.kernel_size = v.int_tuple(owner, "kernel_size", kernel_size, self.rank)
        self.strides = v.int_tuple(owner, "strides", strides, self.rank)
        self.dilation_rate = v.int_tuple(owner, "dilation_rate", dilation_rate, self.rank)
        self.padding = _L._padding(owner, padding)
        self.depth_multiplier = v.integer(owner, "depth_multiplier", depth_multiplier)
        self.data_format = _L._data_format(owner, data_format)
        self.activation = activations.get(activation).name
        self.use_bias = v.boolean(owner, "use_bias", use_bias)
        self.depthwise_initializer = _initializer(depthwise_initializer)
        self.bias_initializer = _initializer(bias_initializer)

    def config(self):
        return {"kernel_size": list(self.kernel_size), "strides": list(self.strides), "padding": self.padding,
                "dilation_rate": list(self.dilation_rate), "depth_multiplier": self.depth_multiplier,
                "activation": self.activation, "use_bias": self.use_bias,
                "depthwise_initializer": self.depthwise_initializer, "bias_initializer": self.bias_initializer,
                "rank": self.rank}


class _DepthwiseConv(_Depthwise):
    """Depthwise convolution: output channel c * depth_multiplier + m convolves input channel c
    with kernel[..., c, m]; weights depthwise_kernel, bias (channels * depth_multiplier)."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        _L.reject_unsupported(type(self).__name__, depthwise_regularizer=depthwise_regularizer,
                              bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                              depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint)
        super().__init__(**kwargs)
        self._set_depthwise_args(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                                 activation, use_bias, depthwise_initializer, bias_initializer)


class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise convolution over time (batch, steps, channels)."""
    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise convolution over rows and columns (batch, rows, cols, channels)."""
    rank = 2


class _SeparableConv(_Depthwise):
    """A depthwise convolution followed by a 1x1 convolution to `filters` channels; weights
    depthwise_kernel (*kernel_size, channels, multiplier), pointwise_kernel (1[, 1],
    channels * multiplier, filters), bias (filters)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        owner = type(self).__name__
        _L.reject_unsupported(owner, depthwise_regularizer=depthwise_regularizer,
                              pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
                              activity_regularizer=activity_regularizer, depthwise_constraint=depthwise_constraint,
                              pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint)
        super().__init__(**kwargs)
        self.filters = v.integer(owner, "filters", filters)
        self._set_depthwise_args(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                                 activation, use_bias, depthwise_initializer, bias_initializer)
        self.pointwise_initializer = _initializer(pointwise_initializer)

    def config(self):
        return {**super().config(), "filters": self.filters, "pointwise_initializer": self.pointwise_initializer}


class SeparableConv1D(_SeparableConv):
    """Separable convolution over time (batch, steps, channels)."""
    rank = 1


class SeparableConv2D(_SeparableConv):
    """Separable convolution over rows and columns (batch, rows, cols, channels)."""
    rank = 2


LAYERS = {"Conv1DTranspose": Conv1DTranspose, "Conv2DTranspose": Conv2DTranspose,
          "DepthwiseConv1D": DepthwiseConv1D, "DepthwiseConv2D": DepthwiseConv2D,
          "SeparableConv1D": SeparableConv1D, "SeparableConv2D": SeparableConv2D,
          # Keras's aliases
          "Convolution1DTranspose": Conv1DTranspose, "Convolution2DTranspose": Conv2DTranspose,
          "SeparableConvolution1D": SeparableConv1D, "SeparableConvolution2D": SeparableConv2D}
