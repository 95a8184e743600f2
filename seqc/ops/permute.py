"""Permute(dims): y[i_1, ..., i_n] with the axes of x reordered, dims[k] (1-based, after the
batch) the input axis of output axis k. Backward: dx is dy with the inverse order."""
import math
from dataclasses import dataclass

from ..errors import SeqcError
from .base import Rearrange, register
from .shapes import fmt


@dataclass(frozen=True)
class PermuteAttrs:
    out_dims: tuple          # the output's per-sample shape
    in_strides: tuple        # per output axis: the stride of its input axis
    size: int                # values per sample


@register
class Permute(Rearrange):
    kind = "permute"
    template = "permute.c.j2"


def lower_Permute(b, layer, x):
    dims = layer.config["dims"]
    if len(dims) != len(x.shape):
        raise SeqcError(f"layer {layer.name!r} (Permute): dims={tuple(dims)} permutes {len(dims)} axes, but its "
                        f"input {fmt(x.shape)} has {len(x.shape)} after the batch", layer.loc)
    strides = [math.prod(x.shape[a + 1:]) for a in range(len(x.shape))]
    out = tuple(x.shape[d - 1] for d in dims)
    if out == tuple(x.shape) and list(dims) == sorted(dims):
        return x
    return b.op("permute", layer, x, out, {}, PermuteAttrs(out, tuple(strides[d - 1] for d in dims), x.size))
