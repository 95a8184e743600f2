"""Depthwise convolution, channels_last: DepthwiseConv2D, DepthwiseConv1D (its H = 1 case), and
the first half of SeparableConv1D/2D. Output channel c M + m convolves input channel c alone
with kernel[..., c, m] (M the depth multiplier): y = act(conv(x, W) + b), W (KH, KW, C, M).
Backward: dz = dy * act'(z); dW[k][c][m] = sum over pixels of x[pixel * S + k * D][c]
dz[pixel][c M + m]; dx scatters dz W back into a zero-bordered image of x.

A SeparableConv is this op (its depthwise_kernel, no bias, no activation) followed by a 1 x 1
`conv` op (ops/conv.py) with its pointwise_kernel, bias and activation."""
from dataclasses import asdict, dataclass

from .. import activations
from .activation import ActivationAttrs
from .base import Scratch, offsets, register
from .conv import ConvAttrs
from .epilogue import WeightedEpilogue, reads_y
from .shapes import Window, spatial, window, window_name


@dataclass(frozen=True)
class DepthwiseAttrs(Window):
    M: int                   # depth multiplier: output channels C * M
    act: str                 # the epilogue activation ('linear': none)


def _geometry(op):
    """The zero-bordered input (HP, WP) the kernels read, and the per-thread scratch."""
    a = op.attrs
    HP = max(a.H + a.PT, (a.OH - 1) * a.SH + (a.KH - 1) * a.DH + 1)
    WP = max(a.W + a.PL, (a.OW - 1) * a.SW + (a.KW - 1) * a.DW + 1)
    padded = HP != a.H or WP != a.W or a.PT or a.PL
    work, total = offsets([
        ("xpad", HP * WP * a.C if padded else 0),
        ("dxpad", HP * WP * a.C if padded and op.needs_dx else 0),
        ("dw", a.KH * a.KW * a.C * a.M),
        ("db", a.C * a.M)])
    return dict(HP=HP, WP=WP, padded=bool(padded), work_offsets=work, work=total)


@register
class Depthwise(WeightedEpilogue):
    kind = "depthwise"
    template = "depthwise.c.j2"
    uses_conv_kernels = True     # conv_pad
    uses_team_size = True

    def scratch(self, op, gemm):
        return Scratch(work=_geometry(op)["work"])

    def kernel_name(self, op):
        return window_name("depthwise", op.attrs, op.attrs.C * op.attrs.M)

    def render(self, op, ctx):
        g = _geometry(op)
        return ctx.render(self.template, op, name=self.kernel_name(op), has_bias="bias" in op.params, HP=g["HP"], WP=g["WP"],
                          padded=g["padded"], work_offsets=g["work_offsets"], save_pre=op.save_pre,
                          grad_is_pre=op.grad_is_pre, needs_dx=op.needs_dx, reads_y=reads_y(op),
                          **asdict(op.attrs))


def _depthwise_geometry(b, layer, x):
    cfg = layer.config
    rank = cfg["rank"]
    return window(layer, spatial(layer, x, rank), rank, cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"],
                  cfg["padding"], "kernel")


def _with_activation(b, layer, kind, x, out, params, attrs_of):
    act = activations.get(layer.config["activation"])
    if act.kind == "elementwise":
        return b.op(kind, layer, x, out, params, attrs_of(act.name))
    z = b.op(kind, layer, x, out, params, attrs_of("linear"))
    return b.op("activation", layer, z, out[:-1] + (act.out_dim(out[-1]),), {}, ActivationAttrs(act.name))


def _lower_depthwise(b, layer, x):
    cfg = layer.config
    geo = _depthwise_geometry(b, layer, x)
    M = cfg["depth_multiplier"]
    params = {"kernel": b.param(layer, "depthwise_kernel", tuple(cfg["kernel_size"]) + (geo.C, M),
                                cfg["depthwise_initializer"])}
    if cfg["use_bias"]:
        params["bias"] = b.param(layer, "bias", (geo.C * M,), cfg["bias_initializer"])
    out = (geo.OW, geo.C * M) if cfg["rank"] == 1 else (geo.OH, geo.OW, geo.C * M)
    return _with_activation(b, layer, "depthwise", x, out, params,
                            lambda act: DepthwiseAttrs(**asdict(geo), M=M, act=act))


def _lower_separable(b, layer, x):
    cfg = layer.config
    rank = cfg["rank"]
    geo = _depthwise_geometry(b, layer, x)
    M, F = cfg["depth_multiplier"], cfg["filters"]
    CM = geo.C * M
    dw = b.param(layer, "depthwise_kernel", tuple(cfg["kernel_size"]) + (geo.C, M), cfg["depthwise_initializer"])
    pw = {"kernel": b.param(layer, "pointwise_kernel", (1,) * rank + (CM, F), cfg["pointwise_initializer"])}
    if cfg["use_bias"]:
        pw["bias"] = b.param(layer, "bias", (F,), cfg["bias_initializer"])
    inner = (geo.OW, CM) if rank == 1 else (geo.OH, geo.OW, CM)
    h = b.op("depthwise", layer, x, inner, {"kernel": dw}, DepthwiseAttrs(**asdict(geo), M=M, act="linear"))
    depthwise = b.ops[-1]
    point = dict(H=geo.OH, W=geo.OW, C=CM, OH=geo.OH, OW=geo.OW, KH=1, KW=1, SH=1, SW=1, DH=1, DW=1, PT=0, PL=0, F=F)
    act = activations.get(cfg["activation"])
    fused = act.kind == "elementwise"
    y = b.op("conv", layer, h, inner[:-1] + (F,), pw, ConvAttrs(**point, act=act.name if fused else "linear"))
    b.ops[-1].cname = f"{depthwise.cname}_pointwise"          # the C name: separable_conv2d_pointwise
    if fused:
        return y
    return b.op("activation", layer, y, y.shape[:-1] + (act.out_dim(F),), {}, ActivationAttrs(act.name))


lower_DepthwiseConv1D = lower_DepthwiseConv2D = _lower_depthwise
lower_SeparableConv1D = lower_SeparableConv2D = _lower_separable
