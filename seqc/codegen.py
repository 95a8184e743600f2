"""Code generation: a planned Graph -> one C translation unit and its header.

`generate` is a loop over the graph's ops asking each op's kind (seqc/ops) for its kernels,
its forward and backward calls and its scratch; `model.c.j2` lays out the constants, the
buffers, the arena and the entry points. Losses and metrics are expression graphs
(seqc.trace) emitted as loop nests by `emit_expr`.

No user text reaches the C as code: every value a template receives passes `c_value` (finite
numbers in range, C text seqc made itself, or plain text without quotes, comment delimiters,
'#' or line breaks), names only appear through `c_comment`, and every identifier in the C is
made by seqc (lower.c_names).
"""
import math
import numbers
import os
import re

import jinja2

from . import __version__, ops, passes, trace
from .ops.base import prototype

_TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


class CodegenError(Exception):
    """A value that must never reach the C did (a bug in seqc, not the user's error)."""


class CCode(str):
    """C text made by seqc (a rendered kernel, a call): passes `c_value` as it is."""


_PLAIN = re.compile(r"[A-Za-z0-9_ .,:;()\[\]{}*+\-/<>=!&|%^~?@$]*\Z")


def c_value(value):
    """The one formatter of every value that reaches a template: a finite number in range
    (floats as Python's shortest round-trip literal, to which templates add `f`), C text seqc
    made, or one line of plain text that cannot open a string, a comment or a directive."""
    if isinstance(value, CCode) or value is None:
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        if not -2 ** 62 < int(value) < 2 ** 62:
            raise CodegenError(f"integer out of range for the C: {int(value).bit_length()} bits")
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(float(value)) or abs(float(value)) > 3.4028234663852886e38:
            raise CodegenError(f"non-finite or out-of-range float reached the C: {float(value)!r}")
        return float(value)
    if isinstance(value, str):
        if not _PLAIN.match(value) or "/*" in value or "*/" in value or "//" in value:
            raise CodegenError(f"text that is not plain reached the C: {value[:60]!r}")
        return value
    if isinstance(value, dict):
        return {k: c_value(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        value = sorted(value)
    if isinstance(value, (list, tuple)):
        return type(value)(c_value(v) for v in value) if isinstance(value, list) else tuple(c_value(v) for v in value)
    raise CodegenError(f"a {type(value).__name__} reached the C templates")


def c_comment(text):
    """Any text (a layer's or a metric's name, a file name) made safe inside a C comment:
    printable ASCII only, no comment delimiters."""
    text = "".join(c if " " <= c <= "~" and c not in "\\\"'#`" else "?" for c in str(text)[:200])
    while "/*" in text or "*/" in text or "//" in text:
        text = text.replace("/*", "/ *").replace("*/", "* /").replace("//", "/ /")
    return text


def _finalize(value):
    """What `{{ ... }}` prints: floats as C-parsable literals, nothing non-finite."""
    if isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise CodegenError(f"non-finite float printed into the C: {value!r}")
        return repr(value)
    return value


_env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), undefined=jinja2.StrictUndefined,
                          trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True,
                          finalize=_finalize)

def _times(expr, n):
    """`expr * n` with the arithmetic folded here: `expr` alone when n is 1."""
    return str(expr) if n == 1 else f"{expr} * {n}"


_env.globals["times"] = _times

