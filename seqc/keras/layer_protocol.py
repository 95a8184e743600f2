"""The part of Keras's Layer protocol that a user-written layer meets: `add_weight` (recorded
as a WeightSpec whose symbolic leaf stands for the weight in the traced graph), `build`, `call`,
`compute_output_shape`, `get_config`, `built`. seqc.keras.layers.Layer inherits it; tracing is in
seqc/keras/user_layers.py."""
from .. import initializers as _initializers
from .. import trace as _t
from . import validate as v


class WeightSpec:
    """One `add_weight` call: its name, shape, initializer spec and trainability, and the leaf
    that stands for it in the traced graph."""

    def __init__(self, name, shape, initializer, trainable, leaf):
        self.name, self.shape, self.initializer, self.trainable, self.leaf = name, shape, initializer, trainable, leaf


class CallNotImplemented(NotImplementedError, TypeError):
    """A layer without its own call(): Python's NotImplementedError, and a TypeError (a user's
    mistake, reported as FILE:LINE by both front ends)."""


class UserLayerAPI:
    """Keras's Layer methods a user subclass calls or overrides."""

    built = False
    supports_masking = False
    input_spec = None

    def build(self, input_shape):
        """Keras's default: nothing to create."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise CallNotImplemented(f"{type(self).__name__} does not define call()")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": "float32"}

    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", overwrite_with_gradient=False,
                   name=None, **kwargs):
        owner = f"{type(self).__name__}.add_weight"
        if kwargs:
            raise TypeError(f"{owner}() got an unexpected keyword argument {next(iter(kwargs))!r}")
        if args:
            if len(args) > 3:
                raise TypeError(f"{owner}() takes at most 3 positional arguments but {len(args)} were given.")
            if isinstance(args[0], str):
                raise ValueError(f"`name` must be passed as a keyword argument. Received: add_weight('{args[0]}', "
                                 f"...). Use: add_weight(shape=..., name='{args[0]}').")
            shape, initializer, dtype = (list(args) + [shape, initializer, dtype][len(args):])[:3]
        if regularizer is not None or constraint is not None:
            raise ValueError(f"{owner}: weight regularizers and constraints are not supported by seqc yet")
        if dtype not in (None, "float32"):
            raise ValueError(f"{owner}: seqc computes in float32; got dtype={dtype!r}")
        if overwrite_with_gradient:
            raise ValueError(f"{owner}: overwrite_with_gradient is not supported by seqc")
        shape = () if shape is None else v.shape(owner, "shape", shape)
        if any(d is None for d in shape):
            raise ValueError(f"{owner}: the weight's shape must be fully known, got {shape}")
        init = _initializers.get("glorot_uniform" if initializer is None else initializer)
        trainable = v.boolean(owner, "trainable", trainable)
        weights = self.__dict__.setdefault("_seqc_weights", [])
        name = name if name is not None else f"variable_{len(weights)}" if weights else "variable"
        leaf = _t.Expr("w", (), tuple(shape), index=len(weights))
        weights.append(WeightSpec(str(name), tuple(shape), init, trainable, leaf))
        return leaf

    add_variable = add_weight

    def add_loss(self, *args, **kwargs):
        raise ValueError(f"{type(self).__name__}: add_loss is not supported by seqc")
