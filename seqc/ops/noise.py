"""Noise and regularisation layers: the identity at inference; in training, as Keras 3 defines
them (seqc/templates/noise.c.j2). Random values come from the model's counter-based stream
(the one Dropout uses), so they equal Keras's in distribution, not value by value.

  noise  'gaussian_noise'    y = x + stddev n                         dx = dy
         'gaussian_dropout'  y = x m, m = 1 + sqrt(rate / (1 - rate)) n      dx = dy m
         'alpha_dropout'     y = a (k x + alpha_p (1 - k)) + b, k = (u >= rate),
                             a = ((1 - rate)(1 + rate alpha_p^2))^-1/2, b = -a alpha_p rate,
                             alpha_p = -selu's alpha * scale      dx = dy a k
         'spatial_dropout'   y = x m[channel], m = (u >= rate) / (1 - rate) per sample and
                             channel (whole feature maps dropped)  dx = dy m[channel]
         (n standard normal by Box-Muller, u uniform; m, or a k, saved for the backward)
  activity_reg               y = x; the loss gains (l1 sum|x| + l2 sum x^2) / B in training and
                             evaluation, as Keras 3 adds a layer's activity regularizer
                             (normalised by the batch size) to the loss; dx = dy + (l1 sign(x)
                             + 2 l2 x) / B.
"""
import math
from dataclasses import dataclass
from typing import Optional

from ..errors import SeqcError
from .base import Arg, Buf, Elementwise, OpKind, register
from .shapes import fmt

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
STREAM_BASE = 1 << 20     # noise layers' streams: apart from the dropouts' (1, 2, ...)


@dataclass(frozen=True)
class NoiseAttrs:
    mode: str                # 'gaussian_noise', 'gaussian_dropout', 'alpha_dropout', 'spatial_dropout'
    rate: float              # stddev for gaussian_noise
    seed: Optional[int]      # the layer's `seed=` (values come from the model's stream)
    stream: int              # this layer's random stream: its position among the noise layers
    channels: int = 0        # spatial_dropout: channels (the last axis)


@register
class Noise(OpKind):
    kind = "noise"
    template = "noise.c.j2"

    def random(self, op):
        return True

    def _mask_size(self, op):
        mode = op.attrs.mode
        if mode == "gaussian_noise":
            return 0
        return op.attrs.channels if mode == "spatial_dropout" else op.output.size

    def buffers(self, op):
        n = self._mask_size(op)
        return [Buf("mask", n, True)] if n else []

    def forward_args(self, op, ctx):
        args = [Arg("int ", "B", "B"), Arg("int ", "training", "training"), Arg("uint64_t ", "seed", "seed"),
                Arg("const float *", "x", ctx.x(op)), Arg("float *", "y", ctx.y(op))]
        if self._mask_size(op):
            args.append(Arg("float *", "mask", ctx.buf(op, "mask")))
        return args

    def backward_args(self, op, ctx):
        if not op.needs_dx:
            return None
        if op.attrs.mode == "gaussian_noise":
            return [Arg("int ", "B", "B"), Arg("const float *", "dy", ctx.dy(op)), Arg("float *", "dx", ctx.dx(op))]
        return [Arg("int ", "B", "B"), Arg("int ", "training", "training"),
                Arg("const float *", "mask", ctx.buf(op, "mask")),
                Arg("const float *", "dy", ctx.dy(op)), Arg("float *", "dx", ctx.dx(op))]

    def shared_kernels(self, op, ctx):
        if op.attrs.mode in ("gaussian_noise", "gaussian_dropout"):
            return [("seqc_normal", lambda: ctx.render_shared("noise_normal.c.j2"))]
        return []

    def render(self, op, ctx):
        a = op.attrs
        kw = dict(mode=a.mode, size=op.inputs[0].size, stream=STREAM_BASE + a.stream, rate=float(a.rate),
                  channels=a.channels)
        if a.mode == "gaussian_dropout":
            kw["stddev"] = math.sqrt(a.rate / (1.0 - a.rate))
        if a.mode == "alpha_dropout":
            alpha_p = -SELU_ALPHA * SELU_SCALE
            scale = ((1 - a.rate) * (1 + a.rate * alpha_p ** 2)) ** -0.5
            kw.update(alpha_p=alpha_p, a=scale, b=-scale * alpha_p * a.rate)
        if a.mode == "spatial_dropout":
            kw["scale"] = 1.0 / (1.0 - a.rate)
        return ctx.render(self.template, op, **kw)


def _noise(b, layer, x, mode, rate, channels=0):
    if rate == 0:
        return x
    stream = sum(1 for o in b.ops if o.kind == "noise")
    return b.op("noise", layer, x, x.shape, {}, NoiseAttrs(mode, rate, layer.config.get("seed"), stream, channels))


def lower_GaussianNoise(b, layer, x):
    return _noise(b, layer, x, "gaussian_noise", layer.config["stddev"])


def lower_GaussianDropout(b, layer, x):
    return _noise(b, layer, x, "gaussian_dropout", layer.config["rate"])


def lower_AlphaDropout(b, layer, x):
    return _noise(b, layer, x, "alpha_dropout", layer.config["rate"])


def _spatial(b, layer, x, rank):
    if len(x.shape) != rank + 1:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}) expects inputs of rank {rank + 2} "
                        f"(batch, {'steps' if rank == 1 else 'rows, cols'}, channels), got {fmt(x.shape)}",
                        layer.loc)
    return _noise(b, layer, x, "spatial_dropout", layer.config["rate"], channels=x.shape[-1])


def lower_SpatialDropout1D(b, layer, x):
    return _spatial(b, layer, x, 1)


def lower_SpatialDropout2D(b, layer, x):
    return _spatial(b, layer, x, 2)


@dataclass(frozen=True)
class ActivityRegAttrs:
    l1: float
    l2: float


@register
class ActivityReg(Elementwise):
    kind = "activity_reg"
    template = "activity_reg.c.j2"
    time_distributable = False   # its penalty is per batch of samples, not of slices

    def loss_terms(self, op, ctx):
        return [f"{ctx.fn(op)}_penalty(B, {ctx.x(op)})"]

    def render(self, op, ctx):
        return ctx.render(self.template, op, size=op.inputs[0].size, l1=float(op.attrs.l1), l2=float(op.attrs.l2))


def lower_ActivityRegularization(b, layer, x):
    cfg = layer.config
    return b.op("activity_reg", layer, x, x.shape, {}, ActivityRegAttrs(cfg["l1"], cfg["l2"]))

# elementwise in training and identity at inference: a mask passes on unchanged (Keras 3 sets
# supports_masking on these layers; SpatialDropout1D/2D inherit Dropout's)
for _lower in (lower_GaussianNoise, lower_GaussianDropout, lower_AlphaDropout, lower_SpatialDropout1D,
               lower_SpatialDropout2D, lower_ActivityRegularization):
    _lower.supports_masking = True