# The C API, shared by the header and cffi's cdef.
CDEF = """
typedef struct seqc_model seqc_model;
seqc_model *seqc_create(void);
void seqc_destroy(seqc_model *m);
int seqc_reserve(seqc_model *m, int max_batch);
void seqc_set_threads(seqc_model *m, int n);
int seqc_get_threads(seqc_model *m);
long seqc_num_params(void);
long seqc_num_slots(void);
float *seqc_params(seqc_model *m);
float *seqc_grads(seqc_model *m);
float *seqc_slots(seqc_model *m);
void seqc_reset_slots(seqc_model *m);
float seqc_get_lr(seqc_model *m);
void seqc_set_lr(seqc_model *m, float lr);
float seqc_current_lr(seqc_model *m);
int64_t seqc_get_iterations(seqc_model *m);
void seqc_set_iterations(seqc_model *m, int64_t it);
void seqc_set_seed(seqc_model *m, uint64_t seed);
int seqc_train(seqc_model *m, const float *x, const float *y, const int32_t *idx, long n, int batch, float *out);
int seqc_evaluate(seqc_model *m, const float *x, const float *y, const int32_t *idx, long n, int batch, float *out);
int seqc_predict(seqc_model *m, const float *x, long n, int batch, float *out);
float *seqc_input_rows(seqc_model *m);
const float *seqc_output_rows(seqc_model *m);
int seqc_predict_loaded(seqc_model *m, int B);
float seqc_gradients(seqc_model *m, const float *x, const float *y, int B, int training);
int seqc_train_weighted(seqc_model *m, const float *x, const float *y, const float *sw, const int32_t *idx, long n, int batch, float *out);
int seqc_evaluate_weighted(seqc_model *m, const float *x, const float *y, const float *sw, const int32_t *idx, long n, int batch, float *out);
float seqc_gradients_weighted(seqc_model *m, const float *x, const float *y, const float *sw, int B, int training);
void seqc_apply_gradients(seqc_model *m);
int seqc_shard_gradients(seqc_model *m, const float *x, const float *y, const int32_t *idx, int n, float scale);
void seqc_reset_states(seqc_model *m);
int seqc_reset_state_range(seqc_model *m, long offset, long n);
int seqc_get_state_range(seqc_model *m, long offset, long n, float *out);
void seqc_sync(seqc_model *m);
"""


def render(template, **ctx):
    """Render a template; every context value passes `c_value` first."""
    return _env.get_template(template).render(**{k: c_value(v) for k, v in ctx.items()})


def target_vector_floats(flags):
    """float lanes of the widest vector the flags target (decides the GEMM tile)."""
    from .build import target_features
    feats = target_features(flags)
    if "__AVX512F__" in feats and "-mprefer-vector-width=256" not in flags:
        return 16      # (the width measured to pay on this host: seqc/vectorwidth.py)
    if "__AVX__" in feats:
        return 8
    return 4


# --------------------------------------------------------------------------------------------
# expressions (losses, metrics)
# --------------------------------------------------------------------------------------------
def _dim(d):
    return "B" if d == trace.B else str(d)


def _size_terms(shape):
    """(a, b): the node holds a*B + b floats."""
    n = 1
    has_b = False
    for d in shape:
        if d == trace.B:
            has_b = True
        else:
            n *= d
    return (n, 0) if has_b else (0, n)


def _strides(shape):
    out, acc = [], "1"
    for d in reversed(shape):
        out.append(acc)
        acc = f"{acc} * {_dim(d)}" if acc != "1" else _dim(d)
    return list(reversed(out))


def _scaled(index, stride):
    return index if stride == "1" else f"{index} * {stride}"


def _scratch_at(a, b):
    """The C offset a*B + b into the expression scratch, folded."""
    parts = ([f"{a}L * B" if a != 1 else "B"] if a else []) + ([f"{b}L"] if b else [])
    return " + ".join(parts) or "0"


