"""Transposed convolution, channels_last: Conv2DTranspose, and Conv1DTranspose as its H = 1
case. x (H, W, C) -> y (OH, OW, F), kernel W (KH, KW, F, C) as Keras lays it out:
y[j] = act(sum over (i, k) with i * S + k * D = j + P of x[i] W[k] + b), for each axis, where P
is how much of the full transposed output Keras crops at the start (the rest of the geometry
follows Keras 3: the full output (n - 1) S + (K - 1) D + 1, cropped or zero-extended to the
length 'valid' / 'same' and output_padding give).

That is the input gradient of a convolution R from y's shape to x's (stride S, dilation D,
padding P before) whose kernel, (KH, KW, F, C) = (kernel rows, cols, R's channels, R's
filters), is this layer's kernel as it lies. So the forward pass is R's dx computation
(with stride 1, the direct convolution of the zero-bordered x with the flipped kernel;
strided, x W^T through the GEMM scattered into y: col2im), and the backward pass is R's forward pass (dx: the direct
convolution of the zero-bordered dz) and R's weight gradient (dW: the register-resident
reduction over x's pixels), all on the convolution micro-kernels."""
from dataclasses import asdict, dataclass

from .. import activations
from ..errors import SeqcError
from .activation import ActivationAttrs
from .base import Scratch, offsets, register
from .epilogue import WeightedEpilogue, reads_y
from .shapes import Window, fmt, spatial, window_name


@dataclass(frozen=True)
class ConvTransposeAttrs(Window):
    """Window's fields seen from R: H, W, C the layer's input (R's output), OH, OW the layer's
    output (R's input), PT / PL the padding P of R on each axis."""
    F: int                   # filters (the layer's output channels)
    act: str                 # the epilogue activation ('linear': none)


