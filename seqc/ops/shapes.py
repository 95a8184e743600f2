"""Shape arithmetic shared by the op kinds: Keras's output sizes for windows (convolution,
pooling) and the summary's way of printing a shape."""
from dataclasses import dataclass

from ..errors import SeqcError


@dataclass(frozen=True)
class Window:
    """A window sliding over (H, W, C) inputs (1-D: H = 1): output OH x OW, window KH x KW,
    strides SH, SW, dilation DH, DW, padding before PT (top) and PL (left)."""
    H: int
    W: int
    C: int
    OH: int
    OW: int
    KH: int
    KW: int
    SH: int
    SW: int
    DH: int
    DW: int
    PT: int
    PL: int


@dataclass(frozen=True)
class Placement:
    """An (H, W, C) image and an (OH, OW, C) one related by an offset (T rows, L columns):
    ZeroPadding2D places the input there in the output, Cropping cuts the output from there."""
    H: int
    W: int
    C: int
    T: int
    L: int
    OH: int
    OW: int


def fmt(shape):
    return "(None, " + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def conv_geometry(n, k, s, d, padding):
    """(output length, padding before) for one spatial axis, as Keras computes them."""
    span = d * (k - 1) + 1
    if padding == "valid":
        return (n - span) // s + 1, 0
    if padding == "causal":
        return (n - 1) // s + 1, span - 1
    out = -(-n // s)
    total = max(0, (out - 1) * s + span - n)
    return out, total // 2


def spatial(layer, x, rank):
    """(H, W, C) of the input seen as 2-D (a 1-D input is H = 1)."""
    want = rank + 1
    if len(x.shape) != want:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}) expects inputs of rank {want + 1} "
                        f"(batch, {'steps' if rank == 1 else 'rows, cols'}, channels), got {fmt(x.shape)}",
                        layer.loc)
    return (1,) + tuple(x.shape) if rank == 1 else tuple(x.shape)


def window(layer, x_shape, rank, kernel, strides, dilation, padding, what):
    """The geometry of a sliding window over (H, W, C): sizes, strides, dilation, padding."""
    H, W, C = x_shape
    if rank == 1:
        kernel, strides, dilation = (1,) + tuple(kernel), (1,) + tuple(strides), (1,) + tuple(dilation)
    oh, pt = conv_geometry(H, kernel[0], strides[0], dilation[0], "valid" if rank == 1 else padding)
    ow, pl = conv_geometry(W, kernel[1], strides[1], dilation[1], padding)
    if oh <= 0 or ow <= 0:
        size = "x".join(str(d) for d in (x_shape[1:2] if rank == 1 else x_shape[:2]))
        k = "x".join(str(v) for v in (kernel[1:] if rank == 1 else kernel))
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}): the {what} {k} (dilation "
                        f"{'x'.join(str(v) for v in (dilation[1:] if rank == 1 else dilation))}) is larger than "
                        f"its input {size} with padding '{padding}'", layer.loc)
    return Window(H=H, W=W, C=C, OH=oh, OW=ow, KH=kernel[0], KW=kernel[1], SH=strides[0], SW=strides[1],
                  DH=dilation[0], DW=dilation[1], PT=pt, PL=pl)


def window_name(prefix, a, out_channels):
    """A kernel name made of a window's geometry ('depthwise_14x14x32_k3x3_s2x2_p0x0_to7x7x32'):
    layers of one shape share their kernels (the codegen emits a second version under the name
    when a layer's kernels render otherwise, e.g. with another activation)."""
    parts = [f"{prefix}_{a.H}x{a.W}x{a.C}_k{a.KH}x{a.KW}"]
    if (a.SH, a.SW) != (1, 1):
        parts.append(f"s{a.SH}x{a.SW}")
    if (a.DH, a.DW) != (1, 1):
        parts.append(f"d{a.DH}x{a.DW}")
    parts.append(f"p{a.PT}x{a.PL}_to{a.OH}x{a.OW}x{out_channels}")
    return "_".join(parts)