class _ExprEmitter:
    def __init__(self, roots):
        self.steps = []
        self.ref = {}          # id(node) -> ('ptr', cname) | ('scalar', cname) | ('inline', cexpr-fn)
        self.scratch_a = 0
        self.scratch_b = 0
        self.count = 0
        order = []
        seen = set()
        for r in roots:
            for n in trace.topo_order(r):
                if id(n) not in seen:
                    seen.add(id(n))
                    order.append(n)
        for n in order:
            self.emit(n)

    def alloc(self, node):
        self.count += 1
        name = f"e{self.count}"
        if node.shape == ():
            self.steps.append(f"    float {name};")
            self.ref[id(node)] = ("scalar", name)
            return name
        a, b = _size_terms(node.shape)
        self.steps.append(f"    float *{name} = scratch + {_scratch_at(self.scratch_a, self.scratch_b)};  "
                          f"/* {node.op} {trace._fmt(node.shape)} */")
        self.scratch_a += a
        self.scratch_b += b
        self.ref[id(node)] = ("ptr", name)
        return name

    def access(self, node, out_shape, idx):
        """C expression reading `node` at the output index variables `idx` (broadcasting)."""
        kind, val = self.ref[id(node)]
        if kind == "scalar":
            return val
        if kind == "inline":
            return val(node, out_shape, idx)
        lead = len(out_shape) - len(node.shape)
        strides = _strides(node.shape)
        terms = [_scaled(idx[k + lead], strides[k]) for k, d in enumerate(node.shape) if d != 1]
        return f"{val}[{' + '.join(terms) if terms else '0'}]"

    def loops(self, shape, body, indent="    "):
        idx = [f"i{k}" for k in range(len(shape))]
        lines, ind = [], indent
        for k, d in enumerate(shape):
            lines.append(f"{ind}for (long {idx[k]} = 0; {idx[k]} < {_dim(d)}; {idx[k]}++)")
            ind += "    "
        lines.append(ind + body(idx))
        return "\n".join(lines)

    def out_ref(self, name, shape, idx):
        if shape == ():
            return name
        strides = _strides(shape)
        return f"{name}[{' + '.join(_scaled(i, s) for i, s in zip(idx, strides))}]"

    def emit(self, n):
        op = n.op
        if op == "y_true":
            self.ref[id(n)] = ("ptr", "yt")
            return
        if op == "y_pred":
            self.ref[id(n)] = ("ptr", "yp")
            return
        if op == "y_mask":     # the mask the model's output carries (lower._masked_mean)
            self.ref[id(n)] = ("ptr", "ym")
            return
        if op == "const":
            v = n.attrs["value"]
            lit = "INFINITY" if v == math.inf else "(-INFINITY)" if v == -math.inf else "NAN" if v != v else f"{v!r}f"
            self.ref[id(n)] = ("scalar", lit if "e" in lit or "." in lit or "N" in lit else lit[:-1] + ".0f")
            return
        if op == "inv_batch":
            self.ref[id(n)] = ("scalar", "(1.f / (float)B)")
            return
        if op == "iota":
            self.ref[id(n)] = ("inline", lambda node, out_shape, idx: f"(float){idx[len(out_shape) - 1]}")
            return
        name = self.alloc(n)
        shape = n.shape
        if op in trace.UNARY or op in trace.BINARY or op in ("clip", "where", "broadcast"):
            args = [self.access(a, shape, [f"i{k}" for k in range(len(shape))]) for a in n.args]
            if op in trace.UNARY:
                expr = trace.UNARY[op].format(a=args[0])
            elif op in trace.BINARY:
                expr = trace.BINARY[op].format(a=args[0], b=args[1])
            elif op == "clip":
                expr = f"fminf(fmaxf({args[0]}, {args[1]}), {args[2]})"
            elif op == "where":
                expr = f"(({args[0]}) != 0.f ? ({args[1]}) : ({args[2]}))"
            else:
                expr = args[0]
            self.steps.append(self.loops(shape, lambda idx: f"{self.out_ref(name, shape, idx)} = {expr};"))
            return
        if op == "reshape":
            src = n.args[0]
            kind, val = self.ref[id(src)]
            if shape == ():
                self.steps.append(f"    {name} = {val if kind == 'scalar' else val + '[0]'};")
            elif kind == "scalar":
                self.steps.append(self.loops(shape, lambda idx: f"{self.out_ref(name, shape, idx)} = {val};"))
            else:
                cnt = " * ".join(_dim(d) for d in shape) or "1"
                self.steps.append(f"    memcpy({name}, {val}, sizeof(float) * (size_t)({cnt}));")
            return
        if op in trace.REDUCE:
            self.emit_reduce(n, name)
            return
        raise trace.TraceError(f"cannot emit op {op}")

    def emit_reduce(self, n, name):
        op, src = n.op, n.args[0]
        axes, keep = n.attrs["axis"], n.attrs["keepdims"]
        in_shape = src.shape
        idx = [f"i{k}" for k in range(len(in_shape))]
        kept = [k for k in range(len(in_shape)) if keep or k not in axes]
        out_idx = [("0" if k in axes else idx[k]) for k in kept]
        out_shape = n.shape
        dst = name if out_shape == () else None
        init = {"sum": "0.f", "mean": "0.f", "prod": "1.f", "max": "-INFINITY", "min": "INFINITY",
                "argmax": "0.f", "argmin": "0.f"}[op]
        count = " * ".join(_dim(in_shape[k]) for k in axes) or "1"
        lines = []
        total = " * ".join(_dim(d) for d in out_shape) or "1"
        target = (lambda: name) if dst else (lambda: self.out_ref(name, out_shape, out_idx))
        if op in ("argmax", "argmin"):
            self.count += 1
            best = f"e{self.count}_best"
            a, b = _size_terms(out_shape)
            lines.append(f"    float *{best} = scratch + {_scratch_at(self.scratch_a, self.scratch_b)};")
            self.scratch_a += a
            self.scratch_b += b
            if out_shape == ():
                lines.append(f"    {best}[0] = {'-INFINITY' if op == 'argmax' else 'INFINITY'}; {name} = 0.f;")
            else:
                lines.append(f"    for (long t = 0; t < {total}; t++) {{ {best}[t] = {'-INFINITY' if op == 'argmax' else 'INFINITY'}; {name}[t] = 0.f; }}")
            cmp = ">" if op == "argmax" else "<"
            a_idx = idx[axes[0]]
            bref = (f"{best}[0]" if out_shape == () else self.out_ref(best, out_shape, out_idx))
            body = (lambda _i: f"{{ const float v = {self.access(src, in_shape, idx)}; "
                               f"if (v {cmp} {bref}) {{ {bref} = v; {target()} = (float){a_idx}; }} }}")
            lines.append(self.loops(in_shape, body))
        else:
            if out_shape == ():
                lines.append(f"    {name} = {init};")
            else:
                lines.append(f"    for (long t = 0; t < {total}; t++) {name}[t] = {init};")
            upd = {"sum": "{t} += v;", "mean": "{t} += v;", "prod": "{t} *= v;",
                   "max": "{t} = v > {t} ? v : {t};", "min": "{t} = v < {t} ? v : {t};"}[op]
            body = lambda _i: f"{{ const float v = {self.access(src, in_shape, idx)}; {upd.format(t=target())} }}"
            lines.append(self.loops(in_shape, body))
            if op == "mean":
                if out_shape == ():
                    lines.append(f"    {name} /= (float)({count});")
                else:
                    lines.append(f"    for (long t = 0; t < {total}; t++) {name}[t] /= (float)({count});")
        self.steps.append("\n".join(lines))

    def value(self, node):
        kind, val = self.ref[id(node)]
        return val if kind == "scalar" else f"{val}[0]"


