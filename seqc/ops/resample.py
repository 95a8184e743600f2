"""Layers that move values without arithmetic on them, channels_last: RepeatVector (a vector
repeated n times), UpSampling1D/2D (nearest: each row / pixel repeated), Cropping1D/2D (a
window of the input). Their backward passes sum (repeats) or scatter (crops) the gradient.
And UpSampling2D(interpolation='bilinear'): each output pixel a weighted mean of 4 input pixels
(Keras 3's resize: half-pixel centres, no antialiasing), its backward the transposed scatter."""
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import SeqcError
from .base import Rearrange, register
from .shapes import Placement, fmt, spatial


@dataclass(frozen=True)
class RepeatAttrs:
    N: int                   # repeats
    F: int                   # features


@register
class RepeatVector(Rearrange):
    """(F,) -> (N, F); backward: dx = the sum of dy over the N copies."""
    kind = "repeat_vector"
    template = "repeat_vector.c.j2"



@dataclass(frozen=True)
class UpsampleAttrs:
    """(H, W, C) -> (H SH, W SW, C), each pixel repeated SH x SW times (1-D: H = 1, SH = 1)."""
    H: int
    W: int
    C: int
    SH: int
    SW: int


@register
class Upsample(Rearrange):
    kind = "upsample"
    template = "upsample.c.j2"



def bilinear_table(n, out):
    """For each output index along an axis of n inputs resized to `out`: (i0, i1, l0, l1), the
    two input indices and their weights, computed in float32 as torch's upsample_bilinear2d
    (align_corners=False) does for Keras 3's resize: source = (dst + 0.5) in / out - 0.5,
    clamped at 0."""
    f = np.float32
    scale = f(n) / f(out)
    rows = []
    for d in range(out):
        src = max(f(scale * (f(d) + f(0.5)) - f(0.5)), f(0))
        i0 = int(src)
        l1 = min(max(f(src - f(i0)), f(0)), f(1))
        rows.append((i0, i0 + (1 if i0 < n - 1 else 0), float(f(1) - l1), float(l1)))
    return rows


@register
class UpsampleBilinear(Rearrange):
    kind = "upsample_bilinear"
    template = "upsample_bilinear.c.j2"

    def render(self, op, ctx):
        a = op.attrs
        return ctx.render(self.template, op, rows=bilinear_table(a.H, a.H * a.SH),
                          cols=bilinear_table(a.W, a.W * a.SW), **asdict(a))


CropAttrs = Placement       # Cropping: the output cut from row T, column L of the input


@register
class Crop(Rearrange):
    kind = "crop"
    template = "crop.c.j2"



def lower_RepeatVector(b, layer, x):
    if len(x.shape) != 1:
        raise SeqcError(f"layer {layer.name!r} (RepeatVector) expects inputs of shape (batch, features), "
                        f"got {fmt(x.shape)}", layer.loc)
    n = layer.config["n"]
    return b.op("repeat_vector", layer, x, (n, x.shape[0]), {}, RepeatAttrs(N=n, F=x.shape[0]))


def _lower_upsampling(b, layer, x):
    rank = layer.config["rank"]
    H, W, C = spatial(layer, x, rank)
    size = tuple(layer.config["size"])
    sh, sw = (1, size[0]) if rank == 1 else size
    out = (W * sw, C) if rank == 1 else (H * sh, W * sw, C)
    if layer.config.get("interpolation", "nearest") == "bilinear":
        return b.op("upsample_bilinear", layer, x, out, {}, UpsampleAttrs(H=H, W=W, C=C, SH=sh, SW=sw))
    return b.op("upsample", layer, x, out, {}, UpsampleAttrs(H=H, W=W, C=C, SH=sh, SW=sw))


lower_UpSampling1D = lower_UpSampling2D = _lower_upsampling


def _lower_cropping(b, layer, x):
    rank = layer.config["rank"]
    H, W, C = spatial(layer, x, rank)
    crop = layer.config["cropping"]                 # ((top, bottom), (left, right)); 1-D: ((0, 0), (a, b))
    (t, bm), (l, r) = ((0, 0), tuple(crop[0])) if rank == 1 else (tuple(crop[0]), tuple(crop[1]))
    oh, ow = H - t - bm, W - l - r
    if oh <= 0 or ow <= 0:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}): cropping {layer.config['cropping']} leaves nothing "
                        f"of the input {fmt(x.shape)}", layer.loc)
    out = (ow, C) if rank == 1 else (oh, ow, C)
    return b.op("crop", layer, x, out, {}, CropAttrs(H=H, W=W, C=C, T=t, L=l, OH=oh, OW=ow))


lower_Cropping1D = lower_Cropping2D = _lower_cropping
