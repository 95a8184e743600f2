"""Recurrent layers (Keras 3): LSTM, GRU (reset_after True or False) and SimpleRNN, one template.

Buffers are batch-major like the data; each thread runs the whole time loop on its slice of the
batch (see rnn.c.j2). Kept from the forward pass: z (pre-activations; an LSTM whose activations'
gradients read only their outputs keeps the gate values there instead, and act(c) in ac), the
state entering each step (hp, and cp for an LSTM), GRU's hu; with dropout, the masked input and
the masks.
"""
from dataclasses import asdict, dataclass

from .. import activations
from ..errors import SeqcError
from .base import Arg, Buf, OpKind, Scratch, register
from .shapes import fmt

GATES = {"lstm": 4, "gru": 3, "simple": 1}     # blocks of `units` columns in W, U and b


@dataclass(frozen=True)
class RecurrentAttrs:
    cell: str                # 'lstm', 'gru' or 'simple'
    T: int                   # timesteps
    F: int                   # input features
    U: int                   # units
    act: str                 # activation (tanh)
    ract: str                # recurrent activation of the gates (sigmoid)
    return_sequences: bool
    go_backwards: bool
    stateful: bool
    dropout: float           # input dropout rate (0 when off)
    recurrent_dropout: float # state dropout rate (0 when off)
    stream: int              # first of the layer's two random streams
    reset_after: bool        # GRU's variant; True (unused) for the others
    masked: bool = False     # a (batch, timesteps) mask: masked steps carry the state unchanged
    zero_masked_output: bool = False   # return_sequences outputs 0 at masked steps (in a Bidirectional),
                                       # else the carried h (Keras's zero_output_for_mask)


def gate_columns(attrs):
    return GATES[attrs.cell] * attrs.U


def saves_gates(attrs):
    """An LSTM whose activations' gradients read only their outputs (sigmoid, tanh, ...): the
    forward pass keeps the gate values over z and act(c) in `ac`, so that the backward pass
    evaluates no activation again."""
    return attrs.cell == "lstm" and all("x" not in activations.get(n).grad_needs for n in (attrs.act, attrs.ract))


def state_floats(attrs, batch_size):
    """A stateful layer's carried state: h, and c for an LSTM, each (batch, units)."""
    return (2 if attrs.cell == "lstm" else 1) * batch_size * attrs.U


