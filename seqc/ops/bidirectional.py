"""Bidirectional(LSTM | GRU | SimpleRNN): two recurrent cells over the same input, the second
reading the timesteps in reverse (the recurrent kernels' go_backwards), merged (Keras 3).

  concat  y = [yf, yb]      sum  y = yf + yb      ave  y = (yf + yb) / 2      mul  y = yf yb

With return_sequences the backward cell's outputs (in its processing order) are flipped back
in time before the merge, as Keras does. Each direction is rendered by the recurrent kind
(seqc/ops/rnn.py, templates/rnn.c.j2) under its own kernel names, with its buffers prefixed
`fwd_` / `bwd_` in this layer's buffer struct; this module adds the merge, its backward (the
split of dy), and dx = dx(forward) + dx(backward). Weights in Keras's order: the forward
layer's kernel, recurrent_kernel, bias, then the backward layer's.
"""
from dataclasses import dataclass

from ..errors import SeqcError
from ..ir import Op, Tensor
from .base import Arg, Buf, OpKind, Scratch, call, kind_of, prototype, register
from .rnn import RecurrentAttrs, next_stream, rnn_parts, state_floats

DIRECTIONS = ("fwd", "bwd")
MERGE_MODES = ("concat", "sum", "ave", "mul")


@dataclass(frozen=True)
class BidirectionalAttrs:
    fwd: RecurrentAttrs
    bwd: RecurrentAttrs
    merge: str               # concat, sum, ave, mul
    cells: int = 2           # random streams taken: two per cell


def direction(op, d):
    """The recurrent op of one direction (an Op of kind 'rnn' that only exists for rendering)."""
    prefix = "forward_" if d == "fwd" else "backward_"
    params = {role[len(prefix):]: p for role, p in op.params.items() if role.startswith(prefix)}
    a = getattr(op.attrs, d)
    sub = Op("rnn", op.name, list(op.inputs), Tensor(f"{op.output.name}_{d}", (a.T, a.U) if a.return_sequences
                                                      else (a.U,)), params, a, loc=op.loc, cname=op.cname)
    sub.needs_dx = op.needs_dx
    return sub


class _DirectionContext:
    """The codegen context as one direction's recurrent kernels see it: their output, its
    gradient and their buffers are this layer's `fwd_*` / `bwd_*` members; the backward
    direction writes its input gradient to `dx2`, added to the forward's afterwards."""

    def __init__(self, ctx, op, d):
        self._ctx, self._op, self._d = ctx, op, d
        self.gemm = ctx.gemm

    def fn(self, sub):
        return f"{self._ctx.fn(self._op)}_{self._d}"

    def x(self, sub):
        return self._ctx.x(self._op)

    def y(self, sub):
        return self._ctx.buf(self._op, f"{self._d}_y")

    def dy(self, sub):
        return self._ctx.buf(self._op, f"{self._d}_dy")

    def dx(self, sub):
        return self._ctx.dx(self._op) if self._d == "fwd" else self._ctx.buf(self._op, "dx2")

    def tensor(self, t):
        return self._ctx.tensor(t)

    def buf(self, sub, role):
        return self._ctx.buf(self._op, f"{self._d}_{role}")

    def w(self, sub, role):
        return self._ctx.w(sub, role)

    def dw(self, sub, role):
        return self._ctx.dw(sub, role)

    def state(self, sub):
        base = self._ctx.state(self._op)
        if self._d == "fwd":
            return base
        return f"{base} + {state_floats(self._op.attrs.fwd, self._ctx.graph.batch_size)}L"

    def render_shared(self, template, **kw):
        return self._ctx.render_shared(template, **kw)

    def render(self, template, op, **kw):
        from ..codegen import Context
        return Context.render(self, template, op, **kw)


