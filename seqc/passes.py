"""Graph passes: fusion, the backward schedule and memory planning.

fuse_activations   Dense(linear) + elementwise Activation -> one dense op with the activation
                   in its GEMM epilogue.
fuse_loss          a final softmax (sigmoid) + categorical (binary) cross-entropy computed on
                   probabilities -> one kernel whose backward is the exact `p - y` form, so the
                   activation's own backward is skipped.
plan_backward      which ops must propagate a gradient to their input, and which saved values
                   (pre-activations) each backward needs.
plan_memory        one arena for activations, gradients and scratch: every buffer gets an
                   offset from its live range over the step schedule (first-fit).
plan_sparse_update whether the Embedding's gradient and optimizer update in seqc_train follow
                   only the rows a batch uses (with a lazy catch-up of the other rows' g = 0
                   steps), or stay dense.
"""
import dataclasses

from . import activations
from .ops import kind_of


def fuse_activations(graph):
    ops = []
    for op in graph.ops:
        prev = ops[-1] if ops else None
        if (kind_of(op).is_activation and prev is not None and kind_of(prev).activation_epilogue
                and prev.attrs.act == "linear" and activations.get(op.attrs.act).kind == "elementwise"
                and prev.steps == op.steps):
            prev.attrs = dataclasses.replace(prev.attrs, act=op.attrs.act)
            prev.output = op.output
            graph.fused.append(f"{prev.name} + {op.name}: {prev.kind} with {op.attrs.act} epilogue")
            continue
        ops.append(op)
    graph.ops = ops
    for op in ops:
        if kind_of(op).activation_epilogue and op.attrs.act != "linear" and \
                not any(note.startswith(op.name + " +") for note in graph.fused):
            graph.fused.append(f"{op.name}: {op.kind} + bias + {op.attrs.act} in one kernel")
    return graph


_FUSABLE = {("softmax", "categorical_crossentropy"): "softmax_xent",
            ("softmax", "sparse_categorical_crossentropy"): "softmax_xent",
            ("sigmoid", "binary_crossentropy"): "sigmoid_xent"}


def fuse_loss(graph):
    """Mark a final softmax/sigmoid + cross-entropy on probabilities for the fused kernel."""
    loss = graph.loss
    if loss is None or not graph.ops or loss.options.get("from_logits") or loss.options.get("label_smoothing"):
        return graph
    if loss.options.get("ignore_class") is not None or graph.output_mask is not None:
        return graph
    last = graph.ops[-1]
    if any(t is last.output for t, *_ in graph.activity):   # its activity penalty needs d/d(output)
        return graph
    kind = kind_of(last)
    act = last.attrs.act if kind.activation_epilogue or kind.is_activation else None
    fused = _FUSABLE.get((act, getattr(loss, "builtin", None)))
    if fused is None:
        return graph
    loss.fused = fused
    last.grad_is_pre = True
    graph.fused.append(f"{last.name} {act} + {loss.name}: fused loss, backward p - y")
    return graph


def plan_backward(graph):
    for op in graph.ops:
        op.needs_dx = op.inputs[0].name != "input"     # not the model's input (a mask op may come first)
        if kind_of(op).saves_pre_activation:
            act = activations.get(op.attrs.act)
            op.save_pre = (not op.grad_is_pre) and "x" in act.grad_needs and act.name != "linear"
        else:
            op.save_pre = False
    return graph


class Buffer:
    """One buffer of the arena: `key` is (owner, role), owner the C name of the op that writes
    it (or 'input', 'y_true', 'scratch'); `size` floats per batch row; live over [start, end]."""

    def __init__(self, key, size, start, end):
        self.key, self.size, self.start, self.end = key, size, start, end
        self.offset = None


def owners(graph):
    """{tensor name: the C name of the op that writes it}; the model's input is 'input'.
    A Flatten or Reshape names the same buffer, so its tensor keeps its source's name."""
    out = {"input": "input"}
    for op in graph.ops:
        out[op.output.name] = op.cname
    return out


def value_key(graph, tensor, _owners=None):
    owner = (_owners or owners(graph))[tensor.name]
    return (owner, None) if owner == "input" else (owner, "out")


def grad_key(graph, tensor, _owners=None):
    """The buffer of dL/d(tensor). When the fused loss writes the gradient of a final
    activation's input (grad_is_pre), that activation passes it through: its output's
    gradient and its input's are one buffer, so no copy runs between them."""
    own = _owners or owners(graph)
    for op in graph.ops:
        if op.output.name == tensor.name and op.grad_is_pre and kind_of(op).is_activation:
            return grad_key(graph, op.inputs[0], own)
    return (own[tensor.name], "dout")


ARENA_ALIGN = 16      # floats: 64 bytes, the arena base's alignment (model.c.j2's alloc_floats)


