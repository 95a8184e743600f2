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
from . import activations
from .ir import Op


def fuse_activations(graph):
    ops = []
    for op in graph.ops:
        prev = ops[-1] if ops else None
        if (op.kind == "activation" and prev is not None and prev.kind in ("dense", "conv")
                and prev.attrs["act"] == "linear" and activations.get(op.attrs["act"]).kind == "elementwise"):
            prev.attrs["act"] = op.attrs["act"]
            prev.output = op.output
            graph.fused.append(f"{prev.name} + {op.name}: {prev.kind} with {op.attrs['act']} epilogue")
            continue
        ops.append(op)
    graph.ops = ops
    for op in ops:
        if op.kind in ("dense", "conv") and op.attrs["act"] != "linear" and \
                not any(note.startswith(op.name + " +") for note in graph.fused):
            graph.fused.append(f"{op.name}: {op.kind} + bias + {op.attrs['act']} in one kernel")
    return graph


_FUSABLE = {("softmax", "categorical_crossentropy"): "softmax_xent",
            ("softmax", "sparse_categorical_crossentropy"): "softmax_xent",
            ("sigmoid", "binary_crossentropy"): "sigmoid_xent"}


def fuse_loss(graph):
    """Mark a final softmax/sigmoid + cross-entropy on probabilities for the fused kernel."""
    loss = graph.loss
    if loss is None or not graph.ops or loss.options.get("from_logits") or loss.options.get("label_smoothing"):
        return graph
    if loss.options.get("ignore_class") is not None:
        return graph
    last = graph.ops[-1]
    act = last.attrs.get("act") if last.kind in ("dense", "conv", "activation") else None
    kind = _FUSABLE.get((act, getattr(loss, "builtin", None)))
    if kind is None:
        return graph
    loss.fused = kind
    last.grad_is_pre = True
    graph.fused.append(f"{last.name} {act} + {loss.name}: fused loss, backward p - y")
    return graph


def plan_backward(graph):
    for i, op in enumerate(graph.ops):
        op.needs_dx = i > 0
        if op.kind in ("dense", "conv"):
            act = activations.get(op.attrs["act"])
            op.save_pre = (not op.grad_is_pre) and "x" in act.grad_needs and act.name != "linear"
        else:
            op.save_pre = False
    return graph


class Buffer:
    def __init__(self, name, size, start, end):
        self.name, self.size, self.start, self.end = name, size, start, end
        self.offset = None


def plan_memory(graph, scratch_size):
    """Offsets (in floats per batch row) for every buffer; returns (buffers by name, total).

    The schedule: forward op i at time i, backward op i at time 2n-1-i, loss at time n.
    Sizes are per batch row; the arena holds max_batch rows of each.
    """
    n = len(graph.ops)
    bufs = {}

    def use(name, size, t):
        if name not in bufs:
            bufs[name] = Buffer(name, size, t, t)
        b = bufs[name]
        b.start, b.end = min(b.start, t), max(b.end, t)

    use("input", graph.input.size, -1)
    use("y_true", max(1, _prod(graph.y_shape or (1,))), -1)
    for i, op in enumerate(graph.ops):
        x, y = op.inputs[0], op.output
        use(x.name, x.size, i)
        use(y.name, y.size, i)
        if op.save_pre:
            use(y.name + "_pre", y.size, i)
        if op.kind == "dropout":         # the mask, kept for the backward pass
            use(y.name + "_mask", y.size, i)
            use(y.name + "_mask", y.size, 2 * n - 1 - i)
        for suffix, size, saved in op_buffers(op):
            use(y.name + suffix, size, i if saved else 2 * n - 1 - i)
            use(y.name + suffix, size, 2 * n - 1 - i)
        tb = 2 * n - 1 - i                 # backward of op i
        use(y.name + "_grad", y.size, tb)  # read (or written by the loss, for the last op)
        use(x.name, x.size, tb)            # dense backward reads its input
        use(y.name, y.size, tb)            # activation backward reads its output
        if op.save_pre:
            use(y.name + "_pre", y.size, tb)
        if op.needs_dx:
            use(x.name + "_grad", x.size, tb)
    if graph.ops:
        out = graph.output
        use(out.name + "_grad", out.size, n)
        use(out.name, out.size, n)
        use("y_true", 1, n)
    use("scratch", scratch_size, n)
    # input and labels are written before the step and read by the loss/metrics: live throughout
    for name in ("input", "y_true"):
        bufs[name].start, bufs[name].end = -1, 2 * n
    placed = []
    for b in sorted(bufs.values(), key=lambda b: (-b.size, b.name)):
        offset = 0
        for other in sorted(placed, key=lambda o: o.offset):
            overlap = not (b.end < other.start or other.end < b.start)
            if overlap and offset + b.size > other.offset and other.offset + other.size > offset:
                offset = other.offset + other.size
        b.offset = offset
        placed.append(b)
    total = max((b.offset + b.size for b in placed), default=0)
    return bufs, total


def op_buffers(op):
    """Extra per-sample buffers of an op: (suffix, floats per sample, kept from forward)."""
    if op.kind == "rnn":
        a = op.attrs
        T, F, U, cell = a["T"], a["F"], a["U"], a["cell"]
        G = {"lstm": 4, "gru": 3, "simple": 1}[cell] * U
        bufs = [("_z", T * G, True), ("_hp", T * U, True),      # pre-activations, h entering each step
                ("_dz", T * G, False), ("_dh", U, False), ("_dh2", U, False)]
        if cell == "lstm":    # the cell state entering each step, and its gradient
            bufs += [("_cp", T * U, True), ("_dc", U, False)]
        if cell == "gru" and a["reset_after"]:   # h U + b[1] (multiplied by r) and its gradient
            bufs += [("_hu", T * G, True), ("_dhu", T * G, False)]
        elif cell == "gru":   # reset_after=False: r h' (U_h multiplies it), kept for dU
            bufs += [("_hu", T * U, True)]
        if a["dropout"]:                 # the masked input and the mask
            bufs += [("_xd", T * F, True), ("_dmask", F, True)]
        if a["recurrent_dropout"]:       # the masked state entering each step and the mask
            bufs += [("_hm", T * U, True), ("_rmask", U, True)]
        return bufs
    return []


def state_layout(graph):
    """Where each stateful recurrent layer keeps its state in the model's `state` array:
    {layer name: (offset, floats)}, h then (LSTM) c, each (batch, units)."""
    out, offset = {}, 0
    for op in graph.ops:
        if op.kind == "rnn" and op.attrs["stateful"]:
            size = (2 if op.attrs["cell"] == "lstm" else 1) * graph.batch_size * op.attrs["U"]
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
#   momentum, the momentum decays and w moves by a geometric sum.
# Not Adam: its g = 0 step still moves w by alpha_t m / (sqrt(v) + eps), with alpha_t depending
# on the step's learning rate and bias correction and eps keeping the sum from a closed form.
# Not with weight_decay: every row shrinks by lr_t * wd each step, with lr_t from the schedule
# (or set by a callback between steps).
SPARSE_OPTIMIZERS = ("sgd", "rmsprop", "adagrad")


def plan_sparse_update(graph, enabled=True):
    """Set graph.sparse_update to {'op', 'param'} for an Embedding whose training update
    follows the rows used, or to None; graph.sparse_reason says why ('sparse' when it is)."""
    graph.sparse_update = None
    emb = next((op for op in graph.ops if op.kind == "embedding"), None)
    if emb is None:
        graph.sparse_reason = "no Embedding"
        return graph
    param = emb.params["embeddings"]
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
