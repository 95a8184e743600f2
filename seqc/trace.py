"""Symbolic tensors for user-written losses and metrics.

A user function such as `def mean_pred(y_true, y_pred): return K.mean(y_pred)` is called once
with two `Expr` leaves; the backend ops (seqc.keras.backend) build an expression DAG instead of
computing. The DAG is evaluated in numpy for tests (`evaluate`), differentiated symbolically for
custom losses (`grad`), and emitted as C loops (seqc/templates/expr.c.j2 via seqc.codegen).

Shapes are tuples whose dimensions are ints or the symbol 'B' (the batch size). Broadcasting
follows numpy's rules.
"""
import numpy as np

B = "B"

class Elementwise:
    """One elementwise op, everything about it in one place: its C expression over the operands
    {a} (and {b}), its numpy function, its gradient rule `vjp(g, out, a[, b]) -> [ga(, gb)]`
    (None: not differentiable) and the keras.backend / keras.ops names that call it."""

    def __init__(self, name, c, np_fn, vjp, backend=(), operator=None):
        self.name, self.c, self.np, self.vjp, self.backend = name, c, np_fn, vjp, backend
        self.operator = operator      # Python's `__<operator>__` on Expr (and `__r<operator>__`)
        self.arity = 2 if "{b}" in c else 1


def _pow_vjp(g, n, a, b):
    gb = None if b.op == "const" else g * n * unary("log", a)
    return [g * b * binary("pow", a, b - 1.0), gb]


def _extremum_vjp(wins):
    """maximum/minimum: the gradient goes to the winner, half to each on a tie."""
    def vjp(g, n, a, b):
        win = binary(wins, a, b)
        tie = 0.5 * binary("equal", a, b)
        return [g * (win + tie), g * (1.0 - win - tie)]
    return vjp


