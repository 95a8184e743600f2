"""Code generation: a planned Graph -> one C translation unit and its header.

Each op kind renders its own template (seqc/templates/<kind>.c.j2) into kernel functions,
and contributes one call line to the forward and backward passes; `model.c.j2` lays out the
constants, the arena and the entry points. Losses and metrics are expression graphs
(seqc.trace) emitted as loop nests by `emit_expr`.
"""
import math
import os

import jinja2

from . import __version__, activations, trace
from .passes import plan_memory, state_layout

_TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), undefined=jinja2.StrictUndefined,
                          trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)

# The C API, shared by the header and cffi's cdef.
CDEF = """
typedef struct seqc_model seqc_model;
seqc_model *seqc_create(void);
void seqc_destroy(seqc_model *m);
int seqc_reserve(seqc_model *m, int max_batch);
void seqc_set_threads(int n);
int seqc_get_threads(void);
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
float seqc_gradients(seqc_model *m, const float *x, const float *y, int B, int training);
void seqc_apply_gradients(seqc_model *m);
void seqc_reset_states(seqc_model *m);
int seqc_reset_state_range(seqc_model *m, long offset, long n);
int seqc_get_state_range(seqc_model *m, long offset, long n, float *out);
void seqc_sync(seqc_model *m);
"""


def render(template, **ctx):
    return _env.get_template(template).render(**ctx)


