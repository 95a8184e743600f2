"""User-written layers (`Lambda(fn)`, Layer subclasses with `build`/`call`): the user's code is
traced once on a symbolic input (seqc/keras/user_layers.py) into an expression graph of
seqc.trace nodes over the leaves x (the input), w0, w1... (the `add_weight` weights) and, for the
backward pass, dy (the output's gradient). The forward kernel evaluates the graph; the backward
kernel evaluates its vector-Jacobian products w.r.t. x and each trainable weight, built
symbolically (seqc.trace.vjp), recomputing the forward nodes it needs. Both are loop nests
written by the expression emitter of the losses (codegen._ExprEmitter) plus the structural ops
a layer uses (matmul, transpose, concatenate, slicing); their intermediate values live in the
op's `work` buffer.
"""
import re
from dataclasses import dataclass

from .. import trace
from .base import Arg, Buf, OpKind, register


@dataclass(frozen=True)
class UserLayerAttrs:
    title: str               # the user's class name ('Lambda', 'Antirectifier'), for a comment
    x: object                # the input leaf (seqc.trace.Expr)
    out: object              # the output Expr, shape (B, ...)
    weights: tuple           # the weight leaves, by their C role (w0, w1, ...), in parameter order


def _emitter_class():
    from ..codegen import _ExprEmitter, _dim, _strides, _scaled

    class LayerEmitter(_ExprEmitter):
        """The loss/metric emitter with the leaves of a layer and its structural ops."""

        def __init__(self, roots, leaves, dest=None):
            self.leaves = leaves
            self.dest = dest or {}     # id(root) -> the output array it is computed into
            super().__init__(roots)

        def alloc(self, node):
            """A root with an output array is computed there (no scratch, no copy)."""
            if id(node) not in self.dest or node.shape == ():
                return super().alloc(node)
            self.count += 1
            name = f"e{self.count}"
            self.steps.append(f"    float *{name} = {self.dest.pop(id(node))};  /* {node.op}, the output */")
            self.ref[id(node)] = ("ptr", name)
            return name

        def emit(self, n):
            op = n.op
            if op in ("x", "dy"):
                self.ref[id(n)] = ("ptr", self.leaves[op])
                return
            if op == "w":
                name = self.leaves[("w", n.attrs["index"])]
                self.ref[id(n)] = ("scalar", f"{name}[0]") if n.shape == () else ("ptr", name)
                return
            if op in ("matmul", "matmul_nt", "outer_sum", "transpose", "concat", "slice", "unslice"):
                getattr(self, "emit_" + op)(n, self.alloc(n))
                return
            super().emit(n)

        def at(self, node, idx):
            """`node` at the index expressions `idx`, one per axis of its own shape."""
            kind, val = self.ref[id(node)]
            if kind == "scalar":
                return val
            if kind == "inline":
                return val(node, node.shape, idx)
            terms = [_scaled(f"({i})" if " " in i else i, s)
                     for i, s, d in zip(idx, _strides(node.shape), node.shape) if d != 1]
            return f"{val}[{' + '.join(terms) if terms else '0'}]"

        def idx(self, shape):
            return [f"i{k}" for k in range(len(shape))]

        def emit_matmul(self, n, name):
            """Row by row: out[r, :] = sum_k a[r, k] b[k, :], the inner loop along b's rows."""
            a, b = n.args
            lead, N = n.shape[:-1], n.shape[-1]
            idx = self.idx(lead)
            out = self.out_ref(name, n.shape, idx + ["j"])
            body = (f"{{ for (long j = 0; j < {N}; j++) {out} = 0.f;\n"
                    f"{'    ' * (len(lead) + 1)}  for (long k = 0; k < {a.shape[-1]}; k++) {{ "
                    f"const float av = {self.at(a, idx + ['k'])}; "
                    f"for (long j = 0; j < {N}; j++) {out} += av * {self.at(b, ['k', 'j'])}; }} }}")
            self.steps.append(self.loops(lead, lambda _i: body))

        def emit_matmul_nt(self, n, name):
            """out[r, k] = sum_n a[r, n] b[k, n]: a dot product of two contiguous rows."""
            a, b = n.args
            idx = self.idx(n.shape)
            body = (f"{{ float s = 0.f; for (long j = 0; j < {a.shape[-1]}; j++) "
                    f"s += {self.at(a, idx[:-1] + ['j'])} * {self.at(b, [idx[-1], 'j'])}; "
                    f"{self.out_ref(name, n.shape, idx)} = s; }}")
            self.steps.append(self.loops(n.shape, lambda _i: body))

        def emit_outer_sum(self, n, name):
            a, g = n.args
            K, N = n.shape
            lead = a.shape[:-1]
            idx = self.idx(lead)
            self.steps.append(f"    for (long t = 0; t < {K * N}; t++) {name}[t] = 0.f;")
            body = (f"for (long k = 0; k < {K}; k++) for (long j = 0; j < {N}; j++) "
                    f"{name}[k * {N} + j] += {self.at(a, idx + ['k'])} * {self.at(g, idx + ['j'])};")
            self.steps.append(self.loops(lead, lambda _i: body))

        def emit_transpose(self, n, name):
            a, perm = n.args[0], n.attrs["perm"]
            idx = self.idx(n.shape)
            src = [None] * len(perm)
            for j, p in enumerate(perm):
                src[p] = idx[j]
            self.steps.append(self.loops(n.shape, lambda _i: f"{self.out_ref(name, n.shape, idx)} = "
                                                             f"{self.at(a, src)};"))

        def emit_concat(self, n, name):
            axis, off = n.attrs["axis"], 0
            for a in n.args:
                idx = self.idx(a.shape)
                dst = [f"({off} + {i})" if k == axis and off else i for k, i in enumerate(idx)]
                self.steps.append(self.loops(a.shape, lambda _i, a=a, idx=idx, dst=dst:
                                             f"{self.out_ref(name, n.shape, dst)} = {self.at(a, idx)};"))
                off += a.shape[axis]

        @staticmethod
        def _mapped(idx, begin, step):
            out = []
            for i, b, s in zip(idx, begin, step):
                e = i if s == 1 else f"{i} * {s}"
                out.append(e if b == 0 else f"{b} + {e}")
            return out

        def emit_slice(self, n, name):
            a = n.args[0]
            idx = self.idx(n.shape)
            src = self._mapped(idx, n.attrs["begin"], n.attrs["step"])
            self.steps.append(self.loops(n.shape, lambda _i: f"{self.out_ref(name, n.shape, idx)} = "
                                                             f"{self.at(a, src)};"))

        def emit_unslice(self, n, name):
            g = n.args[0]
            total = " * ".join(_dim(d) for d in n.shape) or "1"
            self.steps.append(f"    for (long t = 0; t < {total}; t++) {name}[t] = 0.f;")
            idx = self.idx(g.shape)
            dst = [f"({d})" if " " in d else d for d in self._mapped(idx, n.attrs["begin"], n.attrs["step"])]
            self.steps.append(self.loops(g.shape, lambda _i: f"{self.out_ref(name, n.shape, dst)} = "
                                                             f"{self.at(g, idx)};"))

    return LayerEmitter


