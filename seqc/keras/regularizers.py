"""Keras-compatible weight regularizers (`seqc.keras.regularizers`): L1, L2 and L1L2 with
Keras 3's defaults, their lower-case aliases and string names. A layer records each one as
{"l1": a, "l2": b}; the generated C adds a * sum|w| + b * sum w^2 to the loss and
a * sign(w) + 2 b * w to the gradient (an activity regularizer: the same of the layer's
output, divided by the batch size, as Keras 3's Layer.__call__ does)."""
import math

from ..errors import SeqcError
from . import validate as _v


def _penalty(owner, name, value):
    """Keras's validate_float_arg: a finite non-negative number."""
    if isinstance(value, bool) or not isinstance(value, (float, int)) or math.isinf(value) \
            or math.isnan(value) or value < 0:
        raise ValueError(f"{owner}: Invalid value for argument {name}: expected a non-negative float. "
                         f"Received: {name}={value!r}")
    if value > 3.4e38:
        raise ValueError(f"{owner}: {name}={value!r} does not fit a float32")
    return float(value)


class Regularizer:
    """Base of the regularizers. A user subclass (or any other callable) is not supported: seqc
    computes the penalty and its gradient in the generated C."""

    def __call__(self, x):
        raise SeqcError(f"{type(self).__name__}: seqc computes regularization penalties in the generated C; "
                        "it cannot call a regularizer from Python")

    def spec(self):
        return {"l1": self.l1, "l2": self.l2}

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x^2); None counts as 0 (Keras 3 defaults: 0, 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _penalty("L1L2", "l1", 0.0 if l1 is None else l1)
        self.l2 = _penalty("L1L2", "l2", 0.0 if l2 is None else l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """l1 * sum(|x|)."""

    def __init__(self, l1=0.01):
        self.l1 = _penalty("L1", "l1", 0.0 if l1 is None else l1)
        self.l2 = 0.0

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 * sum(x^2)."""

    def __init__(self, l2=0.01):
        self.l2 = _penalty("L2", "l2", 0.0 if l2 is None else l2)
        self.l1 = 0.0

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    def __init__(self, factor=0.01, mode="rows"):
        raise ValueError("OrthogonalRegularizer is not supported by seqc yet (supported: L1, L2, L1L2)")


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_BY_NAME = {"L1": L1, "l1": L1, "L2": L2, "l2": L2, "L1L2": L1L2, "l1l2": L1L2,
            "OrthogonalRegularizer": OrthogonalRegularizer, "orthogonal_regularizer": OrthogonalRegularizer}


def get(identifier):
    """A regularizer from None, an object, a class, Keras's string names ('l1', 'l2', 'l1l2',
    'L1', 'L2', 'L1L2') or a {'class_name', 'config'} dict."""
    return _v.from_identifier(identifier, Regularizer, _BY_NAME, "regularizer", "keras.regularizers.L1, L2 or L1L2")


def spec_of(owner, arg, identifier):
    """The {'l1', 'l2'} record of a layer's regularizer argument, or None (also for 0, 0)."""
    try:
        reg = get(identifier)
    except ValueError as e:
        raise ValueError(f"{owner}: `{arg}`: {e}") from None
    if reg is None or (reg.l1 == 0 and reg.l2 == 0):
        return None
    return reg.spec()
