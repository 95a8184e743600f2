"""Lowering: ModelSpec -> Graph, with shape inference.

Each layer kind has one `lower_<kind>` function: it checks the incoming shape, creates the
layer's parameters (Keras's order, shapes and initializers) and appends ops. Errors name the
layer and the source line where the user wrote it.
"""
import math

from . import activations
from . import trace
from .errors import SeqcError
from .ir import Graph, LossFn, Op, Param, Tensor


class _Builder:
    def __init__(self, spec):
        self.spec = spec
        self.ops = []
        self.params = []
        self.rows = []
        self.fused = []
        self.count = 0

    def tensor(self, shape):
        self.count += 1
        return Tensor(f"t{self.count}", tuple(shape))

    def param(self, layer, role, shape, init):
        p = Param(f"{layer.name}/{role}", tuple(shape), init, trainable=layer.config.get("trainable", True),
                  c_id=f"{self.cnames[id(layer)]}_{role}")
        self.params.append(p)
        return p

    def op(self, kind, layer, x, out_shape, params=None, **attrs):
        y = self.tensor(out_shape)
        self.ops.append(Op(kind, layer.name, [x], y, params or {}, attrs, loc=layer.loc,
                           cname=self.cnames[id(layer)]))
        return y


def _fmt(shape):
    return "(None, " + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def lower_Dense(b, layer, x):
    cfg = layer.config
    if len(x.shape) < 1:
        raise SeqcError(f"layer {layer.name!r} (Dense) needs an input with a feature axis, got {_fmt(x.shape)}",
                        layer.loc)
    k, n = x.shape[-1], cfg["units"]
    params = {"kernel": b.param(layer, "kernel", (k, n), cfg["kernel_initializer"])}
    if cfg["use_bias"]:
        params["bias"] = b.param(layer, "bias", (n,), cfg["bias_initializer"])
    act = activations.get(cfg["activation"])
    if act.kind == "elementwise":
        return b.op("dense", layer, x, x.shape[:-1] + (n,), params, act=act.name)
    z = b.op("dense", layer, x, x.shape[:-1] + (n,), params, act="linear")
    return b.op("activation", layer, z, z.shape[:-1] + (act.out_dim(n),), act=act.name)


def lower_Activation(b, layer, x):
    act = activations.get(layer.config["activation"])
    if act.name == "glu" and x.shape[-1] % 2:
        raise SeqcError(f"layer {layer.name!r}: glu needs an even last dimension, got {x.shape[-1]}", layer.loc)
    return b.op("activation", layer, x, x.shape[:-1] + (act.out_dim(x.shape[-1]),), act=act.name)


def lower_Dropout(b, layer, x):
    if layer.config["rate"] == 0:
        return x
    return b.op("dropout", layer, x, x.shape, rate=layer.config["rate"], seed=layer.config["seed"],
                stream=sum(1 for o in b.ops if o.kind == "dropout"))


def lower_InputLayer(b, layer, x):
    return x


# --- convolution and pooling: Keras's output-size arithmetic ----------------------------------
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


def _spatial(b, layer, x, rank):
    """(H, W, C) of the input seen as 2-D (a 1-D input is H = 1)."""
    want = rank + 1
    if len(x.shape) != want:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}) expects inputs of rank {want + 1} "
                        f"(batch, {'steps' if rank == 1 else 'rows, cols'}, channels), got {_fmt(x.shape)}",
                        layer.loc)
    return (1,) + tuple(x.shape) if rank == 1 else tuple(x.shape)


def _window(layer, x_shape, rank, kernel, strides, dilation, padding, what):
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
    return dict(H=H, W=W, C=C, OH=oh, OW=ow, KH=kernel[0], KW=kernel[1], SH=strides[0], SW=strides[1],
                DH=dilation[0], DW=dilation[1], PT=pt, PL=pl)