@register
class Bidirectional(OpKind):
    kind = "bidirectional"
    template = "bidirectional.c.j2"
    uses_gemm = True
    uses_team_size = True

    def _subs(self, op):
        return [(d, direction(op, d)) for d in DIRECTIONS]

    def state_floats(self, op, batch_size):
        return sum(kind_of(s).state_floats(s, batch_size) for _, s in self._subs(op))

    def random(self, op):
        return any(kind_of(s).random(s) for _, s in self._subs(op))

    def buffers(self, op):
        bufs = []
        for d, sub in self._subs(op):
            bufs += [Buf(f"{d}_{b.role}", b.size, b.saved) for b in kind_of(sub).buffers(sub)]
            bufs += [Buf(f"{d}_y", sub.output.size, True), Buf(f"{d}_dy", sub.output.size, False)]
        if op.needs_dx:
            bufs.append(Buf("dx2", op.inputs[0].size, False))
        return bufs

    def scratch(self, op, gemm):
        sc = [kind_of(s).scratch(s, gemm) for _, s in self._subs(op)]
        return Scratch(work=max(s.work for s in sc), wpack=max(s.wpack for s in sc), tpack=max(s.tpack for s in sc))

    def activations(self, op):
        return set().union(*(kind_of(s).activations(s) for _, s in self._subs(op)))

    def _merge_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "yf", ctx.buf(op, "fwd_y")),
                Arg("const float *", "yb", ctx.buf(op, "bwd_y")), Arg("float *", "y", ctx.y(op))]

    def _split_args(self, op, ctx):
        args = [Arg("int ", "B", "B"), Arg("const float *", "dy", ctx.dy(op))]
        if op.attrs.merge == "mul":
            args += [Arg("const float *", "yf", ctx.buf(op, "fwd_y")), Arg("const float *", "yb", ctx.buf(op, "bwd_y"))]
        return args + [Arg("float *", "dyf", ctx.buf(op, "fwd_dy")), Arg("float *", "dyb", ctx.buf(op, "bwd_dy"))]

    def _add_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "dx2", ctx.buf(op, "dx2")), Arg("float *", "dx", ctx.dx(op))]

    def forward_args(self, op, ctx):
        return self._merge_args(op, ctx)

    def backward_args(self, op, ctx):
        return self._split_args(op, ctx)

    def forward_call(self, op, ctx):
        calls = [kind_of(s).forward_call(s, _DirectionContext(ctx, op, d)) for d, s in self._subs(op)]
        return "\n    ".join(calls + [call(f"{ctx.fn(op)}_merge", self._merge_args(op, ctx))])

    def backward_call(self, op, ctx):
        calls = [call(f"{ctx.fn(op)}_split", self._split_args(op, ctx))]
        calls += [kind_of(s).backward_call(s, _DirectionContext(ctx, op, d)) for d, s in self._subs(op)]
        if op.needs_dx:
            calls.append(call(f"{ctx.fn(op)}_add_dx", self._add_args(op, ctx)))
        return "\n    ".join(calls)

    def shared_kernels(self, op, ctx):
        out = []
        for d, s in self._subs(op):
            out += kind_of(s).shared_kernels(s, _DirectionContext(ctx, op, d))
        return out

    def render(self, op, ctx):
        a = op.attrs
        cells = [kind_of(s).render(s, _DirectionContext(ctx, op, d)) for d, s in self._subs(op)]
        f = a.fwd
        return "\n".join(cells) + "\n" + ctx.render(
            self.template, op, T=f.T if f.return_sequences else 1, U=f.U, merge=a.merge,
            return_sequences=f.return_sequences, needs_dx=op.needs_dx, x_size=op.inputs[0].size,
            merge_params=prototype(self._merge_args(op, ctx)), split_params=prototype(self._split_args(op, ctx)),
            add_params=prototype(self._add_args(op, ctx)) if op.needs_dx else "")


def lower_Bidirectional(b, layer, x):
    """The forward layer as written, the backward one as given (`backward_layer`) or the
    forward's config with go_backwards=True; the Keras class checked that they agree."""
    cfg = layer.config
    if cfg["merge_mode"] is None:
        raise SeqcError(f"layer {layer.name!r}: Bidirectional(merge_mode=None) outputs two tensors, which a Sequential "
                        "model cannot carry (in Keras the next layer fails: it \"expects 1 input(s), but it received "
                        "2 input tensors\"); seqc builds single-output models: use merge_mode 'concat', 'sum', 'ave' "
                        "or 'mul'", layer.loc)
    fwd_cfg = cfg["layer"]["config"]
    bwd_cfg = cfg["backward_layer"]["config"] if cfg["backward_layer"] else dict(fwd_cfg, go_backwards=True)
    stream = next_stream(b)
    params, attrs = {}, []
    for k, (prefix, c) in enumerate((("forward_", fwd_cfg), ("backward_", bwd_cfg))):
        p, a, _ = rnn_parts(b, layer, c, x, role_prefix=prefix, stream=stream + 2 * k,
                            zero_masked_output=c["return_sequences"])   # Keras forces zero_output_for_mask
        params.update({prefix + role: v for role, v in p.items()})
        attrs.append(a)
    fwd, bwd = attrs
    u = 2 * fwd.U if cfg["merge_mode"] == "concat" else fwd.U
    out = (fwd.T, u) if fwd.return_sequences else (u,)
    y = b.op("bidirectional", layer, x, out, params, BidirectionalAttrs(fwd=fwd, bwd=bwd, merge=cfg["merge_mode"]),
             extra_inputs=(b.mask,) if fwd.masked else ())
    if not fwd.return_sequences:
        b.mask = None
    return y


lower_Bidirectional.supports_masking = True