def emit_expr(fn, title, value, grad_of=None, y_pred_node=None):
    """Render one loss/metric function. Returns (C code, scratch floats per batch row + const,
    the parameters it declares: a subset of B, yt, yp, dyp, scratch in that order)."""
    roots = [value]
    g = None
    if grad_of is not None:
        g = trace.grad(value, y_pred_node)
        roots.append(g)
    em = _ExprEmitter(roots)
    steps = list(em.steps)
    if g is not None:
        kind, val = em.ref[id(g)]
        total = " * ".join(_dim(d) for d in g.shape) or "1"
        src = f"{val}[t]" if kind == "ptr" else val
        steps.append(f"    for (long t = 0; t < {total}; t++) dyp[t] = {src};")
    text = "\n".join(steps) + em.value(value)
    args = [a for a in ("B", "yt", "yp", "ym", "dyp", "scratch") if re.search(rf"\b{a}\b", text)]
    decl = {"B": "int B", "yt": "const float *yt", "yp": "const float *yp", "ym": "const float *ym",
            "dyp": "float *dyp", "scratch": "float *scratch"}
    code = render("expr.c.j2", fn=fn, title=c_comment(title), steps=[CCode(s) for s in steps],
                  result=CCode(em.value(value)), params=", ".join(decl[a] for a in args) or "void")
    return CCode(code), em.scratch_a + em.scratch_b, args


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
def _find_y_pred(expr):
    for n in trace.topo_order(expr):
        if n.op == "y_pred":
            return n
    return None


def member(key):
    """The C member of the model's buffer struct for a planned buffer key (owner, role)."""
    owner, role = key
    if role is None:
        return owner
    return f"{owner}_grad" if owner == "input" else f"{owner}.{role}"


