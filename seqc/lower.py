"""Lowering: ModelSpec -> Graph, with shape inference.

Each layer kind has one `lower_<Layer>` function in its op module (seqc/ops, found through
`ops.LAYERS`): it checks the incoming shape, creates the layer's parameters (Keras's order,
shapes and initializers) and appends ops. Errors name the layer and the source line where the
user wrote it.
"""

import math

from . import initializers, ops, trace
from .errors import SeqcError
from .ir import Graph, LossFn, Op, Param, Tensor
from .spec import snake_case


class _Builder:
    def __init__(self, spec):
        self.spec = spec
        self.ops = []
        self.params = []
        self.rows = []
        self.fused = []
        self.count = 0
        self.mask = None         # the (timesteps,) mask the layers so far carry (Keras's _keras_mask), or None

    def tensor(self, shape):
        self.count += 1
        return Tensor(f"t{self.count}", tuple(shape))

    def param(self, layer, role, shape, init):
        if init is None:      # `bias_initializer=None`: Keras's add_weight takes glorot_uniform for a float weight
            init = initializers.get("glorot_uniform")
        reg = (layer.config.get("regularizers") or {}).get(role)
        con = (layer.config.get("constraints") or {}).get(role)
        if con is not None and "axis" in con:
            con = dict(con, blocks=_norm_blocks(layer, role, tuple(shape), con["axis"]))
        p = Param(f"{layer.name}/{role}", tuple(shape), init, trainable=layer.config.get("trainable", True),
                  layer=self.cnames[id(layer)], role=role, regularizer=reg, constraint=con)
        self.params.append(p)
        return p

    def op(self, kind, layer, x, out_shape, params, attrs, extra_inputs=()):
        """Append an op of `kind` (its attributes: the kind's frozen dataclass) writing a new
        tensor of `out_shape`; returns that tensor. `extra_inputs`: tensors it reads besides x
        (a mask), without a gradient."""
        y = self.tensor(out_shape)
        cname = self.cnames[id(layer)]
        if any(o.cname == cname for o in self.ops):   # a layer's second op: Dense then its softmax
            cname = f"{cname}_{getattr(attrs, 'act', kind)}"
        self.ops.append(Op(kind, layer.name, [x, *extra_inputs], y, params or {}, attrs, loc=layer.loc, cname=cname))
        return y


def _norm_blocks(layer, role, shape, axis):
    """A norm constraint's axes of a weight as (outer, reduced, inner) sizes: the axes must be
    consecutive (Keras's usual 0, or [0, 1, 2] for a convolution kernel)."""
    n = len(shape)
    axes = sorted({a % n if -n <= a < n else a for a in axis})
    if any(not 0 <= a < n for a in axes) or axes != list(range(axes[0], axes[-1] + 1)):
        raise SeqcError(f"layer {layer.name!r}: the constraint of its {role} (shape {shape}) takes its norms over "
                        f"axis={axis}; seqc supports valid, consecutive axes only", layer.loc)
    lo, hi = axes[0], axes[-1] + 1
    return (math.prod(shape[:lo]), math.prod(shape[lo:hi]), math.prod(shape[hi:]))


def c_names(layers):
    """The layers' names in the generated C: made by seqc from the layer class and its position
    ('dense', 'dense_1', 'conv2d', ... counted within this model, as Keras names a fresh
    session's layers), never from the user's name, which only needs to be unique as Keras
    requires: no user text becomes a C identifier, and an unchanged model gives the same C and
    hits the build cache however many models the session built before."""
    counts, out = {}, {}
    for layer in layers:
        base = snake_case(layer.kind)     # kinds are seqc's own (checked against ops.LAYERS)
        n = counts.get(base, 0)
        counts[base] = n + 1
        out[id(layer)] = base if n == 0 else f"{base}_{n}"
    return out


