"""Masks over timesteps (Keras 3's `_keras_mask`), computed in C from the input:

  mask         m[b, t] = x[b, t] != 0 (Embedding(mask_zero=True), on the indices), or
               m[b, t] = any_f x[b, t, f] != mask_value (Masking)        (B, T) -> (B, T) of 0/1
  masking      Masking's output y[b, t] = x[b, t] m[b, t]; dx = dy m
  masked_mean  GlobalAveragePooling1D under a mask: y = sum_t m x / sum_t m; dx = m dy / sum_t m

The lowering keeps the mask tensor the layers carry in `b.mask`: a layer whose lowering
function has `supports_masking` passes it on or uses it (lower.py ends it, with Keras's
warning, after any other layer); the recurrent layers read it (templates/rnn.c.j2: a masked
step carries the state), and the loss honours the model output's mask (lower.attach_training).
"""
from dataclasses import asdict, dataclass

from .base import Arg, OpKind, Rearrange, register


@dataclass(frozen=True)
class MaskAttrs:
    T: int                   # timesteps
    F: int                   # values per timestep (1: token indices)
    value: float             # a step is masked when all its values equal this


@register
class Mask(OpKind):
    kind = "mask"
    template = "masking.c.j2"

    def forward_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)), Arg("float *", "mask", ctx.y(op))]

    def render(self, op, ctx):
        return ctx.render(self.template, op, part="mask", **asdict(op.attrs))


@dataclass(frozen=True)
class MaskingAttrs:
    T: int
    F: int


@register
class Masking(Rearrange):
    kind = "masking"
    template = "masking.c.j2"

    def forward_args(self, op, ctx):
        return super().forward_args(op, ctx) + [Arg("const float *", "mask", ctx.tensor(op.inputs[1]))]

    def backward_args(self, op, ctx):
        args = super().backward_args(op, ctx)
        return None if args is None else args + [Arg("const float *", "mask", ctx.tensor(op.inputs[1]))]

    def render(self, op, ctx):
        return ctx.render(self.template, op, part="masking", **asdict(op.attrs))


@dataclass(frozen=True)
class MaskedMeanAttrs:
    T: int
    C: int


@register
class MaskedMean(Masking):
    kind = "masked_mean"

    def render(self, op, ctx):
        return ctx.render(self.template, op, part="masked_mean", **asdict(op.attrs))


def add_mask(b, layer, x, value=0.0):
    """Append the op computing the mask of input `x` (steps equal to `value` are masked) and
    make it the mask the following layers carry."""
    T = x.shape[0]
    F = x.shape[1] if len(x.shape) > 1 else 1
    b.mask = b.op("mask", layer, x, (T,), {}, MaskAttrs(T=T, F=F, value=float(value)))
    return b.mask


def lower_Masking(b, layer, x):
    from ..errors import SeqcError
    from .shapes import fmt
    if len(x.shape) != 2:
        raise SeqcError(f"layer {layer.name!r} (Masking) expects inputs of shape (batch, timesteps, features), "
                        f"got {fmt(x.shape)}", layer.loc)
    m = add_mask(b, layer, x, layer.config["mask_value"])
    return b.op("masking", layer, x, x.shape, {}, MaskingAttrs(T=x.shape[0], F=x.shape[1]), extra_inputs=(m,))


lower_Masking.supports_masking = True


def lower_masked_mean(b, layer, x, keepdims):
    """GlobalAveragePooling1D of a masked sequence (the mean over the steps the mask keeps); the
    mask ends here, as in Keras."""
    T, C = x.shape
    y = b.op("masked_mean", layer, x, (1, C) if keepdims else (C,), {}, MaskedMeanAttrs(T=T, C=C),
             extra_inputs=(b.mask,))
    b.mask = None
    return y