def target_vector_floats(flags):
    """float lanes of the widest vector the flags target (decides the GEMM tile)."""
    from .build import target_features
    feats = target_features(flags)
    if "__AVX512F__" in feats:
        return 16
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
        self.steps.append(f"    float *{name} = scratch + {self.scratch_a}L * B + {self.scratch_b}L;  "
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
        terms = [f"{idx[k + lead]} * {strides[k]}" for k, d in enumerate(node.shape) if d != 1]
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
        return f"{name}[{' + '.join(f'{i} * {s}' for i, s in zip(idx, strides))}]"

    def emit(self, n):
        op = n.op
        if op == "y_true":
            self.ref[id(n)] = ("ptr", "yt")
            return
        if op == "y_pred":
            self.ref[id(n)] = ("ptr", "yp")
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
            lines.append(f"    float *{best} = scratch + {self.scratch_a}L * B + {self.scratch_b}L;")
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
    """Render one loss/metric function; returns (C code, scratch floats per batch row + const)."""
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
        steps.append(f"    if (dyp) for (long t = 0; t < {total}; t++) dyp[t] = {src};")
    code = render("expr.c.j2", fn=fn, title=title, steps=steps, result=em.value(value))
    return code, em.scratch_a + em.scratch_b


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
def _find_y_pred(expr):
    for n in trace.topo_order(expr):
        if n.op == "y_pred":
            return n
    return None


def generate(graph, flags, source="<api>"):
    """C source and header for a graph that has passed run_passes. Returns (c, h)."""
    vec = target_vector_floats(flags)
    # AVX-512 has 32 vector registers: an 8 x 32 tile keeps 16 accumulators; 16 registers: 6 x 2 vectors
    gemm_ctx = dict(vec_floats=vec, gemm_mr=8 if vec == 16 else 6, gemm_nr=2 * vec, gemm_kc=256, gemm_mc=96,
                    gemm_nc=2 * vec * 32)
    kernels, fwd, bwd = [], [], []
    sparse = None          # the row-sparse Embedding update (passes.plan_sparse_update), for the templates
    used_acts = set()
    work = wpack = 1
    state_size = 0
    states = state_layout(graph)
    for i, op in enumerate(graph.ops):
        fn = f"l{i}_{op.cname}"
        x, y = op.inputs[0], op.output
        X, Y = x.name.upper(), y.name.upper()
        if op.kind == "dense":
            K, N = x.shape[-1], y.shape[-1]
            rps = math.prod(x.shape[:-1])
            act = op.attrs["act"]
            used_acts.add(act)
            kw = op.params["kernel"]
            bias = op.params.get("bias")
            kernels.append(render("dense.c.j2", fn=fn, name=op.cname, K=K, N=N, rps=rps, act=act,
                                  has_bias=bias is not None, save_pre=op.save_pre,
                                  grad_is_pre=op.grad_is_pre, needs_dx=op.needs_dx, **gemm_ctx))
            zbuf = f"BUF({Y}_PRE)" if op.save_pre else "NULL"
            bptr = f"m->params + {bias.cname}" if bias else "NULL"
            fwd.append(f"{fn}_forward(B, BUF({X}), m->params + {kw.cname}, {bptr}, BUF({Y}), {zbuf}, m->pack_a, m->pack_b);")
            dx = f"BUF({X}_GRAD)" if op.needs_dx else "NULL"
            db = f"m->grads + {bias.cname}" if bias else "NULL"
            bwd.append(f"{fn}_backward(B, BUF({X}), m->params + {kw.cname}, BUF({Y}), {zbuf}, BUF({Y}_GRAD), {dx}, "
                       f"m->grads + {kw.cname}, {db}, m->pack_a, m->pack_b);")
        elif op.kind == "activation":
            act = activations.get(op.attrs["act"])
            used_acts.add(act.name)
            kernels.append(render("activation.c.j2", fn=fn, name=op.cname, act=act.name, kind=act.kind,
                                  n=x.shape[-1], n_out=y.shape[-1], rows_per_sample=math.prod(x.shape[:-1]),
                                  emit_backward=op.needs_dx and not op.grad_is_pre))
            fwd.append(f"{fn}_forward(B, BUF({X}), BUF({Y}));")
            if op.needs_dx and not op.grad_is_pre:
                bwd.append(f"{fn}_backward(B, BUF({X}), BUF({Y}), BUF({Y}_GRAD), BUF({X}_GRAD));")
            elif op.grad_is_pre and op.needs_dx:
                # the fused loss wrote dL/dx into this op's output-gradient buffer
                bwd.append(f"memcpy(BUF({X}_GRAD), BUF({Y}_GRAD), sizeof(float) * (size_t)B * {y.size});")
        elif op.kind == "conv":
            a = op.attrs
            KK = a["KH"] * a["KW"] * a["C"]
            P = a["OH"] * a["OW"]
            pad_b = max(0, (a["OH"] - 1) * a["SH"] + (a["KH"] - 1) * a["DH"] + 1 - a["H"] - a["PT"])
            pad_r = max(0, (a["OW"] - 1) * a["SW"] + (a["KW"] - 1) * a["DW"] + 1 - a["W"] - a["PL"])
            padded = a["PT"] or a["PL"] or pad_b or pad_r
            dx_direct = op.needs_dx and a["SH"] == 1 and a["SW"] == 1
            nr = gemm_ctx["gemm_nr"]
            sizes = {   # per-thread scratch, in floats
                "xpad": (a["H"] + a["PT"] + pad_b) * (a["W"] + a["PL"] + pad_r) * a["C"] if padded else 0,
                "dzpad": ((a["H"] + (a["KH"] - 1) * a["DH"]) * (a["W"] + (a["KW"] - 1) * a["DW"]) * a["F"]
                          if dx_direct else 0),
                "dw": KK * a["F"], "db": a["F"],
                "dcol": P * KK if op.needs_dx and not dx_direct else 0}
            offs, total = {}, 0
            for key, size in sizes.items():
                offs[key] = total
                total += size
            work = max(work, total)
            wp_fwd = KK * -(-a["F"] // nr) * nr
            wp_dx = a["KH"] * a["KW"] * a["F"] * -(-a["C"] // nr) * nr if dx_direct else 0
            wpack = max(wpack, wp_fwd + wp_dx)
            act = a["act"]
            used_acts.add(act)
            kw = op.params["kernel"]
            bias = op.params.get("bias")
            kernels.append(render("conv.c.j2", fn=fn, name=op.cname, has_bias=bias is not None,
                                  pad_bottom=pad_b, pad_right=pad_r, wpack_offsets={"fwd": 0, "dx": wp_fwd},
                                  save_pre=op.save_pre, grad_is_pre=op.grad_is_pre, needs_dx=op.needs_dx,
                                  work_offsets=offs, **{k: v for k, v in a.items()}, **gemm_ctx))
            zbuf = f"BUF({Y}_PRE)" if op.save_pre else "NULL"
            bptr = f"m->params + {bias.cname}" if bias else "NULL"
            fwd.append(f"{fn}_forward(B, BUF({X}), m->params + {kw.cname}, {bptr}, BUF({Y}), {zbuf}, m->work, m->wpack);")
            dx = f"BUF({X}_GRAD)" if op.needs_dx else "NULL"
            db = f"m->grads + {bias.cname}" if bias else "NULL"
            bwd.append(f"{fn}_backward(B, BUF({X}), m->params + {kw.cname}, BUF({Y}), {zbuf}, BUF({Y}_GRAD), {dx}, "
                       f"m->grads + {kw.cname}, {db}, m->pack_a, m->pack_b, m->work, m->wpack);")
        elif op.kind == "embedding":
            a = op.attrs
            emb = op.params["embeddings"]
            is_sparse = graph.sparse_update is not None and graph.sparse_update["op"] is op
            kernels.append(render("embedding.c.j2", fn=fn, name=op.cname, sparse=is_sparse, **a))
            fwd.append(f"{fn}_forward(B, BUF({X}), m->params + {emb.cname}, BUF({Y}));")
            dense_bwd = f"{fn}_backward(B, BUF({X}), BUF({Y}_GRAD), m->grads + {emb.cname});"
            if is_sparse:
                sparse = dict(fn=fn, param=emb.name, off=emb.offset, rows=a["V"], cols=a["E"], per_sample=a["T"],
                              x_buf=X)
                bwd.append(f"if (sparse)\n        {fn}_backward_rows(B, BUF({X}), BUF({Y}_GRAD), m->sp_map, m->sp_grad, "
                           f"m->sp_n);\n    else\n        {dense_bwd}")
            else:
                bwd.append(dense_bwd)
        elif op.kind == "rnn":
            a = op.attrs
            cell = a["cell"]
            used_acts.update((a["act"], a["ract"]))
            G = {"lstm": 4, "gru": 3, "simple": 1}[cell] * a["U"]
            kw, rk, bias = op.params["kernel"], op.params["recurrent_kernel"], op.params.get("bias")
            state = "NULL"
            if a["stateful"]:
                offset, size = states[op.name]
                state = f"m->state + {offset}L"
                state_size = max(state_size, offset + size)
            nr, mr = gemm_ctx["gemm_nr"], gemm_ctx["gemm_mr"]
            wpack = max(wpack, a["U"] * -(-G // nr) * nr, G * -(-a["U"] // nr) * nr)   # U, U^T in panels
            work = max(work, mr * (G + 2 * a["U"]))                                      # a block of rows
            kernels.append(render("rnn.c.j2", fn=fn, name=op.cname, has_bias=bias is not None,
                                  needs_dx=op.needs_dx, **a, **gemm_ctx))

            def buf(suffix, present=True):
                return f"BUF({Y}{suffix})" if present else "NULL"
            bptr = f"m->params + {bias.cname}" if bias else "NULL"
            lstm, gru = cell == "lstm", cell == "gru"
            scratch = "m->wpack, m->work, m->pack_a, m->pack_b"
            drop, rdrop = bool(a["dropout"]), bool(a["recurrent_dropout"])
            masks = (f"{buf('_XD', drop)}, {buf('_DMASK', drop)}, {buf('_HM', rdrop)}, {buf('_RMASK', rdrop)}")
            fwd.append(f"{fn}_forward(B, training, seed, BUF({X}), m->params + {kw.cname}, m->params + {rk.cname}, "
                       f"{bptr}, BUF({Y}), {buf('_Z')}, {buf('_HP')}, {buf('_CP', lstm)}, {buf('_HU', gru)}, "
                       f"{state}, {masks}, {scratch});")
            dx = f"BUF({X}_GRAD)" if op.needs_dx else "NULL"
            db = f"m->grads + {bias.cname}" if bias else "NULL"
            bwd.append(f"{fn}_backward(B, BUF({X}), m->params + {kw.cname}, m->params + {rk.cname}, BUF({Y}_GRAD), "
                       f"{dx}, m->grads + {kw.cname}, m->grads + {rk.cname}, {db}, {buf('_Z')}, {buf('_HP')}, "
                       f"{buf('_CP', lstm)}, {buf('_HU', gru)}, {buf('_DZ')}, {buf('_DHU', gru and a['reset_after'])}, {buf('_DH')}, "
                       f"{buf('_DH2')}, {buf('_DC', lstm)}, {masks}, {scratch});")
        elif op.kind in ("pool", "global_pool", "pad2d"):
            tmpl = {"pool": "pool.c.j2", "global_pool": "global_pool.c.j2", "pad2d": "pad2d.c.j2"}[op.kind]
            kernels.append(render(tmpl, fn=fn, name=op.cname, emit_backward=op.needs_dx, **op.attrs))
            fwd.append(f"{fn}_forward(B, BUF({X}), BUF({Y}));")
            if op.needs_dx:
                if op.kind == "pad2d":
                    bwd.append(f"{fn}_backward(B, BUF({Y}_GRAD), BUF({X}_GRAD));")
                else:
                    bwd.append(f"{fn}_backward(B, BUF({X}), BUF({Y}_GRAD), BUF({X}_GRAD));")
        elif op.kind == "dropout":
            kernels.append(render("dropout.c.j2", fn=fn, name=op.cname, size=x.size, rate=op.attrs["rate"],
                                  stream=op.attrs["stream"] + 1, emit_backward=op.needs_dx))
            fwd.append(f"{fn}_forward(B, training, seed, BUF({X}), BUF({Y}), BUF({Y}_MASK));")
            if op.needs_dx:
                bwd.append(f"{fn}_backward(B, training, BUF({Y}_MASK), BUF({Y}_GRAD), BUF({X}_GRAD));")
        else:
            raise NotImplementedError(op.kind)
    bwd.reverse()

    # loss
    out = graph.output
    OUT = out.name.upper()
    scratch = 1
    loss = graph.loss
    if loss.fused:
        n = out.shape[-1]
        loss_c = render("loss_fused.c.j2", kind=loss.fused, n=n, rows=math.prod(out.shape[:-1]),
                        sparse=graph.y_shape[-1:] == (1,) and n > 1 and loss.fused == "softmax_xent")
        loss_call = f"    return loss_fused(B, BUF(Y_TRUE), BUF({OUT}), BUF({OUT}_GRAD));"
    else:
        y_pred = _find_y_pred(loss.expr)
        if y_pred is None:   # a loss that ignores the prediction has a zero gradient
            y_pred = trace.Expr("y_pred", (), (trace.B,) + out.shape)
        loss_c, s = emit_expr("loss_fn", f"loss {loss.name}: mean over the batch, and its gradient",
                              loss.expr, grad_of=True, y_pred_node=y_pred)
        scratch = max(scratch, s)
        loss_call = f"    return loss_fn(B, BUF(Y_TRUE), BUF({OUT}), BUF({OUT}_GRAD), BUF(SCRATCH));"
    metric_c, metric_calls = [], []
    for k, mt in enumerate(graph.metrics):
        code, s = emit_expr(f"metric_{k}", f"metric {mt.name} ({'per sample' if mt.per_sample else 'per batch'})",
                            mt.expr)
        scratch = max(scratch, s)
        metric_c.append(code)
        metric_calls.append(f"out[{k}] = metric_{k}(B, BUF(Y_TRUE), BUF({OUT}), NULL, BUF(SCRATCH));")

    buffers, per_row = plan_memory(graph, scratch)
    opt = dict(graph.optimizer["config"])
    kind = graph.optimizer["kind"].lower()
    ranges = [(p.offset, p.size) for p in graph.params if p.trainable]
    opt_ctx = dict(opt=opt, params=ranges, schedule=opt.get("schedule"), sparse=sparse)
    optim_common_c = render("optim_common.c.j2", **opt_ctx)
    optim_c = render(f"optim_{kind}.c.j2", **opt_ctx)

    act_c = render("activations.c.j2", used=used_acts)
    gemm_c = render_gemm_shared(gemm_ctx, conv_kernels=any(op.kind == "conv" for op in graph.ops))
    summary = [f"{name:<20} {kind_:<12} {str(('batch',) + tuple(shape)):<22} {n:>8} params"
               for name, (_, kind_, shape, n) in zip(graph.layer_cnames, graph.layers)]
    ctx = dict(name=graph.name, version=__version__, source=source, summary=summary,
               n_params=graph.num_params, in_size=graph.input.size, out_size=out.size,
               y_size=math.prod(graph.y_shape), arena_per_row=per_row, metrics=graph.metrics,
               params=graph.params, buffers=sorted(buffers.values(), key=lambda b: b.offset),
               activations_c=act_c, gemm_c=gemm_c, kernels=kernels, loss_c=loss_c, metric_c=metric_c,
               optim_common_c=optim_common_c, optim_c=optim_c, forward_calls=fwd, backward_calls=bwd,
               loss_call=loss_call, metric_calls=metric_calls, lr=float(opt["learning_rate"]),
               output_buf=out.name, work_per_thread=work, wpack_size=wpack,
               state_size=max(1, state_size), sparse=sparse)
    c = render("model.c.j2", **ctx)
    h = render("model.h.j2", name=graph.name, cdef=CDEF)
    return c, h


def render_gemm_shared(ctx, conv_kernels=False, reference_gemm=False):
    """The GEMM (and, with conv_kernels, the convolution micro-kernels; with reference_gemm,
    the unblocked gemm_naive the tests compare against), rendered once per model."""
    tmpl = _env.get_template("gemm.c.j2")
    return tmpl.make_module(vars=dict(ctx, conv_kernels=conv_kernels, reference_gemm=reference_gemm)).shared()
