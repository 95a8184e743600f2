"""Layers that cost nothing: Flatten and Reshape name the same buffer with a new shape (an
alias, no op), the InputLayer is the input itself."""
import math

from ..errors import SeqcError
from ..ir import Tensor
from .shapes import fmt


def _alias(x, shape):
    return Tensor(x.name, tuple(shape))


def lower_InputLayer(b, layer, x):
    return x


def lower_Flatten(b, layer, x):
    return _alias(x, (x.size,))


def lower_Reshape(b, layer, x):
    target = list(layer.config["target_shape"])
    if -1 in target:
        known = 1
        for d in target:
            if d != -1:
                known *= d
        if known == 0 or x.size % known:
            raise SeqcError(f"layer {layer.name!r} (Reshape): cannot reshape {fmt(x.shape)} into "
                            f"{tuple(target)}", layer.loc)
        target[target.index(-1)] = x.size // known
    if math.prod(target) != x.size:
        raise SeqcError(f"layer {layer.name!r} (Reshape): total size of the new shape {tuple(target)} "
                        f"must equal that of the input {fmt(x.shape)}", layer.loc)
    return _alias(x, target)