ELEMENTWISE = {op.name: op for op in [
    Elementwise("neg", "-({a})", np.negative, lambda g, n, a: [-g], ("negative",), operator="neg"),
    Elementwise("abs", "fabsf({a})", np.abs, lambda g, n, a: [g * unary("sign", a)], ("abs", "absolute"),
                operator="abs"),
    Elementwise("sqrt", "sqrtf({a})", np.sqrt, lambda g, n, a: [g / (2.0 * n)], ("sqrt",)),
    Elementwise("exp", "expf({a})", np.exp, lambda g, n, a: [g * n], ("exp",)),
    Elementwise("log", "logf({a})", np.log, lambda g, n, a: [g / a], ("log",)),
    Elementwise("log1p", "log1pf({a})", np.log1p, lambda g, n, a: [g / (1.0 + a)], ("log1p",)),
    Elementwise("expm1", "expm1f({a})", np.expm1, lambda g, n, a: [g * (n + 1.0)], ("expm1",)),
    Elementwise("square", "({a}) * ({a})", np.square, lambda g, n, a: [g * 2.0 * a], ("square",)),
    Elementwise("tanh", "tanhf({a})", np.tanh, lambda g, n, a: [g * (1.0 - n * n)], ("tanh",)),
    Elementwise("sigmoid", "1.f / (1.f + expf(-({a})))", lambda a: 1 / (1 + np.exp(-a)),
                lambda g, n, a: [g * n * (1.0 - n)], ("sigmoid",)),
    Elementwise("relu", "(({a}) > 0.f ? ({a}) : 0.f)", lambda a: np.maximum(a, 0),
                lambda g, n, a: [g * binary("greater", a, 0.0)], ("relu",)),
    Elementwise("reciprocal", "1.f / ({a})", lambda a: 1 / a, lambda g, n, a: [-g * n * n], ("reciprocal",)),
    Elementwise("cast", "({a})", lambda a: a, lambda g, n, a: [g]),
    Elementwise("round", "rintf({a})", np.rint, None, ("round",)),
    Elementwise("sign", "(float)((({a}) > 0.f) - (({a}) < 0.f))", np.sign, None, ("sign",)),
    Elementwise("floor", "floorf({a})", np.floor, None, ("floor",)),
    Elementwise("ceil", "ceilf({a})", np.ceil, None, ("ceil",)),
    Elementwise("trunc", "truncf({a})", np.trunc, None),
    Elementwise("tofloat_bool", "(({a}) != 0.f ? 1.f : 0.f)", lambda a: (a != 0).astype(np.float32), None),
    Elementwise("add", "({a}) + ({b})", np.add, lambda g, n, a, b: [g, g], ("add",), operator="add"),
    Elementwise("sub", "({a}) - ({b})", np.subtract, lambda g, n, a, b: [g, -g], ("subtract",), operator="sub"),
    Elementwise("mul", "({a}) * ({b})", np.multiply, lambda g, n, a, b: [g * b, g * a], ("multiply",),
                operator="mul"),
    Elementwise("div", "({a}) / ({b})", np.divide, lambda g, n, a, b: [g / b, -g * a / (b * b)],
                ("divide", "true_divide"), operator="truediv"),
    Elementwise("pow", "powf({a}, {b})", np.power, _pow_vjp, ("power", "pow"), operator="pow"),
    Elementwise("maximum", "fmaxf({a}, {b})", np.maximum, _extremum_vjp("greater"), ("maximum",)),
    Elementwise("minimum", "fminf({a}, {b})", np.minimum, _extremum_vjp("less"), ("minimum",)),
    Elementwise("equal", "(({a}) == ({b}) ? 1.f : 0.f)", np.equal, None, ("equal",), operator="eq"),
    Elementwise("not_equal", "(({a}) != ({b}) ? 1.f : 0.f)", np.not_equal, None, ("not_equal",),
                operator="ne"),
    Elementwise("greater", "(({a}) > ({b}) ? 1.f : 0.f)", np.greater, None, ("greater",), operator="gt"),
    Elementwise("greater_equal", "(({a}) >= ({b}) ? 1.f : 0.f)", np.greater_equal, None,
                ("greater_equal",), operator="ge"),
    Elementwise("less", "(({a}) < ({b}) ? 1.f : 0.f)", np.less, None, ("less",), operator="lt"),
    Elementwise("less_equal", "(({a}) <= ({b}) ? 1.f : 0.f)", np.less_equal, None, ("less_equal",),
                operator="le"),
    Elementwise("logical_and", "((({a}) != 0.f) && (({b}) != 0.f) ? 1.f : 0.f)",
                lambda a, b: (a != 0) & (b != 0), None, ("logical_and",)),
    Elementwise("logical_or", "((({a}) != 0.f) || (({b}) != 0.f) ? 1.f : 0.f)",
                lambda a, b: (a != 0) | (b != 0), None, ("logical_or",)),
]}
# views of the table for the C emitter
UNARY = {name: op.c for name, op in ELEMENTWISE.items() if op.arity == 1}
BINARY = {name: op.c for name, op in ELEMENTWISE.items() if op.arity == 2}
# reductions over axes, with their numpy functions
REDUCE = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod,
          "argmax": np.argmax, "argmin": np.argmin}
NONDIFF = {name for name, op in ELEMENTWISE.items() if op.vjp is None} | {"argmax", "argmin"}


class TraceError(ValueError):
    pass


class TraceAttributeError(TraceError, AttributeError):
    """An attribute a traced tensor does not have (`x.numpy()`): hasattr() still works."""


def broadcast_shapes(s1, s2):
    out = []
    for i in range(1, max(len(s1), len(s2)) + 1):
        a = s1[-i] if i <= len(s1) else 1
        b = s2[-i] if i <= len(s2) else 1
        if a == b or b == 1:
            out.append(a)
        elif a == 1:
            out.append(b)
        else:
            raise TraceError(f"shapes {_fmt(s1)} and {_fmt(s2)} cannot be broadcast together")
    return tuple(reversed(out))