def _lower_conv(b, layer, x):
    cfg = layer.config
    rank = cfg["rank"]
    geo = _window(layer, _spatial(b, layer, x, rank), rank, cfg["kernel_size"], cfg["strides"],
                  cfg["dilation_rate"], cfg["padding"], "kernel")
    f = cfg["filters"]
    params = {"kernel": b.param(layer, "kernel", tuple(cfg["kernel_size"]) + (geo["C"], f), cfg["kernel_initializer"])}
    if cfg["use_bias"]:
        params["bias"] = b.param(layer, "bias", (f,), cfg["bias_initializer"])
    out = (geo["OW"], f) if rank == 1 else (geo["OH"], geo["OW"], f)
    act = activations.get(cfg["activation"])
    if act.kind == "elementwise":
        return b.op("conv", layer, x, out, params, act=act.name, F=f, **geo)
    z = b.op("conv", layer, x, out, params, act="linear", F=f, **geo)
    return b.op("activation", layer, z, out[:-1] + (act.out_dim(f),), act=act.name)


lower_Conv1D = lower_Conv2D = _lower_conv


def _lower_pool(b, layer, x):
    cfg = layer.config
    rank = cfg["rank"]
    geo = _window(layer, _spatial(b, layer, x, rank), rank, cfg["pool_size"], cfg["strides"], (1,) * rank,
                  cfg["padding"], "pool size")
    geo = {("PH" if k == "KH" else "PW" if k == "KW" else k): v for k, v in geo.items() if k not in ("DH", "DW")}
    out = (geo["OW"], geo["C"]) if rank == 1 else (geo["OH"], geo["OW"], geo["C"])
    mode = cfg["mode"]
    if mode == "avg" and cfg["padding"] == "same":
        # Keras 3.15 (torch backend): when some axis is padded unevenly, average pooling pads
        # by repeating edge values and divides by the whole window; otherwise it averages the
        # real cells only.
        totals = [(geo["OH"] - 1) * geo["SH"] + geo["PH"] - geo["H"], (geo["OW"] - 1) * geo["SW"] + geo["PW"] - geo["W"]]
        if any(t > 0 and t % 2 for t in totals):
            mode = "avg_replicate"
    return b.op("pool", layer, x, out, mode=mode, **geo)


lower_MaxPooling1D = lower_MaxPooling2D = lower_AveragePooling1D = lower_AveragePooling2D = _lower_pool


def _lower_global_pool(b, layer, x):
    cfg = layer.config
    shape = _spatial(b, layer, x, cfg["rank"])
    C = shape[-1]
    out = ((1,) * cfg["rank"] + (C,)) if cfg["keepdims"] else (C,)
    return b.op("global_pool", layer, x, out, mode=cfg["mode"], L=shape[0] * shape[1], C=C)


lower_GlobalAveragePooling1D = lower_GlobalAveragePooling2D = _lower_global_pool
lower_GlobalMaxPooling1D = lower_GlobalMaxPooling2D = _lower_global_pool


def _alias(x, shape):
    """A reshape costs nothing: the new tensor names the same buffer."""
    return Tensor(x.name, tuple(shape))


def lower_Flatten(b, layer, x):
    return _alias(x, (x.size,))


def lower_Reshape(b, layer, x):
    target = list(layer.config["target_shape"])
    if -1 in target:
        known = 1
        for d in target:
            if d != -1:
                known *= d
        if known == 0 or x.size % known:
            raise SeqcError(f"layer {layer.name!r} (Reshape): cannot reshape {_fmt(x.shape)} into "
                            f"{tuple(target)}", layer.loc)
        target[target.index(-1)] = x.size // known
    if math.prod(target) != x.size:
        raise SeqcError(f"layer {layer.name!r} (Reshape): total size of the new shape {tuple(target)} "
                        f"must equal that of the input {_fmt(x.shape)}", layer.loc)
    return _alias(x, target)


