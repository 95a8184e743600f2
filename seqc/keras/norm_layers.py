"""Keras normalization layers (seqc/ops/norm.py lowers them): BatchNormalization and
LayerNormalization over the last (channels) axis, with Keras 3's arguments and defaults.

The axis is checked against the input's rank when the model is lowered (only then is the
rank known): -1, or the positive index of the last axis. Regularizers and constraints are
accepted as None only, as for Dense and the convolutions."""
import numbers

from .. import initializers as _initializers
from . import validate as v


def _base():
    from .layers import Layer      # layers.py imports this module at its end
    return Layer


def _reject_unsupported(owner, **args):
    from .layers import reject_unsupported
    reject_unsupported(owner, **args)


def _axis(owner, value):
    """An int, or (LayerNormalization) a list/tuple of one int: checked against the rank later."""
    if isinstance(value, (list, tuple)) and owner == "LayerNormalization":
        if len(value) != 1:
            raise ValueError(f"{owner}: seqc normalizes over the last axis only (axis=-1); got axis={value!r}")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not -2**31 < value < 2**31:
        raise TypeError(f"{owner}: expected an int for the argument 'axis', but received: {value!r}")
    return int(value)


class BatchNormalization(_base()):
    """Normalizes each channel (the last axis) with the batch's mean and biased variance in
    training, updating moving_mean / moving_variance by `momentum`; with the moving statistics
    at inference (and in training too when the layer is not trainable, as Keras 3 does).
    Weights, in Keras's order: gamma (scale=True), beta (center=True), moving_mean,
    moving_variance (the last two non-trainable)."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        owner = "BatchNormalization"
        _reject_unsupported(owner, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                            beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if v.boolean(owner, "synchronized", synchronized):
            raise ValueError(f"{owner}: argument synchronized=True is only supported with the TensorFlow "
                             "backend (seqc: not supported)")
        if v.boolean(owner, "renorm", renorm):
            raise ValueError(f"{owner}: `renorm=True` (batch renormalization) is not supported by seqc yet")
        if renorm_clipping is not None and not isinstance(renorm_clipping, dict):
            raise v.invalid(owner, "renorm_clipping", renorm_clipping, "None or a dict (used only with renorm)")
        v.real(owner, "renorm_momentum", renorm_momentum)
        super().__init__(**kwargs)
        self.axis = _axis(owner, axis)
        self.momentum = v.real(owner, "momentum", momentum)
        self.epsilon = v.real(owner, "epsilon", epsilon, lo=0, lo_open=True)
        self.center = v.boolean(owner, "center", center)
        self.scale = v.boolean(owner, "scale", scale)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.moving_mean_initializer = _initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = _initializers.get(moving_variance_initializer)

    def config(self):
        return {"axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": self.beta_initializer,
                "gamma_initializer": self.gamma_initializer,
                "moving_mean_initializer": self.moving_mean_initializer,
                "moving_variance_initializer": self.moving_variance_initializer}


class LayerNormalization(_base()):
    """Normalizes each sample over its last axis (mean and biased variance of that axis), then
    gamma * x_hat + beta; weights gamma (scale=True), beta (center=True)."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        owner = "LayerNormalization"
        _reject_unsupported(owner, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                            beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if v.boolean(owner, "rms_scaling", rms_scaling):
            raise ValueError(f"{owner}: `rms_scaling=True` (deprecated in Keras 3) is not supported by seqc")
        super().__init__(**kwargs)
        self.axis = _axis(owner, axis)
        self.epsilon = v.real(owner, "epsilon", epsilon, lo=0, lo_open=True)
        self.center = v.boolean(owner, "center", center)
        self.scale = v.boolean(owner, "scale", scale)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)

    def config(self):
        return {"axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": self.beta_initializer, "gamma_initializer": self.gamma_initializer}


LAYERS = {"BatchNormalization": BatchNormalization, "LayerNormalization": LayerNormalization}