class Context:
    """What an op kind needs to render its kernels and calls: the C expressions naming its
    tensors, gradients, buffers and weights in the model struct `m`, and the GEMM settings."""

    def __init__(self, graph, gemm, states):
        self.graph = graph
        self.gemm = gemm
        self._owners = passes.owners(graph)
        self._states = states
        self.kernel_fn = {}

    def fn(self, op):
        """The prefix of the op's kernel functions (generate settles it before any call is made)."""
        return self.kernel_fn[id(op)]

    def tensor(self, t):
        return "m->buf." + member(passes.value_key(self.graph, t, self._owners))

    def grad(self, t):
        return "m->buf." + member(passes.grad_key(self.graph, t, self._owners))

    def x(self, op):
        return self.tensor(op.inputs[0])

    def y(self, op):
        return self.tensor(op.output)

    def dx(self, op):
        return self.grad(op.inputs[0])

    def dy(self, op):
        return self.grad(op.output)

    def buf(self, op, role):
        return f"m->buf.{op.cname}.{role}"

    def w(self, op, role):
        p = op.params[role]
        return f"m->w.{p.layer}.{p.role}"

    def dw(self, op, role):
        p = op.params[role]
        return f"m->g.{p.layer}.{p.role}"

    def state(self, op):
        return f"m->state + {self._states[op.name][0]}L"

    def is_sparse(self, op):
        return self.graph.sparse_update is not None and self.graph.sparse_update["op"] is op

    def render_shared(self, template, **kw):
        return render(template, **{**self.gemm, **kw})

    def render(self, template, op, **kw):
        kind = ops.kind_of(op)
        bwd = kind.backward_args(op, self)
        kw = {"name": op.cname, **kw}     # not the Keras name: a session's counters must not change the C
        kw["name"] = c_comment(kw["name"])
        fwd = kind.forward_args(op, self)
        return render(template, fn=self.fn(op), forward_params=prototype(fwd),
                      forward_names=", ".join(a.name for a in fwd),    # for a template's call of a helper
                      backward_params=prototype(bwd) if bwd is not None else "", **{**self.gemm, **kw})


def _struct_members(keys):
    """Nested struct members for buffer keys: [(owner, [roles])] in first-seen order, owners
    with a role get a struct of their own."""
    plain, nested = [], {}
    for owner, role in keys:
        if role is None or owner == "input":
            plain.append(member((owner, role)))
        else:
            nested.setdefault(owner, []).append(role)
    return plain, list(nested.items())


def _in_model_order(graph, keys):
    """Buffer keys as a reader expects them: input, labels, scratch, then each op's output,
    its gradient and its own buffers, in the order of the ops."""
    rank = {"input": -3, "y_true": -2, "scratch": -1, **{op.cname: i for i, op in enumerate(graph.ops)}}
    role = {None: 0, "out": 1, "dout": 2}
    return sorted(keys, key=lambda k: (rank[k[0]], role.get(k[1], 3), k[1] or ""))


def _spans(params, sparse_off):
    """Trainable weights as contiguous (offset, size) ranges, each updated by one loop; the
    row-sparse Embedding weight stays a range of its own."""
    spans = []
    for p in params:
        if not p.trainable:
            continue
        if spans and spans[-1][0] + spans[-1][1] == p.offset and sparse_off not in (spans[-1][0], p.offset):
            spans[-1] = (spans[-1][0], spans[-1][1] + p.size)
        else:
            spans.append((p.offset, p.size))
    return spans


def gemm_context(flags):
    """The GEMM's blocking for the target the flags build for: tiles of MR rows x NR = two
    vectors. AVX-512 has 32 vector registers: an 8 x 32 tile keeps 16 accumulators; with 16
    registers, 6 x 2 vectors."""
    vec = target_vector_floats(flags)
    return dict(vec_floats=vec, gemm_mr=8 if vec == 16 else 6, gemm_nr=2 * vec, gemm_kc=256, gemm_mc=96,
                gemm_nc=2 * vec * 32)


