"""Normalization over the last (channels) axis: BatchNormalization and LayerNormalization.

BatchNormalization, x (M, C) with M = batch * rps rows (every position of every sample):
  training (and the layer trainable): mean, var = the batch's per-channel mean and biased
      variance; moving = moving * momentum + batch * (1 - momentum) for both (Keras 3);
  otherwise (inference, or a frozen layer, as Keras 3 runs it): the moving statistics;
  y = act((x - mean) * gamma / sqrt(var + eps) + beta), the activation an elementwise one
  fused from a following Activation (Conv -> BN -> ReLU is one pass over the output).
  Backward with batch statistics, xh = (x - mean) / sqrt(var + eps), s = gamma / sqrt(var + eps):
      dbeta = sum_rows dy, dgamma = sum_rows dy xh, dx = s (dy - dbeta / M - xh dgamma / M);
  with fixed statistics dx = s dy. Per-channel sums are taken by a fixed block of channels
  per thread over all rows in order (double accumulators): the result does not depend on the
  thread count. moving_mean / moving_variance are non-trainable weights: in `params` (and so in
  get_weights, in Keras's order), written by the training forward pass, never by the optimizer.

LayerNormalization: per row, y = (x - mean_row) / sqrt(var_row + eps) * gamma + beta;
  backward dx = inv (g - mean(g) - xh mean(g xh)) with g = dy gamma; dgamma, dbeta sums over rows.
"""
import math
from dataclasses import dataclass

import numpy as np

from ..errors import SeqcError
from .base import Arg, Buf, OpKind, register
from .epilogue import reads_y
from .shapes import fmt


@dataclass(frozen=True)
class BatchNormAttrs:
    C: int                   # channels (the last axis)
    rps: int                 # rows per sample: the positions of the other axes
    momentum: float
    epsilon: float
    center: bool             # has beta
    scale: bool              # has gamma
    batch_stats: bool        # the layer is trainable: training uses (and updates) batch statistics
    act: str = "linear"      # elementwise activation fused after it


@dataclass(frozen=True)
class LayerNormAttrs:
    N: int                   # features normalized together (the last axis)
    rps: int                 # rows per sample
    epsilon: float
    center: bool
    scale: bool


def _short(value):
    """The shortest decimal with the same float32 value (the C writes `<value>f`): 1 - 0.99 is
    0.010000000000000009 in double, 0.01f in the C, as Keras's float32 arithmetic has it."""
    target = np.float32(value)
    for digits in range(1, 18):
        text = float(f"{value:.{digits}g}")
        if np.float32(text) == target:
            return text
    return float(value)


def _block(n):
    """Channels per thread work item of the per-channel sums: a constant width that divides n
    (all of n when it is small), so the inner loop over a block vectorizes."""
    if n <= 16:
        return n
    return next(w for w in (16, 8, 4, 2, 1) if n % w == 0)


def _trainable(op, role):
    return role in op.params and op.params[role].trainable


@register
class BatchNorm(OpKind):
    kind = "batchnorm"
    template = "batchnorm.c.j2"
    activation_epilogue = True
    saves_pre_activation = True
    uses_team_size = False

    def reads_training(self, op):
        return op.attrs.batch_stats

    def buffers(self, op):
        C = op.attrs.C
        bufs = [Buf("stats", 3 * C, True)]               # mean, 1/sqrt(var + eps), gamma/sqrt(var + eps)
        if op.save_pre:
            bufs.append(Buf("pre", op.output.size, True))
        if self._reduces(op):
            bufs.append(Buf("sums", 2 * C, False))       # backward: sum dy, sum dy xh per channel
        return bufs

    def activations(self, op):
        return {op.attrs.act} - {"linear"}

    def activation_grads(self, op):
        return set() if op.grad_is_pre else self.activations(op)

    def _reduces(self, op):
        """Whether the backward takes per-channel sums (weight gradients, or dx through batch stats)."""
        return _trainable(op, "gamma") or _trainable(op, "beta") or (op.attrs.batch_stats and op.needs_dx)

    def forward_args(self, op, ctx):
        a = op.attrs
        args = [Arg("int ", "B", "B")]
        if a.batch_stats:
            args.append(Arg("int ", "training", "training"))
        args.append(Arg("const float *", "x", ctx.x(op)))
        if a.scale:
            args.append(Arg("const float *", "gamma", ctx.w(op, "gamma")))
        if a.center:
            args.append(Arg("const float *", "beta", ctx.w(op, "beta")))
        moving = "float *" if a.batch_stats else "const float *"
        args += [Arg(moving, "moving_mean", ctx.w(op, "moving_mean")),
                 Arg(moving, "moving_variance", ctx.w(op, "moving_variance")),
                 Arg("float *", "y", ctx.y(op))]
        if op.save_pre:
            args.append(Arg("float *", "z", ctx.buf(op, "pre")))
        return args + [Arg("float *", "stats", ctx.buf(op, "stats")), Arg("int ", "threads", "m->team.threads")]

    def backward_args(self, op, ctx):
        a = op.attrs
        if not op.needs_dx and not self._reduces(op):
            return None
        args = [Arg("int ", "B", "B")]
        if a.batch_stats and op.needs_dx:
            args.append(Arg("int ", "training", "training"))
        if self._reduces(op):
            args.append(Arg("const float *", "x", ctx.x(op)))
        if reads_y(op):
            args.append(Arg("const float *", "y", ctx.y(op)))
        if op.save_pre:
            args.append(Arg("const float *", "z", ctx.buf(op, "pre")))
        args += [Arg("const float *", "stats", ctx.buf(op, "stats")), Arg("float *", "dy", ctx.dy(op))]
        if op.needs_dx:
            args.append(Arg("float *", "dx", ctx.dx(op)))
        if _trainable(op, "gamma"):
            args.append(Arg("float *", "dgamma", ctx.dw(op, "gamma")))
        if _trainable(op, "beta"):
            args.append(Arg("float *", "dbeta", ctx.dw(op, "beta")))
        if self._reduces(op):
            args.append(Arg("float *", "sums", ctx.buf(op, "sums")))
        return args + [Arg("int ", "threads", "m->team.threads")]

    def render(self, op, ctx):
        a = op.attrs
        return ctx.render(self.template, op, C=a.C, rps=a.rps, momentum=_short(a.momentum),
                          one_minus_momentum=_short(1.0 - float(a.momentum)), epsilon=_short(a.epsilon),
                          center=a.center, scale=a.scale, batch_stats=a.batch_stats,
                          act=a.act, save_pre=op.save_pre, grad_is_pre=op.grad_is_pre, needs_dx=op.needs_dx,
                          reads_y=reads_y(op), reduces=self._reduces(op), dgamma=_trainable(op, "gamma"),
                          dbeta=_trainable(op, "beta"), cblk=_block(a.C))


