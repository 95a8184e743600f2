"""Keras-compatible weight constraints (`seqc.keras.constraints`): MaxNorm, NonNeg, UnitNorm
and MinMaxNorm with Keras 3's defaults, their snake_case aliases and string names. The
generated C applies them to the weights after every optimizer update, as Keras's optimizer
does. The norms are over `axis` (an int or a list of ints), which must be consecutive axes of
the weight (Keras's usual choices: 0 for a Dense kernel, [0, 1, 2] for a Conv2D kernel)."""
import math
import numbers

from ..errors import SeqcError
from . import validate as _v


def _real(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or abs(value) > 3.4e38:
        raise ValueError(f"{owner}: `{name}` must be a finite number, got {value!r}")
    return float(value)


def _axis(owner, axis):
    axes = [axis] if isinstance(axis, numbers.Integral) and not isinstance(axis, bool) else axis
    if not isinstance(axes, (list, tuple)) or not axes or any(
            isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes):
        raise ValueError(f"{owner}: `axis` must be an integer or a list of integers, got {axis!r}")
    return [int(a) for a in axes]


class Constraint:
    """Base of the constraints. A user subclass is not supported: seqc applies constraints in
    the generated C."""
    kind = None

    def __call__(self, w):
        raise SeqcError(f"{type(self).__name__}: seqc applies constraints in the generated C; "
                        "it cannot call one from Python")

    def get_config(self):
        return {}

    def spec(self):
        return {"kind": self.kind, **self.get_config()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """w * clip(norm, 0, max_value) / (epsilon + norm), norms over `axis`."""
    kind = "max_norm"

    def __init__(self, max_value=2, axis=0):
        self.max_value = _real("MaxNorm", "max_value", max_value)
        self.axis = _axis("MaxNorm", axis)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """max(w, 0)."""
    kind = "non_neg"


class UnitNorm(Constraint):
    """w / (epsilon + norm), norms over `axis`."""
    kind = "unit_norm"

    def __init__(self, axis=0):
        self.axis = _axis("UnitNorm", axis)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """w * (rate * clip(norm, min_value, max_value) + (1 - rate) * norm) / (epsilon + norm)."""
    kind = "min_max_norm"

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _real("MinMaxNorm", "min_value", min_value)
        self.max_value = _real("MinMaxNorm", "max_value", max_value)
        self.rate = _real("MinMaxNorm", "rate", rate)
        self.axis = _axis("MinMaxNorm", axis)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_BY_NAME = {"MaxNorm": MaxNorm, "max_norm": MaxNorm, "NonNeg": NonNeg, "non_neg": NonNeg,
            "UnitNorm": UnitNorm, "unit_norm": UnitNorm, "MinMaxNorm": MinMaxNorm, "min_max_norm": MinMaxNorm}


def get(identifier):
    """A constraint from None, an object, a class, a string name or a {'class_name', 'config'} dict."""
    return _v.from_identifier(identifier, Constraint, _BY_NAME, "constraint", "keras.constraints.MaxNorm, NonNeg, UnitNorm or MinMaxNorm")


def spec_of(owner, arg, identifier):
    try:
        c = get(identifier)
    except ValueError as e:
        raise ValueError(f"{owner}: `{arg}`: {e}") from None
    return None if c is None else c.spec()
