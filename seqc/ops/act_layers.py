"""Keras's activation layers. Where a layer with its arguments is one of Keras's named
activations (ReLU() = relu, ReLU(max_value=6) = relu6, LeakyReLU(0.2) = leaky_relu, ELU(1.0) =
elu, Softmax(-1) = softmax) it lowers to an `activation` op, which fusion folds into the
preceding Dense/Conv epilogue; otherwise to one of:

  act_param  y = f(x) elementwise with the layer's constants (seqc/templates/act_param.c.j2):
             'leaky'  x > 0 ? x : slope x
             'elu'    x > 0 ? x : alpha (exp(x) - 1)
             'relu'   Keras's relu(x, negative_slope, max_value, threshold):
                      clip(x > threshold ? x : 0, 0, max_value) - slope relu(threshold - x)
  softmax_axis  the softmax over an axis before the last (seqc/templates/softmax_axis.c.j2)
  prelu      y = relu(x) - alpha relu(-x), alpha a weight (seqc/templates/prelu.c.j2), shared
             (broadcast) along `shared_axes`; dalpha = sum over the batch and the shared axes
             of dy min(x, 0).
Gradients follow torch autograd of Keras's composition, kinks included.
"""
import math
from dataclasses import asdict, dataclass
from typing import Optional

from ..errors import SeqcError
from .activation import ActivationAttrs
from .base import Arg, Elementwise, OpKind, register
from .shapes import fmt


@dataclass(frozen=True)
class ActParamAttrs:
    fn: str                          # 'leaky', 'elu' or 'relu'
    slope: float = 0.0               # leaky, relu: the slope below 0 (below the threshold)
    alpha: float = 1.0               # elu
    threshold: float = 0.0           # relu
    max_value: Optional[float] = None   # relu: the cap (None: none)


@register
class ActParam(Elementwise):
    kind = "act_param"
    template = "act_param.c.j2"

    def render(self, op, ctx):
        a = op.attrs
        relu6 = a.fn == "relu" and a.threshold == 0 and a.max_value == 6
        return ctx.render(self.template, op, size=op.inputs[0].size, fn_kind=a.fn, slope=float(a.slope),
                          alpha=float(a.alpha), threshold=float(a.threshold), relu6=relu6,
                          max_value=None if a.max_value is None or relu6 else float(a.max_value))


@dataclass(frozen=True)
class PReLUAttrs:
    dims: tuple                      # the per-sample shape
    shared: tuple                    # per axis: whether alpha is shared along it


@register
class PReLU(OpKind):
    kind = "prelu"
    template = "prelu.c.j2"

    def forward_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)),
                Arg("const float *", "alpha", ctx.w(op, "alpha")), Arg("float *", "y", ctx.y(op))]

    def backward_args(self, op, ctx):
        args = [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op))]
        if op.needs_dx:
            args.append(Arg("const float *", "alpha", ctx.w(op, "alpha")))
        args.append(Arg("const float *", "dy", ctx.dy(op)))
        if op.needs_dx:
            args.append(Arg("float *", "dx", ctx.dx(op)))
        return args + [Arg("float *", "dalpha", ctx.dw(op, "alpha"))]

    def render(self, op, ctx):
        dims, shared = op.attrs.dims, op.attrs.shared
        x_strides = [math.prod(dims[k + 1:]) for k in range(len(dims))]
        a_dims = [1 if s else d for d, s in zip(dims, shared)]
        a_strides = [0 if shared[k] else math.prod(a_dims[k + 1:]) for k in range(len(dims))]
        return ctx.render(self.template, op, dims=list(dims), x_strides=x_strides, a_strides=a_strides,
                          size=math.prod(dims), a_size=math.prod(a_dims), needs_dx=op.needs_dx)


@dataclass(frozen=True)
class SoftmaxAxisAttrs:
    outer: int                       # per sample: the product of the axes before the softmax axis
    n: int                           # the softmax axis's length
    inner: int                       # the product of the axes after it (the axis's stride)