def generate(graph, flags, source="<api>"):
    """C source and header for a graph that has passed run_passes. Returns (c, h)."""
    gemm = gemm_context(flags)
    states = passes.state_layout(graph)
    ctx = Context(graph, gemm, states)
    kinds = [ops.kind_of(op) for op in graph.ops]
    kernels, fwd, bwd, used_acts, used_grads = [], [], [], set(), set()
    shared = {}            # kernels ops share, by name (e.g. a recurrent product of one shape)
    work = wpack = tpack = 0
    emitted = {}           # kernel name -> its C: ops whose kernels render alike share them
    activity = _activity_regularizers(graph, ctx)
    for op, kind in zip(graph.ops, kinds):
        for name, make in kind.shared_kernels(op, ctx):
            if name not in shared:
                shared[name] = CCode(make())
        base, n = kind.kernel_name(op), 1
        while True:
            ctx.kernel_fn[id(op)] = name = base if n == 1 else f"{base}_v{n}"
            code = CCode(kind.render(op, ctx))
            if name not in emitted:
                emitted[name] = code
                kernels.append(code)
                break
            if emitted[name] == code:
                break
            n += 1
        fwd.append(CCode(kind.forward_call(op, ctx)))
        b = kind.backward_call(op, ctx)
        if b is not None:
            bwd.append(CCode(b))
        for k, t, *_ in activity:     # (reversed below: before the op's own backward)
            if t is op.output:
                bwd.append(CCode(f"activity_grad_{k}(m, B);"))
        used_acts |= kind.activations(op)
        used_grads |= kind.activation_grads(op)
        sc = kind.scratch(op, gemm)
        work, wpack, tpack = max(work, sc.work), max(wpack, sc.wpack), max(tpack, sc.tpack)
    bwd.reverse()
    work, tpack = passes.align_up(work), passes.align_up(tpack)    # each thread's part starts on a cache line

    sparse = None          # the row-sparse Embedding update (passes.plan_sparse_update), for the templates
    if graph.sparse_update is not None:
        op, param = graph.sparse_update["op"], graph.sparse_update["param"]
        sparse = dict(fn=ctx.fn(op), param=f"{param.layer}.{param.role}", off=param.offset, rows=param.shape[0],
                      cols=param.shape[1], per_sample=op.attrs.T, x=ctx.x(op))

    # loss and metrics: functions of (B, yt, yp[, dyp][, scratch]), each declaring what it reads
    out = graph.output
    scratch = 1
    loss = graph.loss
    if loss.fused:
        n = out.shape[-1]
        loss_c = CCode(render("loss_fused.c.j2", kind=loss.fused, n=n, rows=math.prod(out.shape[:-1]),
                              sparse=graph.y_shape[-1:] == (1,) and n > 1 and loss.fused == "softmax_xent"))
        loss_call = CCode(f"loss_fused(B, m->buf.y_true, {ctx.tensor(out)}, {ctx.grad(out)})")
        loss_row_call = CCode(f"loss_fused(1, {_ROW['yt']}, {ctx.tensor(out)}{_ROW['yp']}, {ctx.grad(out)}{_ROW['yp']})")
    else:
        y_pred = _find_y_pred(loss.expr)
        if y_pred is None:   # a loss that ignores the prediction has a zero gradient
            y_pred = trace.Expr("y_pred", (), (trace.B,) + out.shape)
        loss_c, s, args = emit_expr("loss_fn", f"loss {c_comment(loss.name)}: mean over the batch, and its gradient",
                                    loss.expr, grad_of=True, y_pred_node=y_pred)
        scratch = max(scratch, s)
        loss_call = CCode(_expr_call("loss_fn", args, ctx))
        loss_row_call = CCode(_expr_call("loss_fn", args, ctx, row=True))
    terms = [t for op, k in zip(graph.ops, kinds) for t in k.loss_terms(op, ctx)]
    if terms:              # penalties ops add to the loss (ActivityRegularization)
        loss_call = CCode(" + ".join([loss_call] + terms))
    metric_c, metric_calls, weighted_calls = [], [], []
    col = 0                # the metric's first value in a batch's output row
    for k, mt in enumerate(graph.metrics):
        st = mt.stateful or {}
        if st.get("kind") in ("confusion", "top_k"):     # keras/stateful_metrics.py: a kernel of its own
            metric_c.append(CCode(render("metric_kernels.c.j2", k=k, st=st, n=out.size)))
            if st["kind"] == "confusion":
                sw = "weighted ? m->sample_weight : NULL" if mt.weighted else "NULL"
                metric_calls.append(CCode(f"metric_{k}(B, m->buf.y_true, {ctx.tensor(out)}, {sw}, out + {col});"))
                col += len(st["stats"]) * len(st["thresholds"])
                continue
            args = ("B", "yt", "yp")
        else:
            code, s, args = emit_expr(f"metric_{k}", f"metric {c_comment(mt.name)} "
                                      f"({'per sample' if mt.per_sample else 'per batch'})", mt.expr)
            scratch = max(scratch, s)
            metric_c.append(code)
        call = _expr_call(f'metric_{k}', args, ctx)
        if getattr(mt, "weighted", False):   # weighted_metrics: per-row values, weighted (with sample weights)
            weighted_calls.append((k, CCode(_expr_call(f'metric_{k}', args, ctx, row=True))))
            call = f"weighted ? weighted_metric_{k}(m, B) : {call}"
        metric_calls.append(CCode(f"out[{col}] = {call};"))
        col += 1

    buffers, per_row = passes.plan_memory(graph, scratch)
    plain, nested = _struct_members(_in_model_order(graph, buffers))
    arena = [(member(k), b.offset, b.size) for k, b in sorted(buffers.items(), key=lambda kv: kv[1].offset)]
    weights = {}
    for p in graph.params:
        weights.setdefault(p.layer, []).append((p.role, p.offset, list(p.shape)))

    opt = {k: v for k, v in graph.optimizer["config"].items() if k != "name"}
    kind = graph.optimizer["kind"].lower()
    sparse_off = sparse["off"] if sparse else None
    opt_ctx = dict(opt=opt, params=[(p.offset, p.size) for p in graph.params if p.trainable],
                   spans=_spans(graph.params, sparse_off), schedule=opt.get("schedule"), sparse=sparse,
                   prepare=any(opt.get(k) for k in ("clipvalue", "clipnorm", "global_clipnorm", "weight_decay")))
    if not opt_ctx["spans"]:       # nothing trainable: the update only counts
        opt_ctx["prepare"] = False
    penalties_c = CCode(render(
        "penalties.c.j2",
        regs=[(p.offset, p.size, p.regularizer["l1"], p.regularizer["l2"], c_comment(f"{p.layer}.{p.role}"))
              for p in graph.params if p.trainable and p.regularizer],
        cons=[(p.offset, p.size, p.constraint, c_comment(f"{p.layer}.{p.role}"))
              for p in graph.params if p.trainable and p.constraint],
        activity=[(k, CCode(ctx.tensor(t)), CCode(ctx.grad(t)), t.size, spec["l1"], spec["l2"], name)
                  for k, t, spec, name in activity]))
    optim_common_c = CCode(render("optim_common.c.j2", **opt_ctx))
    optim_c = CCode(render(f"optim_{kind}.c.j2", **opt_ctx) if opt_ctx["spans"] else
                    render("optim_none.c.j2", kind=kind))

    act_c = render_activations(sorted(used_acts), sorted(used_grads))
    gemm_c = render_gemm_shared(gemm, conv_kernels=any(k.conv_kernels(op) for op, k in zip(graph.ops, kinds)))
    summary = [c_comment(f"{name:<20} {kind_:<12} {str(('batch',) + tuple(shape)):<22} {n:>8} params")
               for name, (_, kind_, shape, n) in zip(graph.layer_cnames, graph.layers)]
    random_fwd = any(k.random(op) for op, k in zip(graph.ops, kinds))
    model_ctx = dict(
        name=graph.name, version=__version__, source=c_comment(source), summary=summary,
        n_params=graph.num_params, in_size=graph.input.size, out_size=out.size,
        y_size=math.prod(graph.y_shape), arena_per_row=per_row, num_metrics=col,
        metrics_weighted=any(mt.weighted for mt in graph.metrics),
        buffers_plain=plain, buffers_nested=nested, arena=arena, weights=list(weights.items()),
        activations_c=act_c, gemm_c=gemm_c, kernels=list(shared.values()) + kernels, loss_c=loss_c, metric_c=metric_c,
        optim_common_c=optim_common_c, optim_c=optim_c, penalties_c=penalties_c,
        weight_penalty=any(p.trainable and p.regularizer for p in graph.params),
        any_penalty=bool(activity) or any(p.trainable and p.regularizer for p in graph.params),
        constrained=any(p.trainable and p.constraint for p in graph.params), forward_calls=fwd, backward_calls=bwd,
        loss_call=loss_call, loss_row_call=loss_row_call, loss_grad=CCode(ctx.grad(out)),
        weighted_metric_calls=weighted_calls, metric_calls=metric_calls, lr=float(opt["learning_rate"]),
        output=ctx.tensor(out), work_per_thread=work, wpack_size=wpack, tpack_per_thread=tpack,
        state_size=sum(size for _, size in states.values()), sparse=sparse,
        random_forward=random_fwd,
        training_forward=random_fwd or any(k.reads_training(op) for op, k in zip(graph.ops, kinds)),
        random_backward=any(a.name == "training" for op, k in zip(graph.ops, kinds)
                            for a in (k.backward_args(op, ctx) or ())),
        uniform=random_fwd, team_size=any(k.uses_team_size or k.uses_gemm for k in kinds),
        slot_init=kind in SLOT_INIT and bool(opt_ctx["spans"]),
        optimizer_members=[CCode(d) for d in OPTIMIZER_MEMBERS.get(kind, ())] if opt_ctx["spans"] else [])
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", graph.name):
        raise CodegenError(f"the model's C name is not an identifier: {graph.name[:80]!r}")
    c = re.sub(r"\n{3,}", "\n\n", render("model.c.j2", **model_ctx))   # one blank line between pieces
    h = render("model.h.j2", name=graph.name,
               cdef=CCode(CDEF + (OPTIMIZER_API.get(kind, "") if opt_ctx["spans"] else "")))
    return c, h


