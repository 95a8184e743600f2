"""Convolution, channels_last, computed directly (no im2col): Conv2D, and Conv1D as its H = 1
case. y = act(conv(x, W) + b), W (KH, KW, C, F). Backward: dz = dy * act'(z); dW by a
register-resident reduction over pixels; dx a direct convolution of the zero-bordered dz with
the flipped kernel (stride 1), or col2im(dz W^T) through the GEMM (strided)."""
from dataclasses import asdict, dataclass

from .. import activations
from .activation import ActivationAttrs
from .epilogue import WeightedEpilogue, reads_y
from .base import Scratch, offsets, register
from .shapes import Window, spatial, window


@dataclass(frozen=True)
class ConvAttrs(Window):
    F: int                   # filters
    act: str                 # the epilogue activation ('linear': none)


def _geometry(op, gemm):
    """Derived sizes of one convolution: padding at the far edges, the per-thread scratch and
    the packed-weight regions (declared here once; the template reads the offsets)."""
    a = op.attrs
    KK = a.KH * a.KW * a.C
    pad_b = max(0, (a.OH - 1) * a.SH + (a.KH - 1) * a.DH + 1 - a.H - a.PT)
    pad_r = max(0, (a.OW - 1) * a.SW + (a.KW - 1) * a.DW + 1 - a.W - a.PL)
    padded = a.PT or a.PL or pad_b or pad_r
    dx_direct = op.needs_dx and a.SH == 1 and a.SW == 1
    nr = gemm["gemm_nr"]
    work, work_total = offsets([     # per-thread scratch, in floats
        ("xpad", (a.H + a.PT + pad_b) * (a.W + a.PL + pad_r) * a.C if padded else 0),
        ("dzpad", (a.H + (a.KH - 1) * a.DH) * (a.W + (a.KW - 1) * a.DW) * a.F if dx_direct else 0),
        ("dw", -(-KK // gemm["gemm_mr"]) * gemm["gemm_mr"] * a.F),   # rows padded to the dW tiles' MR
        ("db", a.F),
        ("dcol", a.OH * a.OW * KK if op.needs_dx and not dx_direct else 0)])
    wpack, wpack_total = offsets([   # the kernel in NR-wide panels; for dx, the flipped kernel
        ("fwd", KK * -(-a.F // nr) * nr),
        ("dx", a.KH * a.KW * a.F * -(-a.C // nr) * nr if dx_direct else 0)])
    return dict(pad_bottom=pad_b, pad_right=pad_r, work_offsets=work, wpack_offsets=wpack,
                work=work_total, wpack=wpack_total)


@register
class Conv(WeightedEpilogue):
    kind = "conv"
    template = "conv.c.j2"
    uses_conv_kernels = True
    uses_team_size = True

    def scratch(self, op, gemm):
        g = _geometry(op, gemm)
        return Scratch(work=g["work"], wpack=g["wpack"])

    def render(self, op, ctx):
        g = _geometry(op, ctx.gemm)
        return ctx.render(self.template, op, has_bias="bias" in op.params, pad_bottom=g["pad_bottom"],
                          pad_right=g["pad_right"], wpack_offsets=g["wpack_offsets"], work_offsets=g["work_offsets"],
                          save_pre=op.save_pre, grad_is_pre=op.grad_is_pre, needs_dx=op.needs_dx,
                          reads_y=reads_y(op), **asdict(op.attrs))


def _lower_conv(b, layer, x):
    cfg = layer.config
    rank = cfg["rank"]
    geo = window(layer, spatial(layer, x, rank), rank, cfg["kernel_size"], cfg["strides"],
                 cfg["dilation_rate"], cfg["padding"], "kernel")
    f = cfg["filters"]
    params = {"kernel": b.param(layer, "kernel", tuple(cfg["kernel_size"]) + (geo.C, f), cfg["kernel_initializer"])}
    if cfg["use_bias"]:
        params["bias"] = b.param(layer, "bias", (f,), cfg["bias_initializer"])
    out = (geo.OW, f) if rank == 1 else (geo.OH, geo.OW, f)
    act = activations.get(cfg["activation"])
    if act.kind == "elementwise":
        return b.op("conv", layer, x, out, params, ConvAttrs(**asdict(geo), F=f, act=act.name))
    z = b.op("conv", layer, x, out, params, ConvAttrs(**asdict(geo), F=f, act="linear"))
    return b.op("activation", layer, z, out[:-1] + (act.out_dim(f),), {}, ActivationAttrs(act.name))


lower_Conv1D = lower_Conv2D = _lower_conv