def lower_model(spec):
    """Forward graph of a ModelSpec (no loss yet). Raises SeqcError naming layer and line."""
    if spec.input_shape is None:
        loc = spec.layers[0].loc if spec.layers else spec.loc
        raise SeqcError("the model's input shape is unknown: give the first layer `input_shape=`/`input_dim=` "
                        "or start with `Input(shape=...)`", loc)
    if any(d is None for d in spec.input_shape):
        raise SeqcError(f"input shape {spec.input_shape} has an open dimension; seqc needs it fixed for these "
                        "layers", spec.layers[0].loc if spec.layers else spec.loc)
    for layer in spec.layers:
        if layer.kind not in ops.LAYERS:
            raise SeqcError(f"layer {layer.name!r}: {layer.kind} is not supported by seqc", layer.loc)
    b = _Builder(spec)
    b.cnames = c_names(spec.layers)
    x = Tensor("input", tuple(spec.input_shape))
    rows, crows, activity = [], [], []
    for layer in spec.layers:
        fn = ops.LAYERS[layer.kind]
        n_before = len(b.params)
        x = fn(b, layer, x)
        if not getattr(fn, "supports_masking", False):
            _drop_mask(b, layer)
        _check_sizes(layer, x, b.params[n_before:], sum(p.size for p in b.params))
        if layer.config.get("activity_regularizer"):
            activity.append((x, layer.config["activity_regularizer"], layer))
        if layer.kind != "InputLayer":
            rows.append((layer.name, layer.config.get("class_name", layer.kind), x.shape,
                         sum(p.size for p in b.params[n_before:])))
            crows.append(b.cnames[id(layer)])
    offset = 0
    for p in b.params:
        p.offset = offset
        offset += p.size
    g = Graph(spec.name, Tensor("input", tuple(spec.input_shape)), b.ops, b.params, batch_size=spec.batch_size)
    if g.ops:
        g.ops[0].inputs[0] = Tensor("input", g.ops[0].inputs[0].shape)
    g.out = x
    g.output_mask = b.mask
    g.index_range = getattr(b, "index_range", None)
    g.layers = rows
    g.layer_cnames = crows
    g.activity = activity
    return g


def _drop_mask(b, layer):
    """A layer that does not support masking ends the mask, with Keras's warning."""
    if b.mask is not None:
        import warnings
        warnings.warn(f"Layer '{layer.name}' (of type {layer.kind}) was passed an input with a mask attached to it. "
                      "However, this layer does not support masking and will therefore destroy the mask "
                      "information. Downstream layers will not see the mask.", UserWarning, stacklevel=2)
        b.mask = None


# The generated C indexes one weight or one sample's activations with 32-bit ints, and a model
# holds its weights, their gradients and the optimizer's slots in memory: sizes past these
# limits are refused before any C is generated.
MAX_ELEMENTS = 2 ** 31 - 1          # elements of one weight, of one sample's output
MAX_PARAMS = 2 ** 30                # all weights together (4 GiB of float32, times 2-4 copies)


def _check_sizes(layer, out, new_params, total_params):
    for p in new_params:
        if p.size > MAX_ELEMENTS:
            raise SeqcError(f"layer {layer.name!r} ({layer.kind}): its weight {p.name} of shape {p.shape} has "
                            f"{p.size:,} elements, more than seqc can build ({MAX_ELEMENTS:,})", layer.loc)
    if total_params > MAX_PARAMS:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}): the model reaches {total_params:,} parameters, "
                        f"more than seqc can hold in memory ({MAX_PARAMS:,})", layer.loc)
    if out.size > MAX_ELEMENTS:
        raise SeqcError(f"layer {layer.name!r} ({layer.kind}): its output of shape {out.shape} has {out.size:,} "
                        f"values per sample, more than seqc can build ({MAX_ELEMENTS:,})", layer.loc)


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


def _masked_mean(expr, mask, lspec):
    """Keras 3 applies the output's mask to the loss as sample weights (losses/loss.py
    apply_mask): the batch's loss is sum(loss * mask) / sum(mask), 0 when nothing is kept."""
    steps = mask.shape[0]
    if expr.shape != (trace.B, steps):
        raise SeqcError(f"loss {lspec.name!r}: the model's output carries a mask over {steps} timesteps, which "
                        f"seqc applies to a loss of one value per sample and step; this loss gives shape "
                        f"{trace._fmt(expr.shape)}", lspec.loc)
    m = trace.Expr("y_mask", (), (trace.B, steps))
    kept = trace.reduce("sum", m, None)
    return trace.reduce("sum", expr * m, None) / trace.binary("maximum", kept, 1.0)


FLOAT32_MAX = 3.4028234663852886e38


