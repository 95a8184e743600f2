"""A standalone activation: y = act(x), elementwise or over rows of the last axis (softmax, glu,
...). When a cross-entropy on its output is fused into the loss kernel (`grad_is_pre`), the
loss writes dL/dx itself: the op has no backward and its input gradient is its output gradient
(codegen aliases the two buffers)."""
import math
from dataclasses import dataclass

from .. import activations
from ..errors import SeqcError
from .base import Arg, OpKind, register


@dataclass(frozen=True)
class ActivationAttrs:
    act: str                 # a Keras activation name (seqc.activations)


@register
class Activation(OpKind):
    kind = "activation"
    template = "activation.c.j2"
    is_activation = True

    def activations(self, op):
        return {op.attrs.act}

    def activation_grads(self, op):
        return {op.attrs.act} if op.needs_dx and not op.grad_is_pre else set()

    def forward_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)), Arg("float *", "y", ctx.y(op))]

    def backward_args(self, op, ctx):
        if not op.needs_dx or op.grad_is_pre:
            return None
        act = activations.get(op.attrs.act)
        args = [Arg("int ", "B", "B")]
        if act.kind == "rowwise" or "x" in act.grad_needs:
            args.append(Arg("const float *", "x", ctx.x(op)))
        if act.kind == "rowwise" or "y" in act.grad_needs:
            args.append(Arg("const float *", "y", ctx.y(op)))
        return args + [Arg("const float *", "dy", ctx.dy(op)), Arg("float *", "dx", ctx.dx(op))]

    def render(self, op, ctx):
        act = activations.get(op.attrs.act)
        x, y = op.inputs[0], op.output
        return ctx.render(self.template, op, act=act.name, kind=act.kind, n=x.shape[-1], n_out=y.shape[-1],
                          rows_per_sample=math.prod(x.shape[:-1]),
                          reads_x="x" in act.grad_needs, reads_y="y" in act.grad_needs)


def lower_Activation(b, layer, x):
    act = activations.get(layer.config["activation"])
    if act.name == "glu" and x.shape[-1] % 2:
        raise SeqcError(f"layer {layer.name!r}: glu needs an even last dimension, got {x.shape[-1]}", layer.loc)
    return b.op("activation", layer, x, x.shape[:-1] + (act.out_dim(x.shape[-1]),), {}, ActivationAttrs(act.name))


lower_Activation.supports_masking = True     # the mask passes on (Keras 3)