def lower_Embedding(b, layer, x):
    cfg = layer.config
    if len(x.shape) != 1:
        raise SeqcError(f"layer {layer.name!r} (Embedding) expects integer inputs of shape (batch, length), "
                        f"got {_fmt(x.shape)}", layer.loc)
    if b.ops:
        raise SeqcError(f"layer {layer.name!r}: seqc supports Embedding as the first layer only", layer.loc)
    emb = b.param(layer, "embeddings", (cfg["input_dim"], cfg["output_dim"]), cfg["embeddings_initializer"])
    b.index_range = cfg["input_dim"]
    return b.op("embedding", layer, x, (x.shape[0], cfg["output_dim"]), {"embeddings": emb},
                T=x.shape[0], V=cfg["input_dim"], E=cfg["output_dim"])


def _lower_rnn(b, layer, x):
    cfg = layer.config
    cell = cfg["cell"]
    if len(x.shape) != 2:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}) expects inputs of shape (batch, timesteps, features), "
                        f"got {_fmt(x.shape)}", layer.loc)
    ract = cfg.get("recurrent_activation", "sigmoid")
    for what, name in (("activation", cfg["activation"]), ("recurrent_activation", ract)):
        if activations.get(name).kind != "elementwise":
            raise SeqcError(f"layer {layer.name!r}: {what}={name!r} is not supported in a recurrent cell", layer.loc)
    if cfg["stateful"] and not b.spec.batch_size:
        raise SeqcError(f"layer {layer.name!r}: a stateful RNN needs a fixed batch size: give the first layer "
                        "`batch_input_shape=(batch, timesteps, features)` or `batch_size=`", layer.loc)
    T, F = x.shape
    u = cfg["units"]
    g = {"lstm": 4, "gru": 3, "simple": 1}[cell] * u
    params = {"kernel": b.param(layer, "kernel", (F, g), cfg["kernel_initializer"]),
              "recurrent_kernel": b.param(layer, "recurrent_kernel", (u, g), cfg["recurrent_initializer"])}
    if cfg["use_bias"]:
        init = cfg["bias_initializer"]
        if cell == "lstm" and cfg["unit_forget_bias"]:
            init = {"class_name": "UnitForgetBias", "config": {"base": init, "units": u}}
        reset_after = cell == "gru" and cfg.get("reset_after", True)   # GRU: input and recurrent bias rows
        params["bias"] = b.param(layer, "bias", (2, g) if reset_after else (g,), init)
    out = (T, u) if cfg["return_sequences"] else (u,)
    return b.op("rnn", layer, x, out, params, cell=cell, T=T, F=F, U=u, act=cfg["activation"], ract=ract,
                return_sequences=cfg["return_sequences"], go_backwards=cfg["go_backwards"],
                stateful=cfg["stateful"],
                # Keras applies a dropout rate r only when 0 < r < 1; each layer has two random streams
                dropout=_rnn_rate(cfg.get("dropout", 0.0)), recurrent_dropout=_rnn_rate(cfg.get("recurrent_dropout", 0.0)),
                stream=1000 + 2 * sum(1 for o in b.ops if o.kind == "rnn"),
                reset_after=cfg.get("reset_after", True))   # GRU only; True (unused) for the others


def _rnn_rate(rate):
    return float(rate) if 0.0 < rate < 1.0 else 0.0


lower_LSTM = lower_GRU = lower_SimpleRNN = _lower_rnn


def lower_ZeroPadding2D(b, layer, x):
    H, W, C = _spatial(b, layer, x, 2)
    (t, bm), (l, r) = layer.config["padding"]
    return b.op("pad2d", layer, x, (H + t + bm, W + l + r, C), H=H, W=W, C=C, T=t, L=l,
                OH=H + t + bm, OW=W + l + r)


LOWER = {name[len("lower_"):]: fn for name, fn in globals().items() if name.startswith("lower_")}


def c_names(layers):
    """Names for the generated C that do not depend on how many models the session built
    before: an auto-named layer is named as in a fresh session ('dense', 'dense_1', ... counted
    within this model), so an unchanged model gives the same C and hits the build cache."""
    counts, out = {}, {}
    for layer in layers:
        if layer.auto_name:
            base = _base_name(layer.name)
            n = counts.get(base, 0)
            counts[base] = n + 1
            out[id(layer)] = base if n == 0 else f"{base}_{n}"
        else:
            out[id(layer)] = "".join(c if c.isalnum() else "_" for c in layer.name)
    return out