def transpose_geometry(n, k, s, d, padding, output_padding):
    """(output length, P) along one axis, as Keras 3 computes them: the full transposed output
    (n - 1) s + (k - 1) d + 1 loses P values at the start and `right` at the end (a negative
    `right`: zeros appended)."""
    keff = (k - 1) * d + 1
    if padding == "valid":
        op = max(keff, s) - keff if output_padding is None else output_padding
        left, right = keff - 1, keff - 1 + op
    else:
        pad = s + keff - 2 if output_padding is None else keff + keff % 2 - 2 + output_padding
        left = min(pad // 2 + pad % 2, keff - 1)
        right = pad - left
    full = (n - 1) * s + keff
    crop_left, crop_right = keff - 1 - left, keff - 1 - right
    return full - crop_left - crop_right, crop_left


def _geometry(op, gemm):
    """Sizes derived once: the zero-bordered dz that the backward convolves (rows HD, cols WD);
    with stride 1, the zero-bordered x that the forward convolves with the flipped kernel
    (rows HX, cols WX, x placed at (TX, LX)); the per-thread scratch, and the kernel laid out
    for the forward (W^T for the GEMM, or the flipped kernel in panels) and for dx."""
    a = op.attrs
    KK = a.KH * a.KW * a.F              # R's window columns (kh, kw, f)
    HD = max((a.H - 1) * a.SH + (a.KH - 1) * a.DH + 1, a.PT + a.OH)
    WD = max((a.W - 1) * a.SW + (a.KW - 1) * a.DW + 1, a.PL + a.OW)
    direct = a.SH == 1 and a.SW == 1
    TX, LX = (a.KH - 1) * a.DH - a.PT, (a.KW - 1) * a.DW - a.PL
    HX, WX = a.OH + (a.KH - 1) * a.DH, a.OW + (a.KW - 1) * a.DW
    nr = gemm["gemm_nr"]
    panels = lambda n: -(-n // nr) * nr      # noqa: E731
    work, work_total = offsets([
        ("col", 0 if direct else a.H * a.W * KK),    # forward: x W^T, one sample
        ("xpad", HX * WX * a.C if direct else 0),    # forward, stride 1: x zero-bordered
        ("dzpad", HD * WD * a.F),
        ("dw", -(-KK // gemm["gemm_mr"]) * gemm["gemm_mr"] * a.C),   # rows padded to the dW tiles' MR
        ("db", a.F)])
    wpack, wpack_total = offsets([
        ("fwd", a.KH * a.KW * a.C * panels(a.F) if direct else a.C * KK),   # flipped panels, or W^T
        ("dx", KK * panels(a.C) if op.needs_dx else 0)])                   # W in NR-wide panels of channels
    return dict(HD=HD, WD=WD, direct=direct, TX=TX, LX=LX, HX=HX, WX=WX, work_offsets=work, wpack_offsets=wpack,
                work=work_total, wpack=wpack_total)


@register
class ConvTranspose(WeightedEpilogue):
    kind = "conv_transpose"
    template = "conv_transpose.c.j2"
    uses_conv_kernels = True
    uses_team_size = True

    def scratch(self, op, gemm):
        g = _geometry(op, gemm)
        return Scratch(work=g["work"], wpack=g["wpack"])

    def kernel_name(self, op):
        return window_name("conv_transpose", op.attrs, op.attrs.F)

    def render(self, op, ctx):
        g = _geometry(op, ctx.gemm)
        return ctx.render(self.template, op, name=self.kernel_name(op), has_bias="bias" in op.params,
                          HD=g["HD"], WD=g["WD"], direct=g["direct"], TX=g["TX"], LX=g["LX"], HX=g["HX"],
                          WX=g["WX"], wpack_offsets=g["wpack_offsets"], work_offsets=g["work_offsets"],
                          save_pre=op.save_pre, grad_is_pre=op.grad_is_pre, needs_dx=op.needs_dx,
                          reads_y=reads_y(op), **asdict(op.attrs))


def _lower_conv_transpose(b, layer, x):
    cfg = layer.config
    rank = cfg["rank"]
    H, W, C = spatial(layer, x, rank)
    one = lambda v: (1,) + tuple(v) if rank == 1 else tuple(v)     # noqa: E731
    k, s, d = one(cfg["kernel_size"]), one(cfg["strides"]), one(cfg["dilation_rate"])
    opad = cfg["output_padding"]
    opad = (None, None) if opad is None else (0,) + tuple(opad) if rank == 1 else tuple(opad)
    oh, pt = transpose_geometry(H, k[0], s[0], d[0], "valid" if rank == 1 else cfg["padding"], opad[0])
    ow, pl = transpose_geometry(W, k[1], s[1], d[1], cfg["padding"], opad[1])
    if oh <= 0 or ow <= 0:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}): with kernel {cfg['kernel_size']}, padding "
                        f"'{cfg['padding']}' and output_padding {cfg['output_padding']} its output for the input "
                        f"{fmt(x.shape)} would be empty", layer.loc)
    f = cfg["filters"]
    params = {"kernel": b.param(layer, "kernel", tuple(cfg["kernel_size"]) + (f, C), cfg["kernel_initializer"])}
    if cfg["use_bias"]:
        params["bias"] = b.param(layer, "bias", (f,), cfg["bias_initializer"])
    geo = dict(H=H, W=W, C=C, OH=oh, OW=ow, KH=k[0], KW=k[1], SH=s[0], SW=s[1], DH=d[0], DW=d[1], PT=pt, PL=pl, F=f)
    out = (ow, f) if rank == 1 else (oh, ow, f)
    act = activations.get(cfg["activation"])
    if act.kind == "elementwise":
        return b.op("conv_transpose", layer, x, out, params, ConvTransposeAttrs(**geo, act=act.name))
    z = b.op("conv_transpose", layer, x, out, params, ConvTransposeAttrs(**geo, act="linear"))
    return b.op("activation", layer, z, out[:-1] + (act.out_dim(f),), {}, ActivationAttrs(act.name))


lower_Conv1DTranspose = lower_Conv2DTranspose = _lower_conv_transpose