_EMITTER = []


def _emit(roots, leaves, dests):
    """Emit the roots; each is computed into its output array when it is a node of its own
    (a leaf, or a root that is twice an output, is copied: `_copy`)."""
    if not _EMITTER:
        _EMITTER.append(_emitter_class())
    dest, seen = {}, set()
    for r, d in zip(roots, dests):
        if r.op not in ("x", "w", "dy", "const") and id(r) not in seen:
            dest[id(r)] = d
        seen.add(id(r))
    return _EMITTER[0](roots, leaves, dest)


def _copy(em, node, dst):
    """C that stores the emitted value of `node` into the array `dst` (nothing when it was
    computed there)."""
    from ..codegen import _dim
    kind, val = em.ref[id(node)]
    if kind == "ptr" and any(line.startswith(f"    float *{val} = {dst};") for line in em.steps):
        return ""
    if node.shape == ():
        return f"    {dst}[0] = {val if kind == 'scalar' else val + '[0]'};"
    total = " * ".join(_dim(d) for d in node.shape)
    if kind == "scalar":
        return f"    for (long t = 0; t < {total}; t++) {dst}[t] = {val};"
    return f"    for (long t = 0; t < {total}; t++) {dst}[t] = {val}[t];"


@register
class UserLayer(OpKind):
    kind = "user_layer"
    template = "user_layer.c.j2"

    def _trainable(self, op):
        return [role for role in op.attrs.weights if op.params[role].trainable]

    def _code(self, op):
        """The forward and backward bodies (emitted once per op), their parameters and scratch."""
        code = getattr(op, "_user_layer_code", None)
        if code is not None:
            return code
        a = op.attrs
        leaves = {"x": "x", "dy": "dy", **{("w", int(r[1:])): r for r in a.weights}}
        fwd = _emit([a.out], leaves, ["y"])
        fsteps = fwd.steps + [_copy(fwd, a.out, "y")]
        bsteps, bscratch, grads = None, 0, []
        trainable = self._trainable(op)
        if op.needs_dx or trainable:
            dy = trace.Expr("dy", (), a.out.shape)
            wrts = ([a.x] if op.needs_dx else []) + [leaf for role, leaf in zip(a.weights, self._leaves(op))
                                                     if role in trainable]
            grads = trace.vjp(a.out, dy, wrts)
            dsts = (["dx"] if op.needs_dx else []) + [f"d{r}" for r in trainable]
            bwd = _emit(grads, leaves, dsts)
            bsteps = bwd.steps + [_copy(bwd, g, d) for g, d in zip(grads, dsts)]
            bscratch = bwd.scratch_a + bwd.scratch_b
        fsteps, bsteps = [t for t in fsteps if t], bsteps and [t for t in bsteps if t]
        code = dict(forward="\n".join(fsteps), backward=None if bsteps is None else "\n".join(bsteps),
                    scratch=max(1, fwd.scratch_a + fwd.scratch_b, bscratch))
        op._user_layer_code = code
        return code

    def _leaves(self, op):
        by_index = {}
        for n in trace.topo_order(op.attrs.out):
            if n.op == "w":
                by_index[n.attrs["index"]] = n
        return [by_index.get(int(r[1:]), trace.Expr("w", (), op.params[r].shape, index=int(r[1:])))
                for r in op.attrs.weights]

    def buffers(self, op):
        return [Buf("work", self._code(op)["scratch"], True)]

    @staticmethod
    def _used(text, args):
        return [a for a in args if re.search(rf"\b{a.name}\b", text)]

    def forward_args(self, op, ctx):
        body = self._code(op)["forward"]
        args = [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op))]
        args += [Arg("const float *", r, ctx.w(op, r)) for r in op.attrs.weights]
        args += [Arg("float *", "y", ctx.y(op)), Arg("float *", "scratch", ctx.buf(op, "work"))]
        return self._used(body, args)

    def backward_args(self, op, ctx):
        body = self._code(op)["backward"]
        if body is None:
            return None
        args = [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op))]
        args += [Arg("const float *", r, ctx.w(op, r)) for r in op.attrs.weights]
        args += [Arg("const float *", "dy", ctx.dy(op))]
        if op.needs_dx:
            args.append(Arg("float *", "dx", ctx.dx(op)))
        args += [Arg("float *", f"d{r}", ctx.dw(op, r)) for r in self._trainable(op)]
        args.append(Arg("float *", "scratch", ctx.buf(op, "work")))
        return self._used(body, args)

    def render(self, op, ctx):
        from ..codegen import CCode, c_comment
        code = self._code(op)
        return ctx.render(self.template, op, title=c_comment(op.attrs.title),
                          forward_body=CCode(code["forward"]),
                          backward_body=None if code["backward"] is None else CCode(code["backward"]))


def _lower_user(b, layer, x):
    from ..keras import user_layers
    xs, out, weights = user_layers.trace(layer, x.shape)
    # Keras's get_weights order: the trainable weights, then the others, each in add_weight order
    order = sorted(range(len(weights)), key=lambda i: not weights[i].trainable)
    params, roles = {}, []
    for i in order:
        w = weights[i]
        role = f"w{i}"
        p = b.param(layer, role, w.shape, w.initializer)
        p.trainable = p.trainable and w.trainable
        p.name = f"{layer.name}/{w.name}"
        params[role] = p
        roles.append(role)
    title = layer.config.get("class_name", layer.kind)
    return b.op("user_layer", layer, x, out.shape[1:], params,
                UserLayerAttrs(title=title, x=xs, out=out, weights=tuple(roles)))


lower_Lambda = lower_UserLayer = _lower_user
