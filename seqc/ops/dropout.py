"""Dropout (inverted): in training y = x * mask, mask = (u >= rate) / (1 - rate); the identity at
inference. The mask is kept for the backward pass: dx = dy * mask."""
from dataclasses import dataclass
from typing import Optional

from .base import Arg, Buf, OpKind, register


@dataclass(frozen=True)
class DropoutAttrs:
    rate: float              # fraction of values zeroed in training
    seed: Optional[int]      # the layer's `seed=` (masks come from the model's stream)
    stream: int              # this layer's random stream: its position among the dropouts


@register
class Dropout(OpKind):
    kind = "dropout"
    template = "dropout.c.j2"

    def random(self, op):
        return True

    def buffers(self, op):
        return [Buf("mask", op.output.size, True)]

    def forward_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("int ", "training", "training"), Arg("uint64_t ", "seed", "seed"),
                Arg("const float *", "x", ctx.x(op)), Arg("float *", "y", ctx.y(op)),
                Arg("float *", "mask", ctx.buf(op, "mask")), Arg("int ", "threads", "m->team.threads")]

    def backward_args(self, op, ctx):
        if not op.needs_dx:
            return None
        return [Arg("int ", "B", "B"), Arg("int ", "training", "training"),
                Arg("const float *", "mask", ctx.buf(op, "mask")),
                Arg("const float *", "dy", ctx.dy(op)), Arg("float *", "dx", ctx.dx(op)),
                Arg("int ", "threads", "m->team.threads")]

    def render(self, op, ctx):
        return ctx.render(self.template, op, size=op.inputs[0].size, rate=float(op.attrs.rate),
                          stream=op.attrs.stream + 1)


def lower_Dropout(b, layer, x):
    if layer.config["rate"] == 0:
        return x
    return b.op("dropout", layer, x, x.shape, {}, DropoutAttrs(layer.config["rate"], layer.config["seed"],
                                                            sum(1 for o in b.ops if o.kind == "dropout")))


lower_Dropout.supports_masking = True        # the mask passes on (Keras 3)
