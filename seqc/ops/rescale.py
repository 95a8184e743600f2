"""Rescaling: y = x * scale + offset, scale and offset constants (one value, or one per channel
of the last axis); backward dx = dy * scale. Normalization: y = (x - mean) / std, by a mean and
variance per position of some axes. Identity and ZeroPadding1D lower to no op and to
ZeroPadding2D's pad2d (as one row) here too."""
import math
from dataclasses import dataclass

import numpy as np

from .. import initializers
from ..errors import SeqcError
from .base import Arg, OpKind, Rearrange, register
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


@dataclass(frozen=True)
class NormalizationAttrs:
    K: int                 # mean / variance values: one per position of the normalized axes
    outer: int             # per sample, the positions of the axes before them
    inner: int             # values that share a mean: the positions of the axes after them
    invert: bool           # y = x * std + mean instead of (x - mean) / std
    mean: tuple = None     # K constants when the constructor was given them; else the weights
    variance: tuple = None


@register
class Normalization(OpKind):
    """Keras's Normalization: y = (x - mean) / max(sqrt(variance), 1e-7) (invert: x * that + mean)
    with one mean and variance per position k of the normalized axes; backward dx = dy / std (dy
    * std). The statistics are constants when the layer was given them, else its non-trainable
    weights mean, variance (and count, unread), which adapt() or a file sets."""
    kind = "normalization"
    template = "normalization.c.j2"

    def forward_args(self, op, ctx):
        args = [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op))]
        if op.attrs.mean is None:
            args += [Arg("const float *", "mean", ctx.w(op, "mean")),
                     Arg("const float *", "variance", ctx.w(op, "variance"))]
        return args + [Arg("float *", "y", ctx.y(op))]

    def backward_args(self, op, ctx):
        if not op.needs_dx:
            return None
        args = [Arg("int ", "B", "B")]
        if op.attrs.mean is None:
            args.append(Arg("const float *", "variance", ctx.w(op, "variance")))
        return args + [Arg("const float *", "dy", ctx.dy(op)), Arg("float *", "dx", ctx.dx(op))]

    def render(self, op, ctx):
        a = op.attrs
        return ctx.render(self.template, op, K=a.K, outer=a.outer, inner=a.inner, invert=a.invert,
                          mean=a.mean, variance=a.variance)


def lower_Normalization(b, layer, x):
    """The normalized axes must be consecutive sample axes (Keras numbers them from the batch
    axis, 0): each value's statistics are then those of k = (its index / inner) % K."""
    cfg = layer.config
    shape, ndim = tuple(x.shape), len(x.shape) + 1
    bad = [a for a in cfg["axis"] if not -ndim <= a < ndim]
    if bad:
        raise SeqcError(f"layer {layer.name!r} (Normalization): all `axis` values must be in the range [-ndim, "
                        f"ndim) for inputs of shape {fmt(shape)} (ndim={ndim}, the batch axis counted); got "
                        f"axis={cfg['axis']}", layer.loc)
    keep = sorted({a % ndim for a in cfg["axis"]})
    if 0 in keep:
        raise SeqcError(f"layer {layer.name!r} (Normalization): seqc does not normalize per position of the batch "
                        f"axis (axis={cfg['axis']} keeps axis 0)", layer.loc)
    if keep and keep != list(range(keep[0], keep[-1] + 1)):
        raise SeqcError(f"layer {layer.name!r} (Normalization): seqc normalizes over consecutive axes only; got "
                        f"axis={cfg['axis']} for inputs of shape {fmt(shape)}", layer.loc)
    lo, hi = (keep[0] - 1, keep[-1]) if keep else (0, 0)      # the kept axes among the sample's
    kept = shape[lo:hi]
    K = math.prod(kept)
    attrs = dict(K=K, outer=math.prod(shape[:lo]), inner=math.prod(shape[hi:]), invert=cfg["invert"])
    if cfg["mean"] is None:
        params = {}
        for role, init in (("mean", "zeros"), ("variance", "ones")):
            params[role] = b.param(layer, role, kept, initializers.get(init))
        params["count"] = b.param(layer, "count", (), initializers.get("zeros"))
        for p in params.values():
            p.trainable = False              # set by adapt() or a file, never by the optimizer
        return b.op("normalization", layer, x, shape, params, NormalizationAttrs(**attrs))
    stats = []
    for role in ("mean", "variance"):
        a = np.asarray(cfg[role], np.float32).reshape(cfg["stats_shape"])
        try:
            a = np.broadcast_to(a.reshape((1,) * (len(kept) - a.ndim) + a.shape), kept)
        except ValueError:
            raise SeqcError(f"layer {layer.name!r} (Normalization): `{role}` of shape {a.shape} does not broadcast "
                            f"to the normalized axes' shape {kept}", layer.loc) from None
        stats.append(tuple(float(v) for v in a.ravel()))
    return b.op("normalization", layer, x, shape, {}, NormalizationAttrs(**attrs, mean=stats[0], variance=stats[1]))


lower_Normalization.supports_masking = True
