"""What every op kind declares, and the registry that maps IR kinds and Keras layers to them.

An op kind is a class with one instance in `KINDS`. It owns everything about that kind of op:

  lower_<Layer>(b, layer, x)   module-level functions: the shape rule and the parameters in
                               Keras's order (found by name: `LAYERS`)
  buffers(op)                  the per-sample buffers it needs besides its output and the output's
                               gradient: `Buf(role, floats, saved)`; `saved` ones are written by the
                               forward pass and read by the backward pass, the others are backward
                               scratch. The C names them `<layer>.<role>`.
  scratch(op, gemm)            shared scratch: `Scratch(work=floats per thread, wpack=floats,
                               tpack=floats per thread)`
  capability flags             read by the passes (fusion, backward planning), never `kind in (...)`
  forward_args / backward_args the kernel's parameters as `Arg(ctype, name, value)`: the C prototype
                               and the call site are both made from this one list, so a variant
                               declares exactly the parameters it uses
  render(op, ctx)              the kernel functions, from the kind's template
  shared_kernels(op, ctx)      helpers named by shape that ops of the model share (emitted once)

`ctx` (codegen.Context) names the C expressions of tensors, gradients, buffers and weights.
"""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Buf:
    role: str            # member of the layer's buffer struct: 'mask', 'z', ...
    size: int            # floats per sample
    saved: bool          # kept from the forward pass for the backward pass


@dataclass(frozen=True)
class Scratch:
    work: int = 0        # floats of per-thread scratch
    wpack: int = 0       # floats of weights packed into panels (shared, rewritten per call)
    tpack: int = 0       # floats of weights each thread packs for itself (read by it alone)


@dataclass(frozen=True)
class Arg:
    ctype: str           # 'const float *', 'int ', ...
    name: str            # the kernel's parameter name
    value: str           # the C expression at the call site


def prototype(args):
    return ", ".join(f"{a.ctype}{a.name}" for a in args)


def call(fn, args):
    """The call statement: `args` are Args (their values are passed) or C expressions."""
    return f"{fn}({', '.join(a if isinstance(a, str) else a.value for a in args)});"


def per_step(op, args):
    """The call's arguments for an op that runs on each of `op.steps` slices of a sample
    (TimeDistributed): its kernels see B * steps rows of one slice each."""
    if op.steps == 1:
        return args
    return [Arg(a.ctype, a.name, f"B * {op.steps}") if a.value == "B" else a for a in args]


def offsets(sizes):
    """{name: offset} for consecutive regions of the given sizes (zero sizes take no room),
    and the total: how a kind lays out its per-thread scratch, declared once as data."""
    out, total = {}, 0
    for name, size in sizes:
        out[name] = total
        total += size
    return out, total


class OpKind:
    kind = ""                    # the IR op kind
    template = ""                # seqc/templates/<template>
    # capabilities the passes ask
    activation_epilogue = False  # applies an elementwise activation to its output in place (fusion target)
    saves_pre_activation = False # may keep its pre-activation z for the activation's gradient
    is_activation = False        # a standalone activation (may be folded into the op before it)
    uses_gemm = False            # calls GEMM drivers (needs the packing buffers)
    uses_conv_kernels = False    # uses the direct-convolution micro-kernels of gemm.c.j2
    uses_team_size = False       # its parallel regions ask the team size (seqc_team_size)
    time_distributable = True    # may run on each slice of a sample with B * steps rows (TimeDistributed)
    sparse_rows_param = None     # the weight whose training update may follow the rows a batch uses

    def random(self, op):
        """Its kernels read `training` and the dropout `seed`."""
        return False

    def conv_kernels(self, op):
        """This op's C calls the direct-convolution micro-kernels (uses_conv_kernels, or per op)."""
        return self.uses_conv_kernels

    def reads_training(self, op):
        """Its forward kernel reads `training` (training and inference differ), without a seed."""
        return self.random(op)

    def buffers(self, op):
        return []

    def scratch(self, op, gemm):
        return Scratch()

    def state_floats(self, op, batch_size):
        """Floats of state carried across batches and calls (stateful layers)."""
        return 0

    def activations(self, op):
        """Activation functions (by name) its kernels call."""
        return set()

    def activation_grads(self, op):
        """Activation functions whose gradients its kernels call."""
        return self.activations(op)

    def forward_args(self, op, ctx):
        raise NotImplementedError

    def backward_args(self, op, ctx):
        """None when the op has no backward kernel (nothing to propagate, no weights)."""
        return None

    def loss_terms(self, op, ctx):
        """C expressions (float) the op adds to the loss of a batch (an activity penalty)."""
        return []

    def forward_call(self, op, ctx):
        return call(f"{ctx.fn(op)}_forward", per_step(op, self.forward_args(op, ctx)))

    def backward_call(self, op, ctx):
        args = self.backward_args(op, ctx)
        return None if args is None else call(f"{ctx.fn(op)}_backward", per_step(op, args))

    def kernel_name(self, op):
        """The name of the op's kernels: ops whose kernels render the same under one name share
        them (seqc's C name of the layer unless the kind names its kernels by shape)."""
        return op.cname

    def shared_kernels(self, op, ctx):
        """Kernels several ops may share, as [(function name, C)]: the model emits each name once."""
        return []

    def render(self, op, ctx):
        raise NotImplementedError


class Rearrange(OpKind):
    """An op without weights whose backward needs only dy (padding, cropping, repeating values;
    scaling them by constants): its kernels are forward(B, x, y) and, when it propagates a
    gradient, backward(B, dy, dx); its template gets its attributes."""

    def forward_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)), Arg("float *", "y", ctx.y(op))]

    def backward_args(self, op, ctx):
        if not op.needs_dx:
            return None
        return [Arg("int ", "B", "B"), Arg("const float *", "dy", ctx.dy(op)), Arg("float *", "dx", ctx.dx(op))]

    def render(self, op, ctx):
        return ctx.render(self.template, op, **asdict(op.attrs))


class Elementwise(OpKind):
    """An op whose backward reads its input: forward(B, x, y) and, when it propagates a
    gradient, backward(B, x, dy, dx)."""

    def forward_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)), Arg("float *", "y", ctx.y(op))]

    def backward_args(self, op, ctx):
        if not op.needs_dx:
            return None
        return [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)),
                Arg("const float *", "dy", ctx.dy(op)), Arg("float *", "dx", ctx.dx(op))]


KINDS = {}       # IR kind -> OpKind instance
LAYERS = {}      # Keras layer class name -> lowering function


def register(cls):
    """Class decorator: one instance per op kind."""
    KINDS[cls.kind] = cls()
    return cls


def register_layers(module):
    """A module's `lower_<Layer>` functions join LAYERS (seqc.ops imports every op module)."""
    for name, fn in vars(module).items():
        if name.startswith("lower_") and callable(fn):
            LAYERS[name[len("lower_"):]] = fn


def kind_of(op):
    return KINDS[op.kind]
