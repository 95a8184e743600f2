"""Dense: y = act(x W + b) on the last axis.  x (..., K) -> y (..., N), W (K, N), b (N,).

The activation runs in the GEMM epilogue when it is elementwise; a row-wise one (softmax, glu,
...) becomes a separate activation op after it. Backward: dz = dy * act'(z), dW = x^T dz,
db = sum over rows of dz, dx = dz W^T.
"""
import math
from dataclasses import dataclass

from .. import activations
from ..errors import SeqcError
from .activation import ActivationAttrs
from .epilogue import WeightedEpilogue, reads_y
from .base import register
from .shapes import fmt


@dataclass(frozen=True)
class DenseAttrs:
    act: str                 # the epilogue activation ('linear': none)


@register
class Dense(WeightedEpilogue):
    kind = "dense"
    template = "dense.c.j2"

    # weights from which on dx = dz W^T reads W's rows in place (dx_wrows in dense.c.j2) rather
    # than packing W^T: 4 MB, beyond the caches, where the packing pass costs more than the product
    DX_WROWS_MIN_WEIGHTS = 1 << 20

    def shared_kernels(self, op, ctx):
        return [("seqc_madd", lambda: ctx.render_shared("madd.c.j2"))]     # the small-batch path's a * b + c

    def dx_wrows(self, op):
        x, y = op.inputs[0], op.output
        return op.needs_dx and x.shape[-1] * y.shape[-1] >= self.DX_WROWS_MIN_WEIGHTS

    def conv_kernels(self, op):
        return self.dx_wrows(op)         # dx_wrows runs on conv_micro

    def render(self, op, ctx):
        x, y = op.inputs[0], op.output
        return ctx.render(self.template, op, K=x.shape[-1], N=y.shape[-1], rps=math.prod(x.shape[:-1]),
                          act=op.attrs.act, has_bias="bias" in op.params, save_pre=op.save_pre,
                          grad_is_pre=op.grad_is_pre, needs_dx=op.needs_dx, reads_y=reads_y(op),
                          dx_wrows=self.dx_wrows(op))


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


lower_Dense.supports_masking = True      # the mask passes on (Keras 3)
