"""Pooling, channels_last: windowed max / average (1-D is the H = 1 case), global max / average
over all positions, and ZeroPadding2D (its backward crops). None has weights."""
from dataclasses import dataclass

from .base import Arg, Rearrange, register
from .shapes import Placement, spatial, window


@dataclass(frozen=True)
class PoolAttrs:
    """mode 'max', 'avg' or 'avg_replicate' (Keras 3.15's torch 'same' padding, see below);
    input (H, W, C), output (OH, OW, C), window PH x PW, strides SH, SW, padding before PT, PL."""
    mode: str
    H: int
    W: int
    C: int
    OH: int
    OW: int
    PH: int
    PW: int
    SH: int
    SW: int
    PT: int
    PL: int


@dataclass(frozen=True)
class GlobalPoolAttrs:
    mode: str                # 'max' or 'avg'
    L: int                   # positions (H * W)
    C: int                   # channels


PadAttrs = Placement        # ZeroPadding2D: the input at row T, column L of the output


def _max_reads_x(op, ctx, args):
    """Max pooling's backward recomputes each window's argmax from x: x after B."""
    if args is None or op.attrs.mode != "max":
        return args
    return args[:1] + [Arg("const float *", "x", ctx.x(op))] + args[1:]


@register
class Pool(Rearrange):
    """Max / average pooling over a sliding window; max's backward recomputes the argmax from x."""
    kind = "pool"
    template = "pool.c.j2"

    def forward_args(self, op, ctx):
        return super().forward_args(op, ctx) + [Arg("int ", "threads", "m->team.threads")]

    def backward_args(self, op, ctx):
        args = _max_reads_x(op, ctx, super().backward_args(op, ctx))
        return None if args is None else args + [Arg("int ", "threads", "m->team.threads")]


@register
class GlobalPool(Rearrange):
    kind = "global_pool"
    template = "global_pool.c.j2"

    def backward_args(self, op, ctx):
        return _max_reads_x(op, ctx, super().backward_args(op, ctx))


@register
class ZeroPadding2D(Rearrange):
    kind = "pad2d"
    template = "pad2d.c.j2"


def _lower_pool(b, layer, x):
    cfg = layer.config
    rank = cfg["rank"]
    geo = window(layer, spatial(layer, x, rank), rank, cfg["pool_size"], cfg["strides"], (1,) * rank,
                 cfg["padding"], "pool size")
    out = (geo.OW, geo.C) if rank == 1 else (geo.OH, geo.OW, geo.C)
    mode = cfg["mode"]
    if mode == "avg" and cfg["padding"] == "same":
        # Keras 3.15 (torch backend): when some axis is padded unevenly, average pooling pads
        # by repeating edge values and divides by the whole window; otherwise it averages the
        # real cells only.
        totals = [(geo.OH - 1) * geo.SH + geo.KH - geo.H, (geo.OW - 1) * geo.SW + geo.KW - geo.W]
        if any(t > 0 and t % 2 for t in totals):
            mode = "avg_replicate"
    return b.op("pool", layer, x, out, {}, PoolAttrs(mode, geo.H, geo.W, geo.C, geo.OH, geo.OW, geo.KH, geo.KW,
                                                   geo.SH, geo.SW, geo.PT, geo.PL))


lower_MaxPooling1D = lower_MaxPooling2D = lower_AveragePooling1D = lower_AveragePooling2D = _lower_pool


def _lower_global_pool(b, layer, x):
    cfg = layer.config
    shape = spatial(layer, x, cfg["rank"])
    C = shape[-1]
    out = ((1,) * cfg["rank"] + (C,)) if cfg["keepdims"] else (C,)
    return b.op("global_pool", layer, x, out, {}, GlobalPoolAttrs(cfg["mode"], shape[0] * shape[1], C))


lower_GlobalAveragePooling2D = _lower_global_pool


def lower_GlobalAveragePooling1D(b, layer, x):
    """Under a mask, the mean over the steps it keeps (ops/masking.py)."""
    if b.mask is not None:
        from .masking import lower_masked_mean
        return lower_masked_mean(b, layer, x, layer.config["keepdims"])
    return _lower_global_pool(b, layer, x)


lower_GlobalAveragePooling1D.supports_masking = True
lower_GlobalMaxPooling1D = lower_GlobalMaxPooling2D = _lower_global_pool


def lower_ZeroPadding2D(b, layer, x):
    H, W, C = spatial(layer, x, 2)
    (t, bm), (l, r) = layer.config["padding"]
    return b.op("pad2d", layer, x, (H + t + bm, W + l + r, C), {},
                PadAttrs(H=H, W=W, C=C, T=t, L=l, OH=H + t + bm, OW=W + l + r))