def _activity_regularizers(graph, ctx):
    """[(k, tensor, {'l1', 'l2'}, layer name for comments)] of the layers' activity regularizers;
    the tensor must be an op's output (its gradient is added before that op's backward)."""
    out = []
    outputs = {id(op.output) for op in graph.ops}
    for k, (t, spec, layer) in enumerate(graph.activity):
        if id(t) not in outputs:
            from .errors import SeqcError
            raise SeqcError(f"layer {layer.name!r}: an activity_regularizer on a {layer.kind} is not supported "
                            "by seqc", layer.loc)
        out.append((k, t, spec, c_comment(layer.name)))
    return out


SLOT_INIT = ("adagrad", "ftrl")   # optimizers whose slots start at a value other than 0 (init_slots)
# optimizer state besides the per-weight slots: members of seqc_model (zeroed by calloc)
OPTIMIZER_MEMBERS = {"nadam": ("float u_product;                   /* Nadam: u_1 ... u_t, for t = u_product_steps */",
                               "int64_t u_product_steps;          /* 0: not computed yet */")}
# the entry points that state has (in the optimizer's template; declared in its models' headers)
OPTIMIZER_API = {"nadam": "float seqc_get_u_product(seqc_model *m);\nvoid seqc_set_u_product(seqc_model *m, float p);\n"}