@register
class LayerNorm(OpKind):
    kind = "layernorm"
    template = "layernorm.c.j2"

    def buffers(self, op):
        return [Buf("stats", 2 * op.attrs.rps, True)]     # per row: mean, 1/sqrt(var + eps)

    def forward_args(self, op, ctx):
        a = op.attrs
        args = [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op))]
        if a.scale:
            args.append(Arg("const float *", "gamma", ctx.w(op, "gamma")))
        if a.center:
            args.append(Arg("const float *", "beta", ctx.w(op, "beta")))
        return args + [Arg("float *", "y", ctx.y(op)), Arg("float *", "stats", ctx.buf(op, "stats")),
                       Arg("int ", "threads", "m->team.threads")]

    def backward_args(self, op, ctx):
        a = op.attrs
        dg, db = _trainable(op, "gamma"), _trainable(op, "beta")
        if not (op.needs_dx or dg or db):
            return None
        reads_x = op.needs_dx or dg                    # xh: for dx and dgamma, not for dbeta
        args = [Arg("int ", "B", "B")] + ([Arg("const float *", "x", ctx.x(op))] if reads_x else [])
        if a.scale and op.needs_dx:
            args.append(Arg("const float *", "gamma", ctx.w(op, "gamma")))
        if reads_x:
            args.append(Arg("const float *", "stats", ctx.buf(op, "stats")))
        args.append(Arg("const float *", "dy", ctx.dy(op)))
        if op.needs_dx:
            args.append(Arg("float *", "dx", ctx.dx(op)))
        if dg:
            args.append(Arg("float *", "dgamma", ctx.dw(op, "gamma")))
        if db:
            args.append(Arg("float *", "dbeta", ctx.dw(op, "beta")))
        return args + [Arg("int ", "threads", "m->team.threads")]

    def render(self, op, ctx):
        a = op.attrs
        return ctx.render(self.template, op, N=a.N, rps=a.rps, epsilon=_short(a.epsilon), center=a.center,
                          scale=a.scale, needs_dx=op.needs_dx, dgamma=_trainable(op, "gamma"),
                          dbeta=_trainable(op, "beta"), cblk=_block(a.N))


def _last_axis(layer, x):
    """The normalized axis must be the last: -1 or its positive index (Keras counts the batch)."""
    rank = len(x.shape) + 1
    axis = layer.config["axis"]
    if len(x.shape) < 1:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}) needs an input with a feature axis, got "
                        f"{fmt(x.shape)}", layer.loc)
    if axis not in (-1, rank - 1):
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}): seqc normalizes over the last (channels) axis only "
                        f"(axis=-1 or axis={rank - 1} for inputs of shape {fmt(x.shape)}); got axis={axis}",
                        layer.loc)
    return x.shape[-1], math.prod(x.shape[:-1])


def _gamma_beta(b, layer, n):
    cfg, params = layer.config, {}
    if cfg["scale"]:
        params["gamma"] = b.param(layer, "gamma", (n,), cfg["gamma_initializer"])
    if cfg["center"]:
        params["beta"] = b.param(layer, "beta", (n,), cfg["beta_initializer"])
    return params


def lower_BatchNormalization(b, layer, x):
    cfg = layer.config
    C, rps = _last_axis(layer, x)
    params = _gamma_beta(b, layer, C)
    for role in ("moving_mean", "moving_variance"):
        params[role] = b.param(layer, role, (C,), cfg[f"{role}_initializer"])
        params[role].trainable = False              # updated by the training forward pass, not the optimizer
    attrs = BatchNormAttrs(C=C, rps=rps, momentum=cfg["momentum"], epsilon=cfg["epsilon"], center=cfg["center"],
                           scale=cfg["scale"], batch_stats=cfg.get("trainable", True))
    return b.op("batchnorm", layer, x, x.shape, params, attrs)


def lower_LayerNormalization(b, layer, x):
    cfg = layer.config
    N, rps = _last_axis(layer, x)
    params = _gamma_beta(b, layer, N)
    attrs = LayerNormAttrs(N=N, rps=rps, epsilon=cfg["epsilon"], center=cfg["center"], scale=cfg["scale"])
    return b.op("layernorm", layer, x, x.shape, params, attrs)

