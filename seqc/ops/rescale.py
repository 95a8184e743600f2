"""Rescaling: y = x * scale + offset, scale and offset constants (one value, or one per channel
of the last axis); backward dx = dy * scale. Identity and ZeroPadding1D lower to no op and to
ZeroPadding2D's pad2d (as one row) here too."""
from dataclasses import dataclass

from ..errors import SeqcError
from .base import Rearrange, register
from .pool import PadAttrs
from .reshape import _alias
from .shapes import fmt


@dataclass(frozen=True)
class RescaleAttrs:
    C: int                 # channels: the length of the last axis
    scale: tuple           # 1 or C values
    offset: tuple          # 1 or C values


@register
class Rescale(Rearrange):
    kind = "rescale"
    template = "rescale.c.j2"

    def render(self, op, ctx):
        a = op.attrs
        per_channel = len(a.scale) > 1 or len(a.offset) > 1
        widen = lambda v: list(v) * (a.C if len(v) == 1 else 1)      # noqa: E731
        return ctx.render(self.template, op, rows=op.inputs[0].size // a.C, C=a.C, per_channel=per_channel,
                          scale=widen(a.scale) if per_channel else a.scale[0],
                          offset=widen(a.offset) if per_channel else a.offset[0])


def lower_Rescaling(b, layer, x):
    cfg = layer.config
    scale = tuple(cfg["scale"]) if isinstance(cfg["scale"], (list, tuple)) else (cfg["scale"],)
    offset = tuple(cfg["offset"]) if isinstance(cfg["offset"], (list, tuple)) else (cfg["offset"],)
    C = x.shape[-1] if x.shape else 1
    for arg, values in (("scale", scale), ("offset", offset)):
        if len(values) not in (1, C):
            raise SeqcError(f"layer {layer.name!r} (Rescaling): `{arg}` has {len(values)} values; the input "
                            f"{fmt(x.shape)} has {C} channels on its last axis", layer.loc)
    return b.op("rescale", layer, x, x.shape, {}, RescaleAttrs(C=C, scale=scale, offset=offset))


def lower_Identity(b, layer, x):
    return _alias(x, x.shape)


lower_Identity.supports_masking = True


def lower_ZeroPadding1D(b, layer, x):
    if len(x.shape) != 2:
        raise SeqcError(f"layer {layer.name!r} (ZeroPadding1D): expected a (steps, channels) input, got "
                        f"{fmt(x.shape)}", layer.loc)
    W, C = x.shape
    left, right = layer.config["padding"]
    return b.op("pad2d", layer, x, (W + left + right, C), {},
                PadAttrs(H=1, W=W, C=C, T=0, L=left, OH=1, OW=W + left + right))