def align_up(n):
    """n floats rounded up to a whole number of ARENA_ALIGN blocks."""
    return -(-n // ARENA_ALIGN) * ARENA_ALIGN


def plan_memory(graph, scratch_size):
    """Offsets (in floats per batch row) for every buffer; returns ({key: Buffer}, total).

    The schedule: forward op i at time i, backward op i at time 2n-1-i, loss at time n.
    Sizes are per batch row; the arena holds max_batch rows of each.
    """
    n = len(graph.ops)
    own = owners(graph)
    bufs = {}

    def use(key, size, t):
        if key not in bufs:
            bufs[key] = Buffer(key, size, t, t)
        b = bufs[key]
        b.start, b.end = min(b.start, t), max(b.end, t)
        b.size = max(b.size, size)        # a reshaped alias may name the buffer with its whole shape

    def value(t):
        return value_key(graph, t, own)

    def grad(t):
        return grad_key(graph, t, own)

    use(("input", None), graph.input.size, -1)
    use(("y_true", None), max(1, _prod(graph.y_shape or (1,))), -1)
    for i, op in enumerate(graph.ops):
        x, y = op.inputs[0], op.output
        xs, ys = x.size * op.steps, y.size * op.steps     # floats per batch row
        tb = 2 * n - 1 - i                 # backward of op i
        use(value(x), xs, i)
        use(value(y), ys, i)
        for extra in op.inputs[1:]:        # a mask: read by the forward and the backward
            use(value(extra), extra.size, i)
            use(value(extra), extra.size, tb)
        for b in kind_of(op).buffers(op):
            use((op.cname, b.role), b.size * op.steps, i if b.saved else tb)
            use((op.cname, b.role), b.size * op.steps, tb)
        use(grad(y), ys, tb)               # read (or written by the loss, for the last op)
        use(value(x), xs, tb)              # e.g. the dense backward reads its input
        use(value(y), ys, tb)              # e.g. the activation backward reads its output
        if op.needs_dx:
            use(grad(x), xs, tb)
    out = graph.output                     # (the input itself in a model of reshapes alone)
    use(grad(out), out.size, n)
    use(value(out), out.size, n)
    use(("y_true", None), 1, n)
    if graph.output_mask is not None:      # the loss reads the output's mask
        use(value(graph.output_mask), graph.output_mask.size, n)
    use(("scratch", None), scratch_size, n)
    # input and labels are written before the step and read by the loss/metrics: live throughout
    for key in (("input", None), ("y_true", None)):
        bufs[key].start, bufs[key].end = -1, 2 * n
    # Each buffer takes a whole number of ARENA_ALIGN-float blocks per row (align_up), so every
    # offset (times any batch size) is a multiple of them: on the arena's 64-byte-aligned base,
    # every buffer starts on a cache line and a 512-bit vector boundary.
    placed = []
    for b in sorted(bufs.values(), key=lambda b: (-b.size, str(b.key))):
        offset = 0
        for other in sorted(placed, key=lambda o: o.offset):
            overlap = not (b.end < other.start or other.end < b.start)
            other_end = other.offset + align_up(other.size)
            if overlap and offset + align_up(b.size) > other.offset and other_end > offset:
                offset = other_end
        b.offset = offset
        placed.append(b)
    total = max((b.offset + align_up(b.size) for b in placed), default=0)
    return bufs, total


def state_layout(graph):
    """Where each stateful layer keeps its state in the model's `state` array:
    {layer name: (offset, floats)}; a recurrent layer's is h then (LSTM) c, each (batch, units)."""
    out, offset = {}, 0
    for op in graph.ops:
        size = kind_of(op).state_floats(op, graph.batch_size)
        if size:
            out[op.name] = (offset, size)
            offset += size
    return out


def _prod(shape):
    out = 1
    for d in shape:
        out *= d
    return out


# Optimizers whose zero-gradient step has a closed form over k steps that does not depend on
# the learning rate or the step number (see the catch_up_row of each optim_<kind>.c.j2):
#   SGD: w unchanged; with momentum, m decays by mu^k and w moves by a geometric sum.
#   Adagrad: nothing changes.  RMSprop: v (and the centered average) decay by rho^k; with
#   momentum, the momentum decays and w moves by a geometric sum.  Adadelta: both accumulators
#   decay by rho^k, w does not move.
# Not Adamax, Nadam, Lion, Ftrl (their g = 0 step moves w by an amount depending on the step's
# learning rate and number), nor Adam: its g = 0 step still moves w by alpha_t m / (sqrt(v) + eps), with alpha_t depending
# on the step's learning rate and bias correction and eps keeping the sum from a closed form.
# Not with weight_decay: every row shrinks by lr_t * wd each step, with lr_t from the schedule
# (or set by a callback between steps).
SPARSE_OPTIMIZERS = ("sgd", "rmsprop", "adagrad", "adadelta")


def plan_sparse_update(graph, enabled=True):
    """Set graph.sparse_update to {'op', 'param'} for an Embedding whose training update
    follows the rows used, or to None; graph.sparse_reason says why ('sparse' when it is)."""
    graph.sparse_update = None
    emb = next((op for op in graph.ops if kind_of(op).sparse_rows_param), None)
    if emb is None:
        graph.sparse_reason = "no Embedding"
        return graph
    param = emb.params[kind_of(emb).sparse_rows_param]
    kind = (graph.optimizer or {}).get("kind", "").lower()
    cfg = (graph.optimizer or {}).get("config", {})
    if not enabled:
        graph.sparse_reason = "dense path forced (sparse_embedding=False)"
    elif not param.trainable:
        graph.sparse_reason = "the embeddings are not trainable"
    elif kind not in SPARSE_OPTIMIZERS:
        graph.sparse_reason = (f"{graph.optimizer['kind']}: a zero-gradient step still moves the weights by an "
                               "amount that depends on the step's learning rate (no closed form): dense update")
    elif cfg.get("weight_decay"):
        graph.sparse_reason = "weight_decay shrinks every row each step by lr_t * wd: dense update"
    elif param.regularizer or param.constraint:
        graph.sparse_reason = ("embeddings_regularizer / embeddings_constraint touch every row each step: "
                               "dense update")
    else:
        graph.sparse_reason = "sparse"
        graph.sparse_update = {"op": emb, "param": param}
    return graph


def run_passes(graph, sparse_embedding=True):
    fuse_activations(graph)
    fuse_loss(graph)
    plan_backward(graph)
    plan_sparse_update(graph, sparse_embedding)
    return graph