def _base_name(name):
    head, _, tail = name.rpartition("_")
    return head if head and tail.isdigit() else name


def lower_model(spec):
    """Forward graph of a ModelSpec (no loss yet). Raises SeqcError naming layer and line."""
    if spec.input_shape is None:
        loc = spec.layers[0].loc if spec.layers else spec.loc
        raise SeqcError("the model's input shape is unknown: give the first layer `input_shape=`/`input_dim=` "
                        "or start with `Input(shape=...)`", loc)
    if any(d is None for d in spec.input_shape):
        raise SeqcError(f"input shape {spec.input_shape} has an open dimension; seqc needs it fixed for these "
                        "layers", spec.layers[0].loc if spec.layers else spec.loc)
    b = _Builder(spec)
    b.cnames = c_names(spec.layers)
    x = Tensor("input", tuple(spec.input_shape))
    rows, crows = [], []
    for layer in spec.layers:
        fn = LOWER.get(layer.kind)
        if fn is None:
            raise SeqcError(f"layer {layer.name!r}: {layer.kind} is not supported by seqc", layer.loc)
        n_before = len(b.params)
        x = fn(b, layer, x)
        if layer.kind != "InputLayer":
            rows.append((layer.name, layer.kind, x.shape, sum(p.size for p in b.params[n_before:])))
            crows.append(b.cnames[id(layer)])
    offset = 0
    for p in b.params:
        p.offset = offset
        offset += p.size
    g = Graph(spec.name, Tensor("input", tuple(spec.input_shape)), b.ops, b.params, batch_size=spec.batch_size)
    if g.ops:
        g.ops[0].inputs[0] = Tensor("input", g.ops[0].inputs[0].shape)
    g.out = x
    g.index_range = getattr(b, "index_range", None)
    g.layers = rows
    g.layer_cnames = crows
    return g


def default_y_shape(compile_spec, out_shape):
    """The label shape assumed at compile time; the runtime re-specialises if data differ."""
    if compile_spec.loss.builtin == "sparse_categorical_crossentropy":
        return tuple(out_shape[:-1]) + (1,)
    return tuple(out_shape)


def _trace(fn, fspec, y_shape, out_shape, what, options=None):
    try:
        if options:
            return trace.trace(lambda yt, yp: fn(yt, yp, **options), y_shape, out_shape, what)
        return trace.trace(fn, y_shape, out_shape, what)
    except (trace.TraceError, ValueError, TypeError) as e:
        raise SeqcError(f"{what}: {e}", fspec.loc) from None


def attach_training(graph, compile_spec, y_shape):
    """Trace loss and metrics for labels of per-sample shape `y_shape`."""
    from .keras import losses, metrics
    out = graph.output.shape
    y_shape = tuple(y_shape)
    graph.y_shape = y_shape
    graph.optimizer = {"kind": compile_spec.optimizer.kind, "config": dict(compile_spec.optimizer.config)}
    lspec = compile_spec.loss
    fn = losses.BUILTIN[lspec.builtin] if lspec.builtin else lspec.expr
    expr = _trace(fn, lspec, y_shape, out, f"loss {lspec.name!r}", lspec.options)
    # Keras's 'sum_over_batch_size' reduction: the mean of everything the function returns
    loss_scalar = trace.reduce("mean", expr, None) if expr.shape else expr
    graph.loss = LossFn(lspec.name, loss_scalar, per_sample=True, options=dict(lspec.options),
                        fused=None)
    graph.loss.builtin = lspec.builtin
    graph.metrics = []
    for m in compile_spec.metrics:
        fn = metrics.resolve(m, y_shape, out)
        e = _trace(fn, m, y_shape, out, f"metric {m.name!r}", m.options)
        if e.shape:    # per-sample values: mean over the non-batch axes, then over samples
            per_sample = True
            e = trace.reduce("mean", e, None)
        else:
            per_sample = False
        graph.metrics.append(LossFn(m.name, e, per_sample=per_sample))
    return graph