def _check_numbers(config, owner, loc, path=""):
    """Every number of an optimizer's settings (schedules included) is a finite float32: the C
    holds them as float constants. Anything else is the user's error, named with its line."""
    for key, value in config.items():
        if isinstance(value, dict):
            _check_numbers(value, owner, loc, f"{path}{key}.")
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        elif not isinstance(value, (int, float)) or not _finite32(value):
            raise SeqcError(f"{owner}: {path}{key}={_show(value)} is not a finite number", loc)


def _show(value):
    """A user's value in a message, short (an int of 10**5000 has no repr in Python 3.11)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"<an integer of {value.bit_length()} bits>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _finite32(value):
    try:
        return abs(float(value)) <= FLOAT32_MAX
    except OverflowError:      # an int too large for a float
        return False


def attach_training(graph, compile_spec, y_shape):
    """Trace loss and metrics for labels of per-sample shape `y_shape`."""
    from .keras import losses, metrics
    out = graph.output.shape
    y_shape = tuple(y_shape)
    graph.y_shape = y_shape
    optimizer = compile_spec.optimizer
    _check_numbers(optimizer.config, optimizer.kind, optimizer.loc or compile_spec.loc)
    graph.optimizer = {"kind": optimizer.kind, "config": dict(optimizer.config)}
    lspec = compile_spec.loss
    fn = losses.BUILTIN[lspec.builtin] if lspec.builtin else lspec.expr
    expr = _trace(fn, lspec, y_shape, out, f"loss {lspec.name!r}", lspec.options)
    if graph.output_mask is not None:
        loss_scalar = _masked_mean(expr, graph.output_mask, lspec)
    else:   # Keras's 'sum_over_batch_size' reduction: the mean of everything the function returns
        loss_scalar = trace.reduce("mean", expr, None) if expr.shape else expr
    graph.loss = LossFn(lspec.name, loss_scalar, per_sample=True, options=dict(lspec.options),
                        fused=None)
    graph.loss.builtin = lspec.builtin
    graph.metrics = []
    if graph.output_mask is not None and compile_spec.metrics:
        m = compile_spec.metrics[0]
        raise SeqcError(f"metric {m.name!r}: the model's output carries a mask (Keras weights metrics by it); "
                        "seqc does not support metrics on a masked output yet", m.loc or compile_spec.loc)
    for m in compile_spec.metrics:
        if m.stateful and m.stateful["kind"] in ("confusion", "top_k"):
            graph.metrics.append(_stateful_metric(m, y_shape, out, compile_spec))
            continue
        fn = metrics.resolve(m, y_shape, out)
        e = _trace(fn, m, y_shape, out, f"metric {m.name!r}", m.options)
        if e.shape:    # per-sample values: mean over the non-batch axes, then over samples
            per_sample = True
            e = trace.reduce("mean", e, None)
        else:
            per_sample = False
            if m.weighted:
                raise SeqcError(f"weighted_metrics: metric {m.name!r} returns one value per batch; "
                                "seqc weights metrics that return one value per sample", m.loc or compile_spec.loc)
        graph.metrics.append(LossFn(m.name, e, per_sample=per_sample, weighted=m.weighted, stateful=m.stateful))
    return graph


def _stateful_metric(m, y_shape, out, compile_spec):
    """A metric with its own kernel: confusion counts over labels shaped like the output, or a
    top-k accuracy over a vector of class scores."""
    st = dict(m.stateful)
    loc = m.loc or compile_spec.loc
    same = y_shape == out or y_shape == out + (1,) or y_shape + (1,) == out
    if st["kind"] == "confusion" and not same:
        raise SeqcError(f"metric {m.name!r} compares labels and predictions elementwise: labels of per-sample shape "
                        f"{y_shape} do not match the output {out}", loc)
    if st["kind"] == "top_k":
        if len(out) != 1:
            raise SeqcError(f"metric {m.name!r} needs a vector of class scores per sample, the output is {out}", loc)
        want = (1,) if st["sparse"] else out
        if math.prod(y_shape) != math.prod(want):
            raise SeqcError(f"metric {m.name!r} needs labels of per-sample shape {want}, got {y_shape}", loc)
        st["classes"] = out[0]
        if st["k"] > out[0]:
            raise SeqcError(f"metric {m.name!r}: k={st['k']} is more than the {out[0]} classes of the output "
                            "(Keras's top_k fails: selected index k out of range)", loc)
    return LossFn(m.name, None, per_sample=st["kind"] == "top_k", weighted=m.weighted, stateful=st)
