"""Keras's Bidirectional wrapper (over LSTM, GRU or SimpleRNN; seqc/ops/bidirectional.py lowers
it) and the Masking layer (seqc/ops/masking.py), with Keras 3's arguments and checks."""
import numpy as np


def _base():
    from .layers import Layer      # layers.py imports this module at its end
    return Layer


_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


class Bidirectional(_base()):
    """Runs `layer` forwards and a copy of it (or `backward_layer`) backwards over the
    sequence and merges their outputs (`merge_mode` concat, sum, ave or mul; None, two
    outputs, cannot be used in a Sequential model). `weights` (Keras 2): the initial weights,
    the forward layer's then the backward layer's."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        from .layers import GRU, LSTM, Layer, SimpleRNN, _RNN
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `Bidirectional` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"`backward_layer` need to be a `keras.layers.Layer` instance. Received: {backward_layer!r}")
        if isinstance(merge_mode, str) or merge_mode is None:
            ok = merge_mode in _MERGE_MODES
        else:
            ok = False
        if not ok:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should be one of "
                             '{"sum", "mul", "ave", "concat", None}')
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional: seqc wraps LSTM, GRU and SimpleRNN layers; got {type(layer).__name__}")
        super().__init__(**kwargs)
        if backward_layer is not None:
            if type(backward_layer) is not type(layer) or backward_layer.units != layer.units:
                raise ValueError(f"Bidirectional: seqc needs `backward_layer` to be a {type(layer).__name__} of "
                                 f"{layer.units} units like `layer`; got a {type(backward_layer).__name__}"
                                 + (f" of {backward_layer.units} units" if isinstance(backward_layer, _RNN) else ""))
            back_go = backward_layer.go_backwards
        else:
            back_go = True
        if layer.go_backwards == back_go:
            raise ValueError("Forward layer and backward layer should have different `go_backwards` value. Received: "
                             f"forward_layer.go_backwards {layer.go_backwards}, backward_layer.go_backwards={back_go}")
        if backward_layer is not None:
            for a in ("stateful", "return_sequences"):
                fv, bv = getattr(layer, a), getattr(backward_layer, a)
                if fv != bv:
                    raise ValueError(f'Forward layer and backward layer are expected to have the same value for '
                                     f'attribute "{a}", got "{fv}" for forward layer and "{bv}" for backward layer')
        assert isinstance(layer, (LSTM, GRU, SimpleRNN))
        self.layer, self.backward_layer, self.merge_mode = layer, backward_layer, merge_mode
        self.stateful, self.return_sequences = layer.stateful, layer.return_sequences
        if self.input_shape_arg is None and layer.input_shape_arg is not None:   # Keras 2: the shape on the inner layer
            self.input_shape_arg, self.batch_size = layer.input_shape_arg, layer.batch_size
        if weights:
            arrays = []
            for w in weights:
                try:
                    a = np.array(w, dtype=np.float32)
                except (TypeError, ValueError, OverflowError):
                    raise ValueError("Bidirectional: `weights` must be a list of float arrays") from None
                if not np.all(np.isfinite(a)):
                    raise ValueError("Bidirectional: `weights` must be finite")
                arrays.append(a)
            self._initial_weights = arrays

    _config_exclude = ("weights",)

    def _inner_configs(self):
        """Keras's forward and backward layer configs: copies of `layer` named forward_<name> /
        backward_<name> (the backward one going backwards) unless `backward_layer` is given, their
        zero_output_for_mask forced to return_sequences."""
        from .saving import serialize_layer

        def named(config, prefix):
            name = config["config"]["name"]
            config["config"]["name"] = prefix + (name[len(prefix):] if name.startswith(prefix) else name)
            return config
        forward = named(serialize_layer(self.layer), "forward_")
        if self.backward_layer is not None:
            backward = serialize_layer(self.backward_layer)
        else:
            backward = named(serialize_layer(self.layer), "backward_")
            backward["config"]["go_backwards"] = True
        for c in (forward, backward):
            c["config"]["zero_output_for_mask"] = c["config"]["return_sequences"]
        return forward, backward

    def _config_value(self, arg, value):
        if arg in ("layer", "backward_layer"):
            return self._inner_configs()[arg == "backward_layer"]
        return value

    @classmethod
    def from_config(cls, config):
        from .saving import deserialize_layer, layer_from_config
        config = dict(config)
        for arg in ("layer", "backward_layer"):
            value = config.get(arg)
            if isinstance(value, dict) and isinstance(value.get("config"), dict):
                inner = dict(value["config"])        # Bidirectional sets it to return_sequences
                if inner.get("zero_output_for_mask") == inner.get("return_sequences", False):
                    inner.pop("zero_output_for_mask", None)
                value = {**value, "config": inner}
            config[arg] = deserialize_layer(value, "Bidirectional", arg)
        return layer_from_config(cls, config)

    def config(self):
        def inner(l):
            return None if l is None else {"kind": type(l).__name__, "name": l.name, "config": l.config()}
        return {"layer": inner(self.layer), "backward_layer": inner(self.backward_layer),
                "merge_mode": self.merge_mode}

    def reset_state(self):
        """Zero both directions' carried state (stateful layers; a no-op otherwise)."""
        if self.stateful and self._model is not None:
            self._model.reset_layer_states(self.name)

    def reset_states(self):
        self.reset_state()


LAYERS = {"Bidirectional": Bidirectional}


class Masking(_base()):
    """Masks the timesteps of a (batch, timesteps, features) input whose features all equal
    `mask_value`: their output is 0 and the layers after it that support masking skip them."""

    def __init__(self, mask_value=0.0, **kwargs):
        from . import validate as v
        super().__init__(**kwargs)
        self.mask_value = v.real("Masking", "mask_value", mask_value)

    def config(self):
        return {"mask_value": self.mask_value}


LAYERS["Masking"] = Masking
Masking._keras_built_at_init = True     # Keras builds it in the constructor: no build_config
