"""Keras's activation layers (seqc/ops/act_layers.py lowers them): ReLU, LeakyReLU, PReLU, ELU
and Softmax, with Keras 3's arguments and checks."""
import numbers
import warnings

from .. import initializers as _initializers
from . import validate as v


def _base():
    from .layers import Layer      # layers.py imports this module at its end
    return Layer


def _reject(owner, **args):
    from .layers import reject_unsupported
    reject_unsupported(owner, **args)


class ReLU(_base()):
    """max(x, 0) with Keras's options: `max_value` caps the output, values below `threshold`
    are damped to `negative_slope * (x - threshold)`."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = v.optional(v.real)("ReLU", "max_value", max_value, lo=0)
        self.negative_slope = v.real("ReLU", "negative_slope", negative_slope, lo=0)
        self.threshold = v.real("ReLU", "threshold", threshold, lo=0)

    def config(self):
        return {"max_value": self.max_value, "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(_base()):
    """x for x > 0, negative_slope * x otherwise (Keras 3's default slope 0.3; Keras 2's
    `alpha=` is its deprecated spelling)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = v.real("LeakyReLU", "negative_slope", negative_slope, lo=0)

    def config(self):
        return {"negative_slope": self.negative_slope}


class PReLU(_base()):
    """x for x > 0, alpha * x otherwise, with a trainable alpha per input value; along
    `shared_axes` (1-based, as Keras counts them after the batch) one alpha is shared."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        _reject("PReLU", alpha_regularizer=alpha_regularizer, alpha_constraint=alpha_constraint)
        super().__init__(**kwargs)
        self.alpha_initializer = _initializers.get(alpha_initializer)
        if shared_axes is None:
            axes = None
        else:
            items = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            axes = [v.integer("PReLU", "shared_axes", a) for a in items]
        self.shared_axes = axes

    def config(self):
        return {"alpha_initializer": self.alpha_initializer, "shared_axes": self.shared_axes}


class ELU(_base()):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = v.real("ELU", "alpha", alpha)

    def config(self):
        return {"alpha": self.alpha}


class Softmax(_base()):
    """Softmax over `axis` (one axis after the batch; -1 the last)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or \
                not -v.SIZE_LIMIT <= axis <= v.SIZE_LIMIT:
            raise ValueError(f"Softmax: `axis` must be an integer (one axis; seqc does not take a tuple of several); "
                             f"got {axis!r}")
        self.axis = int(axis)

    def config(self):
        return {"axis": self.axis}


LAYERS = {"ReLU": ReLU, "LeakyReLU": LeakyReLU, "PReLU": PReLU, "ELU": ELU, "Softmax": Softmax}

for _cls in (ReLU, LeakyReLU, ELU, Softmax):     # Keras builds them in the constructor: no build_config
    _cls._keras_built_at_init = True
