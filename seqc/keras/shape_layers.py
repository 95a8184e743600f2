"""Keras layers that reshape or wrap (seqc/ops/permute.py, seqc/ops/time_distributed.py):
Permute and TimeDistributed, with Keras 3's arguments."""
import numbers


def _base():
    from .layers import Layer      # layers.py imports this module at its end
    return Layer


class Permute(_base()):
    """Reorders the axes after the batch: `dims` a permutation of 1..n."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dims, (tuple, list)) or any(isinstance(d, bool) or not isinstance(d, numbers.Integral)
                                                      for d in dims):
            raise ValueError(f"Permute: `dims` must be a tuple of integers. Received dims={dims!r}")
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Invalid permutation argument `dims` for Permute Layer. The set of indices in `dims` "
                             f"must be consecutive and start from 1. Received dims={tuple(dims)}")
        self.dims = tuple(int(d) for d in dims)

    def config(self):
        return {"dims": list(self.dims)}


class TimeDistributed(_base()):
    """Applies `layer` to every temporal slice x[:, t] of its input, with one set of weights."""

    def __init__(self, layer, **kwargs):
        Layer = _base()
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `TimeDistributed` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def config(self):
        return {"layer": self.layer.spec()}

    def _config_value(self, arg, value):
        from .saving import serialize_layer
        return serialize_layer(self.layer) if arg == "layer" else value

    @classmethod
    def from_config(cls, config):
        from .saving import deserialize_layer, layer_from_config
        config = dict(config)
        config["layer"] = deserialize_layer(config.get("layer"), "TimeDistributed")
        return layer_from_config(cls, config)


LAYERS = {"Permute": Permute, "TimeDistributed": TimeDistributed}