@register
class SoftmaxAxis(OpKind):
    """Softmax over an axis that is not the last (the last one is the `activation` softmax):
    y = exp(x - max) / sum exp(x - max) along the axis; dx = y (dy - sum(dy y)) along it."""
    kind = "softmax_axis"
    template = "softmax_axis.c.j2"

    def forward_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)), Arg("float *", "y", ctx.y(op))]

    def backward_args(self, op, ctx):
        if not op.needs_dx:
            return None
        return [Arg("int ", "B", "B"), Arg("const float *", "y", ctx.y(op)),
                Arg("const float *", "dy", ctx.dy(op)), Arg("float *", "dx", ctx.dx(op))]

    def render(self, op, ctx):
        return ctx.render(self.template, op, **asdict(op.attrs))


def _act(b, layer, x, name):
    return b.op("activation", layer, x, x.shape, {}, ActivationAttrs(name))


def lower_ReLU(b, layer, x):
    cfg = layer.config
    slope, thr, cap = cfg["negative_slope"], cfg["threshold"], cfg["max_value"]
    if slope == 0 and thr == 0 and cap is None:
        return _act(b, layer, x, "relu")
    if slope == 0 and thr == 0 and cap == 6:
        return _act(b, layer, x, "relu6")
    if cap is None and thr == 0:        # Keras calls leaky_relu
        if slope == 0.2:
            return _act(b, layer, x, "leaky_relu")
        return b.op("act_param", layer, x, x.shape, {}, ActParamAttrs("leaky", slope=slope))
    return b.op("act_param", layer, x, x.shape, {},
                ActParamAttrs("relu", slope=slope, threshold=thr, max_value=cap))


def lower_LeakyReLU(b, layer, x):
    slope = layer.config["negative_slope"]
    if slope == 0.2:
        return _act(b, layer, x, "leaky_relu")
    return b.op("act_param", layer, x, x.shape, {}, ActParamAttrs("leaky", slope=slope))


def lower_ELU(b, layer, x):
    alpha = layer.config["alpha"]
    if alpha == 1.0:
        return _act(b, layer, x, "elu")
    return b.op("act_param", layer, x, x.shape, {}, ActParamAttrs("elu", alpha=alpha))


def lower_Softmax(b, layer, x):
    axis = layer.config["axis"]
    rank = len(x.shape) + 1                     # Keras counts the batch axis
    if not -rank <= axis < rank or axis in (0, -rank):
        raise SeqcError(f"layer {layer.name!r} (Softmax): axis={axis} is not an axis after the batch of its "
                        f"input {fmt(x.shape)} (1..{rank - 1}, or -1..-{rank - 1})", layer.loc)
    a = (axis if axis > 0 else rank + axis) - 1  # the axis in the per-sample shape
    if a == len(x.shape) - 1:
        return _act(b, layer, x, "softmax")
    attrs = SoftmaxAxisAttrs(math.prod(x.shape[:a]), x.shape[a], math.prod(x.shape[a + 1:]))
    return b.op("softmax_axis", layer, x, x.shape, {}, attrs)


def lower_PReLU(b, layer, x):
    cfg = layer.config
    axes = cfg["shared_axes"] or []
    for a in axes:
        if not 1 <= a <= len(x.shape):
            raise SeqcError(f"layer {layer.name!r} (PReLU): shared_axes={axes} names axis {a}, but its input "
                            f"{fmt(x.shape)} has axes 1..{len(x.shape)} after the batch", layer.loc)
    shared = tuple((k + 1) in axes for k in range(len(x.shape)))
    shape = tuple(1 if s else d for d, s in zip(x.shape, shared))
    alpha = b.param(layer, "alpha", shape, cfg["alpha_initializer"])
    return b.op("prelu", layer, x, x.shape, {"alpha": alpha}, PReLUAttrs(tuple(x.shape), shared))

# elementwise: a mask passes on unchanged (Keras 3 sets supports_masking on these layers)
for _lower in (lower_ReLU, lower_LeakyReLU, lower_ELU, lower_PReLU):
    _lower.supports_masking = True