# the offsets of row r in the label and output buffers (per-row loss and metric calls)
_ROW = {"yt": "m->buf.y_true + (long)r * Y_SIZE", "yp": " + (long)r * OUT_SIZE"}


def _expr_call(fn, args, ctx, row=False):
    """The call of an emitted loss/metric function on the batch, or with `row` on row r alone."""
    values = {"B": "B", "yt": "m->buf.y_true", "yp": ctx.tensor(ctx.graph.output),
              "dyp": ctx.grad(ctx.graph.output), "scratch": "m->buf.scratch"}
    mask = ctx.graph.output_mask
    if mask is not None:
        values["ym"] = ctx.tensor(mask)
    if row:
        values.update(B="1", yt=_ROW["yt"], yp=values["yp"] + _ROW["yp"], dyp=values["dyp"] + _ROW["yp"])
        if mask is not None:
            values["ym"] += f" + (long)r * {mask.size}"
    return f"{fn}({', '.join(values[a] for a in args)})"


_ACT_HELPERS = {"clamp": "seqc_act_clamp_", "expf": "seqc_expf_", "sigmoid": "seqc_act_sigmoid_",
                "tanhf": "seqc_tanhf_", "softplus": "seqc_act_softplus_"}
_ACT_HELPER_NEEDS = {"sigmoid": {"expf"}, "tanhf": {"expf"}}


def render_activations(used, grads):
    """The activation functions the model calls (and the gradients of `grads`), with only the
    shared helpers they call."""
    body = render("activations.c.j2", used=used, grads=grads, helpers=[])
    need = {h for h, fn in _ACT_HELPERS.items() if re.search(rf"\b{fn}\(", body)}
    for h in list(need):
        need |= _ACT_HELPER_NEEDS.get(h, set())
    return CCode(render("activations.c.j2", used=used, grads=grads, helpers=sorted(need)))


def render_gemm_shared(ctx, conv_kernels=False, reference_gemm=False):
    """The GEMM (and, with conv_kernels, the convolution micro-kernels; with reference_gemm,
    the unblocked gemm_naive the tests compare against), rendered once per model."""
    tmpl = _env.get_template("gemm.c.j2")
    ctx = dict(ctx, conv_kernels=conv_kernels, reference_gemm=reference_gemm)
    return CCode(tmpl.make_module(vars={k: c_value(v) for k, v in ctx.items()}).shared())