def _fmt(shape):
    return "(" + ", ".join("batch" if d == B else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Expr:
    """One node of the expression DAG. `attrs` holds constants (value, axis, keepdims)."""
    __array_priority__ = 1000  # so numpy scalars defer to our operators

    def __init__(self, op, args=(), shape=(), **attrs):
        self.op = op
        self.args = tuple(args)
        self.shape = tuple(shape)
        self.attrs = attrs

    # --- Python operators build nodes -------------------------------------------------------
    # Python's operators (+ - * / ** unary - abs() and comparisons) are installed from the
    # ELEMENTWISE table below the class
    def __pos__(self):
        return self

    __hash__ = object.__hash__

    def __bool__(self):
        raise TraceError("a traced tensor has no truth value: Python `if`/`while`/`and`/`or` on a tensor "
                         "cannot be traced (use keras.ops.where / K.switch; a loss, metric or layer must be a "
                         "formula of backend ops)")

    def __array__(self, *args, **kwargs):
        raise TraceError("a numpy function was called on a traced tensor: numpy cannot be traced "
                         "(use the keras.ops / keras.backend function)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """numpy scalars combined with a traced tensor (np.float32(2) * x) build nodes; any other
        numpy function on a traced tensor is an error naming it."""
        op = _UFUNC_OPS.get(ufunc.__name__)
        if method == "__call__" and op is not None and not kwargs and len(inputs) == ELEMENTWISE[op].arity:
            return unary(op, inputs[0]) if len(inputs) == 1 else binary(op, *inputs)
        raise TraceError(f"numpy's `{ufunc.__name__}` cannot be traced on a tensor "
                         f"(use keras.ops.{ufunc.__name__} or the keras.backend function)")

    @property
    def ndim(self):
        return len(self.shape)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise TraceAttributeError(f"a traced tensor has no attribute or method `{name}` (seqc traces the "
                                  "keras.ops / keras.backend functions)")

    def __getitem__(self, item):
        return getitem(self, item)

    def __repr__(self):
        return f"Expr({self.op}, shape={_fmt(self.shape)})"

    # --- serialisation (for the compiled package's model.json) -------------------------------
    def to_json(self):
        nodes, index = [], {}
        for n in topo_order(self):
            index[id(n)] = len(nodes)
            nodes.append({"op": n.op, "args": [index[id(a)] for a in n.args], "shape": list(n.shape),
                          "attrs": n.attrs})
        return nodes

    @staticmethod
    def from_json(nodes):
        built = []
        for n in nodes:
            attrs = dict(n["attrs"])
            if "axis" in attrs and isinstance(attrs["axis"], list):
                attrs["axis"] = tuple(attrs["axis"])
            built.append(Expr(n["op"], [built[i] for i in n["args"]], tuple(n["shape"]), **attrs))
        return built[-1]


def _install_operators():
    reflected = {"add", "sub", "mul", "truediv", "pow"}      # 2 - x calls x.__rsub__(2)
    for op in ELEMENTWISE.values():
        if op.operator is None:
            continue
        if op.arity == 1:
            setattr(Expr, f"__{op.operator}__", lambda self, _op=op.name: unary(_op, self))
            continue
        setattr(Expr, f"__{op.operator}__", lambda self, o, _op=op.name: binary(_op, self, o))
        if op.operator in reflected:
            setattr(Expr, f"__r{op.operator}__", lambda self, o, _op=op.name: binary(_op, o, self))


_install_operators()
# numpy ufuncs that are Python operators on Expr (so numpy scalars on the left behave)
_UFUNC_OPS = {"add": "add", "subtract": "sub", "multiply": "mul", "true_divide": "div", "divide": "div",
              "power": "pow", "negative": "neg", "absolute": "abs", "equal": "equal", "not_equal": "not_equal",
              "greater": "greater", "greater_equal": "greater_equal", "less": "less", "less_equal": "less_equal"}


def as_expr(x):
    if isinstance(x, Expr):
        return x
    if isinstance(x, (bool, int, float, np.number)):
        return Expr("const", (), (), value=float(x))
    arr = np.asarray(x)
    if arr.ndim == 0:
        return Expr("const", (), (), value=float(arr))
    raise TraceError(f"only scalars and traced tensors can be combined in a loss, metric or layer, got "
                     f"{type(x).__name__} (an array constant in a layer: create it with add_weight(trainable=False))")


def unary(op, a):
    a = as_expr(a)
    if a.op == "const":
        return Expr("const", (), (), value=float(ELEMENTWISE[op].np(np.float32(a.attrs["value"]))))
    return Expr(op, (a,), a.shape)


def binary(op, a, b):
    a, b = as_expr(a), as_expr(b)
    if a.op == "const" and b.op == "const":
        value = ELEMENTWISE[op].np(np.float32(a.attrs["value"]), np.float32(b.attrs["value"]))
        return Expr("const", (), (), value=float(value))
    return Expr(op, (a, b), broadcast_shapes(a.shape, b.shape))


def _norm_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in axes:
        if not isinstance(ax, int) or not -ndim <= ax < max(ndim, 1):
            raise TraceError(f"axis {axis!r} is out of range for a tensor of rank {ndim}")
        out.append(ax % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def reduce(op, a, axis=None, keepdims=False):
    a = as_expr(a)
    axes = _norm_axes(axis, a.ndim)
    if op in ("argmax", "argmin"):
        if len(axes) != 1:
            raise TraceError(f"{op} needs a single axis")
        keepdims = False
    shape = tuple((1 if i in axes else d) for i, d in enumerate(a.shape) if keepdims or i not in axes)
    return Expr(op, (a,), shape, axis=axes, keepdims=bool(keepdims))


def clip(a, lo, hi):
    a, lo, hi = as_expr(a), as_expr(lo), as_expr(hi)
    shape = broadcast_shapes(broadcast_shapes(a.shape, lo.shape), hi.shape)
    return Expr("clip", (a, lo, hi), shape)


def where(cond, a, b):
    cond, a, b = as_expr(cond), as_expr(a), as_expr(b)
    shape = broadcast_shapes(broadcast_shapes(cond.shape, a.shape), b.shape)
    return Expr("where", (cond, a, b), shape)


def reshape(a, shape):
    a = as_expr(a)
    shape = tuple(shape)
    if shape == a.shape:
        return a
    return Expr("reshape", (a,), shape)


def broadcast_to(a, shape):
    a = as_expr(a)
    shape = tuple(shape)
    if a.shape == shape:
        return a
    broadcast_shapes(a.shape, shape)
    return Expr("broadcast", (a,), shape)


def unbroadcast(g, shape):
    """Sum g down to `shape` (the reverse of broadcasting)."""
    if g.shape == tuple(shape):
        return g
    lead = len(g.shape) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and g.shape[i + lead] != 1)
    out = reduce("sum", g, axes, keepdims=True) if axes else g
    return reshape(out, shape)


# --- structural ops of user layers: matmul, transpose, concatenate, slicing ------------------
def matmul(a, b):
    """a (..., K) times a matrix b (K, N) that does not depend on the batch (a weight): (..., N).
    A vector b (K,) gives (...)."""
    a, b = as_expr(a), as_expr(b)
    if B in b.shape:
        raise TraceError("matmul/dot of two batch-dependent tensors is not supported (the right operand must "
                         "be a weight or a constant of shape (K, N))")
    if b.ndim == 1:
        return reshape(matmul(a, reshape(b, b.shape + (1,))), a.shape[:-1])
    if b.ndim != 2 or a.ndim < 1:
        raise TraceError(f"matmul/dot of {_fmt(a.shape)} and {_fmt(b.shape)}: seqc supports (..., K) x (K, N)")
    if a.shape[-1] != b.shape[0]:
        raise TraceError(f"matmul/dot: shapes {_fmt(a.shape)} and {_fmt(b.shape)} do not align "
                         f"({a.shape[-1]} != {b.shape[0]})")
    return Expr("matmul", (a, b), a.shape[:-1] + (b.shape[1],))


def matmul_nt(a, b):
    """a (..., N) times the transpose of a matrix b (K, N): (..., K), b not materialised
    transposed (the input gradient of matmul)."""
    return Expr("matmul_nt", (a, b), a.shape[:-1] + (b.shape[0],))


def outer_sum(a, g):
    """sum over the leading axes of a[..., k] g[..., n]: (K, N) (the weight gradient of matmul)."""
    return Expr("outer_sum", (a, g), (a.shape[-1], g.shape[-1]))


def transpose(a, perm=None):
    a = as_expr(a)
    perm = tuple(reversed(range(a.ndim))) if perm is None else tuple(int(p) % max(a.ndim, 1) for p in perm)
    if sorted(perm) != list(range(a.ndim)):
        raise TraceError(f"transpose: {perm} is not a permutation of the {a.ndim} axes")
    if perm == tuple(range(a.ndim)):
        return a
    return Expr("transpose", (a,), tuple(a.shape[p] for p in perm), perm=perm)


def concatenate(xs, axis):
    xs = [as_expr(x) for x in xs]
    if not xs:
        raise TraceError("concatenate needs at least one tensor")
    nd = xs[0].ndim
    if not isinstance(axis, int) or not -nd <= axis < nd:
        raise TraceError(f"concatenate: axis {axis!r} is out of range for tensors of rank {nd}")
    axis %= nd
    for x in xs:
        if x.ndim != nd or any(d != e for i, (d, e) in enumerate(zip(x.shape, xs[0].shape)) if i != axis):
            raise TraceError("concatenate: shapes " + ", ".join(_fmt(x.shape) for x in xs) +
                             f" differ outside axis {axis}")
    if xs[0].shape[axis] == B:
        raise TraceError("concatenate along the batch axis is not supported in a layer")
    if len(xs) == 1:
        return xs[0]
    return Expr("concat", xs, xs[0].shape[:axis] + (sum(x.shape[axis] for x in xs),) + xs[0].shape[axis + 1:],
                axis=axis)


def strided_slice(a, begin, step, shape):
    """out[i...] = a[begin + i * step ...] per axis (shape: the output's)."""
    if tuple(shape) == a.shape and all(b == 0 for b in begin) and all(s == 1 for s in step):
        return a
    return Expr("slice", (a,), shape, begin=tuple(begin), step=tuple(step))


def getitem(a, item):
    """Basic indexing: ints, slices, `...` and None; the batch axis is kept whole."""
    items = list(item) if isinstance(item, tuple) else [item]
    if any(isinstance(i, Expr) for i in items) or any(isinstance(i, (list, np.ndarray)) for i in items):
        raise TraceError("indexing a traced tensor with a tensor or a list (advanced indexing) is not supported; "
                         "use slices and integers")
    n_ell = sum(1 for i in items if i is Ellipsis)
    if n_ell > 1:
        raise TraceError("an index can only have a single ellipsis")
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
    if n_real > a.ndim:
        raise TraceError(f"too many indices for a tensor of rank {a.ndim}")
    if n_ell:
        k = items.index(Ellipsis)
        items[k:k + 1] = [slice(None)] * (a.ndim - n_real)
    if not n_ell:
        items += [slice(None)] * (a.ndim - n_real)
    begin, step, sliced, final = [], [], [], []
    axis = 0
    for it in items:
        if it is None:
            final.append(1)
            continue
        d = a.shape[axis]
        if d == B:
            if not (isinstance(it, slice) and it == slice(None)) and not (
                    isinstance(it, slice) and it.start in (None, 0) and it.stop is None and it.step in (None, 1)):
                raise TraceError("indexing the batch axis of a traced tensor is not supported "
                                 "(keep it whole: `x[:, ...]`)")
            begin.append(0)
            step.append(1)
            sliced.append(B)
            final.append(B)
        elif isinstance(it, slice):
            start, stop, st = it.indices(d)
            n = len(range(start, stop, st))
            if n == 0:
                raise TraceError(f"the slice {it} of an axis of size {d} is empty")
            begin.append(start)
            step.append(st)
            sliced.append(n)
            final.append(n)
        elif isinstance(it, (int, np.integer)) and not isinstance(it, bool):
            i = int(it)
            if not -d <= i < d:
                raise TraceError(f"index {i} is out of range for an axis of size {d}")
            begin.append(i % d)
            step.append(1)
            sliced.append(1)
        else:
            raise TraceError(f"cannot index a traced tensor with {type(it).__name__}")
        axis += 1
    return reshape(strided_slice(a, begin, step, tuple(sliced)), tuple(final))



def topo_order(root):
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for a in reversed(node.args):
            if id(a) not in seen:
                stack.append((a, False))
    return order


def count(shape, batch):
    n = 1
    for d in shape:
        n *= batch if d == B else d
    return n


# --- numpy evaluation (the reference the C is tested against) -------------------------------
def evaluate(root, y_true, y_pred):
    y_true = np.asarray(y_true, np.float32)
    return evaluate_leaves(root, {"y_true": y_true, "y_pred": np.asarray(y_pred, np.float32)}, y_true.shape[0])


def _index_arrays(begin, step, shape, batch):
    """numpy's open-mesh index of a strided slice: begin + i * step along each axis."""
    return np.ix_(*[np.arange(batch if d == B else d) * s + b for b, s, d in zip(begin, step, shape)])


def evaluate_leaves(root, leaves, batch):
    """numpy value of `root` given its leaves' values: {'y_true': ..., 'x': ..., ('w', 0): ...}
    (a weight leaf is keyed by ('w', index)); `batch` is the size of the batch axis B."""
    vals = {}
    for n in topo_order(root):
        a = [vals[id(x)] for x in n.args]
        if n.op == "w":
            v = np.asarray(leaves[("w", n.attrs["index"])], np.float32)
        elif n.op in leaves:
            v = np.asarray(leaves[n.op], np.float32)
        elif n.op == "matmul":
            v = a[0] @ a[1]
        elif n.op == "matmul_nt":
            v = a[0] @ a[1].T
        elif n.op == "outer_sum":
            v = a[0].reshape(-1, a[0].shape[-1]).T @ a[1].reshape(-1, a[1].shape[-1])
        elif n.op == "transpose":
            v = np.transpose(a[0], n.attrs["perm"])
        elif n.op == "concat":
            v = np.concatenate(a, axis=n.attrs["axis"])
        elif n.op == "slice":
            v = a[0][_index_arrays(n.attrs["begin"], n.attrs["step"], n.shape, batch)]
        elif n.op == "unslice":
            v = np.zeros(tuple(batch if d == B else d for d in n.shape), np.float32)
            v[_index_arrays(n.attrs["begin"], n.attrs["step"], n.args[0].shape, batch)] = a[0]
        elif n.op == "const":
            v = np.float32(n.attrs["value"])
        elif n.op in ELEMENTWISE:
            v = ELEMENTWISE[n.op].np(*a)
        elif n.op == "clip":
            v = np.minimum(np.maximum(a[0], a[1]), a[2])
        elif n.op == "where":
            v = np.where(a[0] != 0, a[1], a[2])
        elif n.op in ("argmax", "argmin"):
            v = REDUCE[n.op](a[0], axis=n.attrs["axis"][0]).astype(np.float32)
        elif n.op in REDUCE:
            v = REDUCE[n.op](a[0], axis=n.attrs["axis"], keepdims=n.attrs["keepdims"])
        elif n.op == "reshape":
            v = a[0].reshape(tuple(batch if d == B else d for d in n.shape))
        elif n.op == "broadcast":
            v = np.broadcast_to(a[0], tuple(batch if d == B else d for d in n.shape))
        elif n.op == "iota":
            v = np.arange(n.shape[0], dtype=np.float32)
        elif n.op == "inv_batch":
            v = np.float32(1.0 / batch)
        else:
            raise TraceError(f"cannot evaluate op {n.op}")
        vals[id(n)] = np.asarray(v, np.float32)
    return vals[id(root)]


# --- reverse-mode differentiation: builds the gradient as more Expr nodes -------------------
def grad(root, wrt):
    """d(root)/d(wrt) as an Expr of wrt's shape; root must be a scalar (shape ())."""
    if root.shape != ():
        raise TraceError("can only differentiate a scalar")
    return vjp(root, Expr("const", (), (), value=1.0), [wrt])[0]


def vjp(root, seed, wrts):
    """The vector-Jacobian products seed^T d(root)/d(w) for each w of `wrts`, as Exprs of the
    w's shapes (seed: root's shape, the gradient flowing into root)."""
    grads = {id(root): seed}
    for n in reversed(topo_order(root)):
        g = grads.get(id(n))
        if g is None or n.op in NONDIFF or not n.args:
            continue
        for arg, ga in zip(n.args, _vjp(n, g)):
            if ga is None:
                continue
            ga = unbroadcast(ga, arg.shape)
            prev = grads.get(id(arg))
            grads[id(arg)] = ga if prev is None else binary("add", prev, ga)
    out = []
    for wrt in wrts:
        g = grads.get(id(wrt))
        if g is None:
            out.append(broadcast_to(Expr("const", (), (), value=0.0), wrt.shape))
        else:
            out.append(broadcast_to(g, wrt.shape))
    return out


def _vjp(n, g):
    op, args = n.op, n.args
    a = args[0]
    if op in ELEMENTWISE:
        return ELEMENTWISE[op].vjp(g, n, *args)
    if op == "clip":
        inside = binary("logical_and", binary("greater_equal", a, args[1]), binary("less_equal", a, args[2]))
        return [g * inside, None, None]
    if op == "where":
        c = args[0]
        return [None, g * unary("tofloat_bool", c), g * (1.0 - unary("tofloat_bool", c))]
    if op in ("sum", "mean"):
        axes, keep = n.attrs["axis"], n.attrs["keepdims"]
        gk = g if keep else reshape(g, tuple(1 if i in axes else d for i, d in enumerate(a.shape)))
        if op == "mean":   # divide by the count: constant axes times, maybe, the batch size
            k, over_batch = 1, False
            for i in axes:
                if a.shape[i] == B:
                    over_batch = True
                else:
                    k *= a.shape[i]
            if k != 1:
                gk = gk * (1.0 / k)
            if over_batch:
                gk = gk * Expr("inv_batch", (), ())
        return [broadcast_to(gk, a.shape)]
    if op in ("max", "min"):
        axes, keep = n.attrs["axis"], n.attrs["keepdims"]
        shape_k = tuple(1 if i in axes else d for i, d in enumerate(a.shape))
        mk = n if keep else reshape(n, shape_k)
        hit = binary("equal", a, mk)
        cnt = reduce("sum", hit, axes, keepdims=True)
        gk = g if keep else reshape(g, shape_k)
        return [gk * hit / cnt]
    if op == "prod":
        axes, keep = n.attrs["axis"], n.attrs["keepdims"]
        shape_k = tuple(1 if i in axes else d for i, d in enumerate(a.shape))
        nk = n if keep else reshape(n, shape_k)
        gk = g if keep else reshape(g, shape_k)
        return [gk * nk / a]
    if op == "reshape":
        return [reshape(g, a.shape)]
    if op == "broadcast":
        return [unbroadcast(g, a.shape)]
    if op == "matmul":
        b = args[1]
        ga = matmul_nt(g, b)
        gb = outer_sum(a, g) if B not in b.shape else None
        return [ga, gb]
    if op == "matmul_nt":
        b = args[1]
        return [matmul(g, b), outer_sum(g, a) if B not in b.shape else None]
    if op == "transpose":
        inv = [0] * len(n.attrs["perm"])
        for i, p in enumerate(n.attrs["perm"]):
            inv[p] = i
        return [transpose(g, inv)]
    if op == "concat":
        axis, off, out = n.attrs["axis"], 0, []
        for x in args:
            begin = [0] * len(x.shape)
            begin[axis] = off
            out.append(strided_slice(g, begin, [1] * len(x.shape), x.shape))
            off += x.shape[axis]
        return out
    if op == "slice":
        return [Expr("unslice", (g,), a.shape, begin=n.attrs["begin"], step=n.attrs["step"])]
    if op == "unslice":
        return [strided_slice(g, n.attrs["begin"], n.attrs["step"], a.shape)]
    raise TraceError(f"no gradient rule for {op}")


def trace(fn, y_true_shape, y_pred_shape, what):
    """Call a user loss/metric function on symbolic leaves; returns the output Expr."""
    yt = Expr("y_true", (), (B,) + tuple(y_true_shape))
    yp = Expr("y_pred", (), (B,) + tuple(y_pred_shape))
    try:
        out = fn(yt, yp)
    except TraceError as e:
        raise TraceError(str(e)) from None
    if isinstance(out, dict) or isinstance(out, (list, tuple)):
        raise TraceError(f"{what} must return a single tensor")
    return as_expr(out)
