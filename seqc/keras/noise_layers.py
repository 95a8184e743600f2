"""Keras's noise and regularisation layers (seqc/ops/noise.py lowers them): GaussianNoise,
GaussianDropout, AlphaDropout, SpatialDropout1D/2D and ActivityRegularization, with Keras 3's
arguments. All are the identity at inference."""
from . import validate as v


def _base():
    from .layers import Layer      # layers.py imports this module at its end
    return Layer


def _seed(owner, value):
    return v.optional(v.integer)(owner, "seed", value, lo=0)


def _rate(owner, value):
    """A drop rate in [0, 1) (rate 1 would scale by 1 / 0)."""
    return v.real(owner, "rate", value, lo=0, hi=1, hi_open=True)


class GaussianNoise(_base()):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` in training."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = v.real("GaussianNoise", "stddev", stddev, lo=0, hi=1)
        self.seed = _seed("GaussianNoise", seed)

    def config(self):
        return {"stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_base()):
    """Multiplies by 1-centred Gaussian noise of standard deviation sqrt(rate / (1 - rate))
    in training."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate("GaussianDropout", rate)
        self.seed = _seed("GaussianDropout", seed)

    def config(self):
        return {"rate": self.rate, "seed": self.seed}


class AlphaDropout(_base()):
    """Dropout that keeps the mean and variance of its inputs (for SELU networks): dropped
    values are set to selu's negative saturation, then an affine map restores the moments."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate("AlphaDropout", rate)
        if noise_shape is not None:
            raise ValueError(f"AlphaDropout: `noise_shape` is not supported by seqc yet (got {noise_shape!r})")
        self.seed = _seed("AlphaDropout", seed)

    def config(self):
        return {"rate": self.rate, "seed": self.seed}


class SpatialDropout1D(_base()):
    """Drops whole channels of a (batch, steps, channels) input in training."""

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.rate = _rate("SpatialDropout1D", rate)
        self.seed = _seed("SpatialDropout1D", seed)

    def config(self):
        return {"rate": self.rate, "seed": self.seed}

    def get_config(self):
        config = super().get_config()       # Keras's SpatialDropout: no `trainable`, the dtype by name
        config.pop("trainable")
        config["dtype"] = "float32"
        return config


class SpatialDropout2D(_base()):
    """Drops whole channels (feature maps) of a (batch, rows, cols, channels) input in training."""

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        from .layers import _data_format
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.rate = _rate("SpatialDropout2D", rate)
        self.data_format = _data_format("SpatialDropout2D", data_format)
        self.seed = _seed("SpatialDropout2D", seed)

    def config(self):
        return {"rate": self.rate, "seed": self.seed}

    def get_config(self):
        config = super().get_config()       # Keras's SpatialDropout: no `trainable`, the dtype by name
        config.pop("trainable")
        config["dtype"] = "float32"
        return config


class ActivityRegularization(_base()):
    """The identity, adding l1 * sum|x| + l2 * sum x^2 (divided by the batch size, as Keras 3
    does) to the loss."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1 = v.real("ActivityRegularization", "l1", l1, lo=0)
        self.l2 = v.real("ActivityRegularization", "l2", l2, lo=0)

    def config(self):
        return {"l1": self.l1, "l2": self.l2}


LAYERS = {"GaussianNoise": GaussianNoise, "GaussianDropout": GaussianDropout, "AlphaDropout": AlphaDropout,
          "SpatialDropout1D": SpatialDropout1D, "SpatialDropout2D": SpatialDropout2D,
          "ActivityRegularization": ActivityRegularization}

for _cls in (GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D, SpatialDropout2D,
             ActivityRegularization):     # Keras builds them in the constructor: no build_config
    _cls._keras_built_at_init = True
