"""Dense: y = act(x W + b) on the last axis.  x (..., K) -> y (..., N), W (K, N), b (N,).

The activation runs in the GEMM epilogue when it is elementwise; a row-wise one (softmax, glu,
...) becomes a separate activation op after it. Backward: dz = dy * act'(z), dW = x^T dz,
db = sum over rows of dz, dx = dz W^T.
"""
import math
from dataclasses import dataclass

from .. import activations
from ..errors import SeqcError
from .activation import ActivationAttrs, epilogue_reads_y
from .base import Arg, Buf, OpKind, register
from .shapes import fmt


@dataclass(frozen=True)
class DenseAttrs:
    act: str                 # the epilogue activation ('linear': none)


@register
class Dense(OpKind):
    kind = "dense"
    template = "dense.c.j2"
    activation_epilogue = True
    saves_pre_activation = True
    uses_gemm = True

    def buffers(self, op):
        return [Buf("pre", op.output.size, True)] if op.save_pre else []

    def activations(self, op):
        return {op.attrs.act} - {"linear"}     # a linear epilogue calls nothing

    def forward_args(self, op, ctx):
        args = [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)),
                Arg("const float *", "W", ctx.w(op, "kernel"))]
        if "bias" in op.params:
            args.append(Arg("const float *", "bias", ctx.w(op, "bias")))
        args.append(Arg("float *", "y", ctx.y(op)))
        if op.save_pre:
            args.append(Arg("float *", "z", ctx.buf(op, "pre")))
        return args + [Arg("const seqc_team *", "tm", "&m->team")]

    def backward_args(self, op, ctx):
        args = [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op))]
        if op.needs_dx:
            args.append(Arg("const float *", "W", ctx.w(op, "kernel")))
        if epilogue_reads_y(op):
            args.append(Arg("const float *", "y", ctx.y(op)))
        if op.save_pre:
            args.append(Arg("const float *", "z", ctx.buf(op, "pre")))
        args.append(Arg("float *", "dy", ctx.dy(op)))
        if op.needs_dx:
            args.append(Arg("float *", "dx", ctx.dx(op)))
        args.append(Arg("float *", "dW", ctx.dw(op, "kernel")))
        if "bias" in op.params:
            args.append(Arg("float *", "db", ctx.dw(op, "bias")))
        return args + [Arg("const seqc_team *", "tm", "&m->team")]

    def render(self, op, ctx):
        x, y = op.inputs[0], op.output
        return ctx.render(self.template, op, K=x.shape[-1], N=y.shape[-1], rps=math.prod(x.shape[:-1]),
                          act=op.attrs.act, has_bias="bias" in op.params, save_pre=op.save_pre,
                          grad_is_pre=op.grad_is_pre, needs_dx=op.needs_dx, reads_y=epilogue_reads_y(op))


def lower_Dense(b, layer, x):
    cfg = layer.config
    if len(x.shape) < 1:
        raise SeqcError(f"layer {layer.name!r} (Dense) needs an input with a feature axis, got {fmt(x.shape)}",
                        layer.loc)
    k, n = x.shape[-1], cfg["units"]
    params = {"kernel": b.param(layer, "kernel", (k, n), cfg["kernel_initializer"])}
    if cfg["use_bias"]:
        params["bias"] = b.param(layer, "bias", (n,), cfg["bias_initializer"])
    act = activations.get(cfg["activation"])
    if act.kind == "elementwise":
        return b.op("dense", layer, x, x.shape[:-1] + (n,), params, DenseAttrs(act.name))
    z = b.op("dense", layer, x, x.shape[:-1] + (n,), params, DenseAttrs("linear"))
    return b.op("activation", layer, z, z.shape[:-1] + (act.out_dim(n),), {}, ActivationAttrs(act.name))