@register
class Recurrent(OpKind):
    kind = "rnn"
    template = "rnn.c.j2"
    uses_gemm = True
    uses_team_size = True

    def state_floats(self, op, batch_size):
        return state_floats(op.attrs, batch_size) if op.attrs.stateful else 0

    def random(self, op):
        return bool(op.attrs.dropout or op.attrs.recurrent_dropout)

    def buffers(self, op):
        a = op.attrs
        T, F, U, cell = a.T, a.F, a.U, a.cell
        G = gate_columns(a)
        bufs = [Buf("z", T * G, True), Buf("hp", T * U, True),     # pre-activations, h entering each step
                Buf("dz", T * G, False), Buf("dh", U, False), Buf("dh2", U, False)]
        if cell == "lstm":                       # the cell state entering each step, and its gradient
            bufs += [Buf("cp", T * U, True), Buf("dc", U, False)]
        if saves_gates(a):                       # act(c) of each step (z holds the gate values)
            bufs += [Buf("ac", T * U, True)]
        if cell == "gru" and a.reset_after:   # h U + b[1] (multiplied by r), and its gradient
            bufs += [Buf("hu", T * G, True), Buf("dhu", T * G, False)]
        elif cell == "gru":                      # reset_after=False: r h' (U_h multiplies it), kept for dU
            bufs += [Buf("hu", T * U, True)]
        if a.dropout:                         # the masked input and the mask
            bufs += [Buf("xd", T * F, True), Buf("dmask", F, True)]
        if a.recurrent_dropout:               # the masked state entering each step, and the mask
            bufs += [Buf("hm", T * U, True), Buf("rmask", U, True)]
        return bufs

    def scratch(self, op, gemm):
        a = op.attrs
        G, U, nr, mr = gate_columns(a), a.U, gemm["gemm_nr"], gemm["gemm_mr"]
        gru1 = a.cell == "gru" and not a.reset_after
        nb = (2 * G if a.cell == "gru" and a.reset_after else G) if "bias" in op.params else 0
        # a block of rows (d(r h'), dh); a thread's partial dW, dU, db (and dU's staging for gru1)
        # each thread packs U (forward), U^T and W^T (backward) for itself: a pack the other threads
        # read would be in their caches when the next call rewrites it
        return Scratch(work=mr * 2 * U + (a.F + U) * G + nb + (2 * U * U if gru1 else 0),
                       tpack=max(U * -(-G // nr) * nr,                          # U in panels; U^T (and
                                 G * -(-U // nr) * nr + (G * -(-a.F // nr) * nr if op.needs_dx else 0)))  # W^T)

    def activations(self, op):
        return {op.attrs.act, op.attrs.ract}

    def forward_args(self, op, ctx):
        a = op.attrs
        args = [Arg("int ", "B", "B")]
        if self.random(op):
            args += [Arg("int ", "training", "training"), Arg("uint64_t ", "seed", "seed")]
        args += [Arg("const float *", "x", ctx.x(op)), Arg("const float *", "W", ctx.w(op, "kernel")),
                 Arg("const float *", "Um", ctx.w(op, "recurrent_kernel"))]
        if a.masked:
            args.append(Arg("const float *", "mask", ctx.tensor(op.inputs[1])))
        if "bias" in op.params:
            args.append(Arg("const float *", "bias", ctx.w(op, "bias")))
        args += [Arg("float *", "y", ctx.y(op)), Arg("int ", "return_sequences", str(int(a.return_sequences)))]
        args += [Arg("float *", b.role, ctx.buf(op, b.role)) for b in self.buffers(op) if b.saved]
        if a.stateful:
            args.append(Arg("float *", "state", ctx.state(op)))
        return args + [Arg("const seqc_team *", "tm", "&m->team")]

    def backward_args(self, op, ctx):
        a = op.attrs
        args = [Arg("int ", "B", "B")]
        if not a.dropout:     # with dropout the weight gradient reads the masked input xd
            args.append(Arg("const float *", "x", ctx.x(op)))
        if op.needs_dx:
            args.append(Arg("const float *", "W", ctx.w(op, "kernel")))
        args += [Arg("const float *", "Um", ctx.w(op, "recurrent_kernel")), Arg("const float *", "dy", ctx.dy(op)),
                 Arg("int ", "return_sequences", str(int(a.return_sequences)))]
        if a.masked:
            args.append(Arg("const float *", "mask", ctx.tensor(op.inputs[1])))
        if op.needs_dx:
            args.append(Arg("float *", "dx", ctx.dx(op)))
        args += [Arg("float *", "dW", ctx.dw(op, "kernel")), Arg("float *", "dU", ctx.dw(op, "recurrent_kernel"))]
        if "bias" in op.params:
            args.append(Arg("float *", "db", ctx.dw(op, "bias")))
        for b in self.buffers(op):
            if b.role == "dmask" and not op.needs_dx:
                continue         # the input mask only scales dx
            if b.role == "hp" and a.recurrent_dropout and a.cell != "gru":
                continue         # the recurrent products read the masked state hm
            args.append(Arg("const float *" if b.saved else "float *", b.role, ctx.buf(op, b.role)))
        return args + [Arg("const seqc_team *", "tm", "&m->team")]

    def kernel_name(self, op):
        """Layers of one cell type and shape share their kernels (return_sequences is a parameter)."""
        a = op.attrs
        return f"{ {'simple': 'simple_rnn'}.get(a.cell, a.cell)}_{a.T}x{a.F}x{a.U}"

    def shared_kernels(self, op, ctx):
        """The recurrent products' shapes (K, N): h_{t-1} U and dz U^T (GRU reset_after=False:
        U_zr and U_h apart), and dz W^T for the input gradient."""
        a = op.attrs
        U, G = a.U, gate_columns(a)
        shapes = ([(U, 2 * U), (U, U), (2 * U, U)] if a.cell == "gru" and not a.reset_after
                  else [(U, G), (G, U)])
        if op.needs_dx and (G, a.F) not in shapes:     # dx = dz W^T, a block of rows at a time
            shapes.append((G, a.F))
        return [(f"rnn_rows_{K}x{N}", lambda K=K, N=N: ctx.render_shared("rnn_rows.c.j2", K=K, N=N))
                for K, N in shapes]

    def render(self, op, ctx):
        a = op.attrs
        cell = {"lstm": "LSTM", "gru": "GRU", "simple": "SimpleRNN"}[a.cell]
        return ctx.render(self.template, op, name=f"{cell} of {a.T} steps, {a.F} features -> {a.U} units",
                          has_bias="bias" in op.params, needs_dx=op.needs_dx, saved_gates=saves_gates(a),
                          **asdict(op.attrs), **ctx.gemm)


def _rnn_rate(rate):
    return float(rate) if 0.0 < rate < 1.0 else 0.0


def rnn_parts(b, layer, cfg, x, role_prefix="", stream=None, zero_masked_output=False):
    """The parameters (Keras's order; roles `role_prefix` + kernel, recurrent_kernel, bias),
    the attributes and the output shape of one recurrent layer of config `cfg` on input `x`:
    LSTM/GRU/SimpleRNN lower with it, and Bidirectional once per direction."""
    cell = cfg["cell"]
    if len(x.shape) != 2:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}) expects inputs of shape (batch, timesteps, features), "
                        f"got {fmt(x.shape)}", layer.loc)
    ract = cfg.get("recurrent_activation", "sigmoid")
    for what, name in (("activation", cfg["activation"]), ("recurrent_activation", ract)):
        if activations.get(name).kind != "elementwise":
            raise SeqcError(f"layer {layer.name!r}: {what}={name!r} is not supported in a recurrent cell", layer.loc)
    if cfg["stateful"] and not b.spec.batch_size:
        raise SeqcError(f"layer {layer.name!r}: a stateful RNN needs a fixed batch size: give the first layer "
                        "`batch_input_shape=(batch, timesteps, features)` or `batch_size=`", layer.loc)
    T, F = x.shape
    u = cfg["units"]
    g = GATES[cell] * u
    params = {"kernel": b.param(layer, role_prefix + "kernel", (F, g), cfg["kernel_initializer"]),
              "recurrent_kernel": b.param(layer, role_prefix + "recurrent_kernel", (u, g),
                                          cfg["recurrent_initializer"])}
    reset_after = cell == "gru" and cfg.get("reset_after", True)   # GRU: input and recurrent bias rows
    if cfg["use_bias"]:
        init = cfg["bias_initializer"]
        if cell == "lstm" and cfg["unit_forget_bias"]:
            if init is None:           # Keras calls it to build the forget gate's ones: a TypeError there
                raise SeqcError(f"layer {layer.name!r} (LSTM): unit_forget_bias=True needs a bias_initializer; "
                                "got None", layer.loc)
            init = {"class_name": "UnitForgetBias", "config": {"base": init, "units": u}}
        params["bias"] = b.param(layer, role_prefix + "bias", (2, g) if reset_after else (g,), init)
    out = (T, u) if cfg["return_sequences"] else (u,)
    if stream is None:
        stream = next_stream(b)
    attrs = RecurrentAttrs(
        cell=cell, T=T, F=F, U=u, act=cfg["activation"], ract=ract, return_sequences=cfg["return_sequences"],
        go_backwards=cfg["go_backwards"], stateful=cfg["stateful"],
        # Keras applies a dropout rate r only when 0 < r < 1; each layer has two random streams
        dropout=_rnn_rate(cfg.get("dropout", 0.0)), recurrent_dropout=_rnn_rate(cfg.get("recurrent_dropout", 0.0)),
        stream=stream, reset_after=cfg.get("reset_after", True), masked=b.mask is not None,
        zero_masked_output=zero_masked_output and b.mask is not None)
    return params, attrs, out


def next_stream(b):
    """The first of the next recurrent cell's two random streams (a Bidirectional has two cells)."""
    return 1000 + 2 * sum(getattr(o.attrs, "cells", 1) for o in b.ops if o.kind in ("rnn", "bidirectional"))


def _lower_rnn(b, layer, x):
    params, attrs, out = rnn_parts(b, layer, layer.config, x)
    y = b.op("rnn", layer, x, out, params, attrs, extra_inputs=(b.mask,) if attrs.masked else ())
    if not attrs.return_sequences:      # the mask goes on with the sequence, and ends without it (Keras)
        b.mask = None
    return y


_lower_rnn.supports_masking = True
lower_LSTM = lower_GRU = lower_SimpleRNN = _lower_rnn
