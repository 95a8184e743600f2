"""Static front end: a Keras script -> ModelSpec, read with Python's `ast` and never executed.

A small interpreter walks the module: it follows imports of Keras (`keras`, `tensorflow.keras`,
`seqc.keras`, under any alias), constant assignments and arithmetic, `Sequential([...])`,
`.add(...)`, optimizer objects and `model.compile(...)`, and the `def`s of user functions.
Layers, optimizers, losses and metrics are built by calling the real `seqc.keras` classes with
the evaluated arguments, so both front ends share one set of argument rules; each object's
`loc` is then set to the script's file and line.

Everything else (numpy data, `fit`, `print`, file I/O...) evaluates to an `Unknown`: harmless
until the model needs it, then an error naming the name and line, with the `-D NAME=VALUE`
that would supply it. A user `def` used as a loss or metric becomes a Python callable that
interprets its body when the lowering traces it with symbolic tensors (seqc.trace.Expr), so
it builds the same graph a real Python function would.
"""
import ast
import builtins
import inspect
import math
import operator
import os
import re

from ..errors import SeqcError, SourceLoc
from ..spec import format_shape
from . import keras_paths
from .source import parse_defines, read_source  # noqa: F401  (re-exported)

_MAX_LOOP = 100_000          # iterations of a static loop before we give up
_MAX_DEPTH = 60              # nested user-function calls
_MAX_SIZE = 1_000_000        # elements (and characters) in a computed str/list/tuple/dict
_MAX_STEPS = 100_000         # statements, loop items and calls interpreted in one parse (~1 s)
_LOOP_STEPS = 20_000         # of which one loop that does not build the model may take
_MAX_LAYERS = 1_000          # layers of one model
_MAX_INT_BITS = 64           # a computed int stays below 2**64 in magnitude
_MAX_NESTING = 200           # levels of nested expressions


# ---------------------------------------------------------------------------------------------
# values the interpreter cannot know
# ---------------------------------------------------------------------------------------------
class Unknown:
    """A value seqc compile cannot know statically. Harmless until something the model needs
    depends on it; then `error()` says why, where, and which -D would supply it.

    kind 'undefined': a name that is never assigned (`name`);
    kind 'runtime':   computed by code seqc does not run (`text`, at `line`; `name` if bound);
    kind 'error':     a deferred error (`message` at `line`), e.g. a constructor that failed.
    """
    __slots__ = ("kind", "message", "line", "name", "text", "at_use")

    def __init__(self, kind, message=None, line=None, name=None, text=None, at_use=False):
        self.kind, self.message, self.line, self.name, self.text, self.at_use = kind, message, line, name, text, at_use

    def copy(self, **changes):
        u = Unknown(self.kind, self.message, self.line, self.name, self.text, self.at_use)
        for k, v in changes.items():
            setattr(u, k, v)
        return u

    def describe(self):
        if self.kind == "undefined":
            return f"name {self.name!r} is not defined (pass -D {self.name}=VALUE)"
        if self.kind == "error":
            return self.message
        if self.name:
            return (f"{self.name!r} cannot be evaluated statically: it comes from `{self.text}` (line {self.line}), "
                    f"which seqc compile does not run (pass -D {self.name}=VALUE)")
        return f"`{self.text}` cannot be evaluated statically (seqc compile does not run the script)"

    def error(self, file, use_line):
        line = use_line if (self.kind == "runtime" and self.name) or self.line is None else self.line
        return SeqcError(self.describe(), SourceLoc(file, line))

    def __repr__(self):
        return f"<Unknown {self.describe()}>"


def _text(node, limit=60):
    try:
        s = ast.unparse(node)
    except Exception:  # pragma: no cover
        s = type(node).__name__
    s = " ".join(s.split())
    return s if len(s) <= limit else s[:limit - 3] + "..."


def _first_unknown(value, depth=0):
    """The first Unknown inside a value (searching lists, tuples, dicts), or None."""
    if isinstance(value, Unknown):
        return value
    if depth > 20:
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            u = _first_unknown(v, depth + 1)
            if u is not None:
                return u
    elif isinstance(value, dict):
        for k, v in value.items():
            u = _first_unknown(k, depth + 1) or _first_unknown(v, depth + 1)
            if u is not None:
                return u
    return None


_EXPR = []


def _is_traced(*values):
    if not _EXPR:
        from ..trace import Expr
        _EXPR.append(Expr)
    return any(isinstance(v, _EXPR[0]) for v in values)


_BODY_ERROR = []


def _body_error(message):
    """A seqc.trace.TraceError raised inside an interpreted loss/metric body (its message names
    the line). The class is made on first use, so that importing this module stays light."""
    if not _BODY_ERROR:
        from ..trace import TraceError

        class BodyTraceError(TraceError):
            pass
        _BODY_ERROR.append(BodyTraceError)
    return _BODY_ERROR[0](message)


# ---------------------------------------------------------------------------------------------
# modules: keras (under any of its names), tensorflow, opaque others
# ---------------------------------------------------------------------------------------------
class KerasModule:
    """A Keras module as the script sees it; attributes resolve in the matching seqc.keras module."""

    def __init__(self, path):
        self.path = tuple(path)

    def dotted(self):
        return ".".join(("keras",) + self.path)

    def real(self):
        name = keras_paths.SUBMODULES.get(self.path)
        if name is None:
            return None
        import importlib
        return importlib.import_module(name)

    def getattr(self, attr, line):
        sub = keras_paths.normalize(self.path + (attr,))
        if sub in keras_paths.SUBMODULES or (self.path == () and attr in keras_paths.NOT_PROVIDED):
            return KerasModule(sub)
        mod = self.real()
        if mod is None:       # keras.datasets, keras.preprocessing...: data, not the model
            return Unknown("runtime", text=f"{self.dotted()}.{attr}", line=line)
        if not attr.startswith("_") and hasattr(mod, attr):
            value = getattr(mod, attr)
            if inspect.ismodule(value):   # e.g. seqc.keras.utils.np
                return Unknown("runtime", text=f"{self.dotted()}.{attr}", line=line)
            return value
        return Unknown("error", message=keras_paths.missing_message(self.path, attr), line=line, at_use=True)

    def __repr__(self):
        return f"<module {self.dotted()}>"


class TFModule:
    """`import tensorflow as tf`: only `tf.keras` matters to the model."""

    def getattr(self, attr, line):
        if attr == "keras":
            return KerasModule(())
        if attr in ("initializers", "optimizers", "losses", "metrics"):   # TF 2's aliases of tf.keras.<attr>
            return KerasModule((attr,))
        if attr == "compat":
            return _TFCompat()
        from ..keras import tf_ops         # tf.reduce_mean, tf.nn.relu, ... for user layers
        if attr in ("nn", "math"):
            return _TFNamespace(attr, tf_ops.NN if attr == "nn" else tf_ops.MATH)
        if attr in tf_ops.TOP:
            return tf_ops.TOP[attr]
        return Unknown("runtime", text=f"tensorflow.{attr}", line=line)

    def __repr__(self):
        return "<module tensorflow>"


class _TFNamespace:
    """`tf.nn` / `tf.math`: the functions seqc.keras.tf_ops provides for user layers."""

    def __init__(self, name, functions):
        self.name, self.functions = name, functions

    def getattr(self, attr, line):
        if attr in self.functions:
            return self.functions[attr]
        return Unknown("runtime", text=f"tensorflow.{self.name}.{attr}", line=line)

    def __repr__(self):
        return f"<module tensorflow.{self.name}>"


class _TFCompat:
    def getattr(self, attr, line):
        return TFModule() if attr in ("v1", "v2") else Unknown("runtime", text=f"tensorflow.compat.{attr}", line=line)


class SeqcRoot:
    """`import seqc`: `seqc.keras` is Keras."""

    def getattr(self, attr, line):
        if attr == "keras":
            return KerasModule(())
        return Unknown("runtime", text=f"seqc.{attr}", line=line)


class PureModule:
    """A standard-library module whose functions are pure (math): callable with known arguments."""

    def __init__(self, module):
        self.module = module

    def getattr(self, attr, line):
        if self.module is math and attr in _MATH:
            return _MATH[attr]
        return Unknown("runtime", text=f"{self.module.__name__}.{attr}", line=line)


_MODULE_TYPES = (KerasModule, TFModule, _TFCompat, _TFNamespace, SeqcRoot, PureModule)


# ---------------------------------------------------------------------------------------------
# builtins a shape computation may use
# ---------------------------------------------------------------------------------------------
def _materialize(fn):
    def wrapped(*args, **kwargs):
        out = list(fn(*args, **kwargs))
        if len(out) > _MAX_SIZE:
            raise ValueError("sequence too long for a static evaluation")
        return out
    wrapped.__name__ = fn.__name__
    return wrapped


_BUILTINS = {name: getattr(builtins, name)
             for name in ("int", "float", "str", "bool", "tuple", "list", "dict", "set", "frozenset", "len",
                          "min", "max", "abs", "round", "sum", "pow", "divmod", "any", "all", "range",
                          "isinstance", "repr", "format", "ord", "chr", "slice")}


def _range(*args):
    r = range(*args)
    if len(r) > _MAX_SIZE:
        raise ValueError(f"range of {len(r)} items is too long for a static evaluation")
    return r


def _pow(base, exp, mod=None):
    if mod is None:
        _guard_binop(operator.pow, base, exp)
        return _guard_int(pow(base, exp))
    if isinstance(exp, int) and exp.bit_length() > _MAX_INT_BITS:
        raise _too_big("an exponent is")
    return pow(base, exp, mod)


def _format(value, spec=""):
    _guard_format(spec)
    return format(value, spec)


_BUILTINS.update(zip=_materialize(zip), enumerate=_materialize(enumerate), reversed=_materialize(reversed),
                 sorted=sorted, range=_range, pow=_pow, format=_format)
_MATH = {name: getattr(math, name) for name in (
    "ceil", "floor", "trunc", "sqrt", "isqrt", "exp", "log", "log2", "log10", "log1p", "expm1", "fabs", "gcd",
    "sin", "cos", "tan", "tanh", "atan", "hypot", "isfinite", "isnan", "isinf", "copysign", "fmod", "modf",
    "pi", "e", "inf", "nan", "tau")}
_BUILTIN_IDS = {id(f) for f in _BUILTINS.values()} | {id(f) for f in _MATH.values() if callable(f)}
_BUILTIN_CONSTS = {"True": True, "False": False, "None": None, "Ellipsis": Ellipsis}
_PURE_STDLIB = {"math": math}
_SAFE_TYPES = (str, list, tuple, dict, set, frozenset, int, float, bool, complex, range, bytes)

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
           ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
           ast.BitAnd: operator.and_, ast.BitXor: operator.xor, ast.MatMult: operator.matmul}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
           ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert, ast.Not: operator.not_}


def _weight(value, cap=_MAX_SIZE):
    """Elements plus characters in a value, counted through nested containers (shared ones
    as often as they occur, as str() would print them); stops counting past `cap`."""
    total, stack = 0, [value]
    while stack and total <= cap:
        v = stack.pop()
        if isinstance(v, (str, bytes)):
            total += len(v)
        elif isinstance(v, (list, tuple, set, frozenset)):
            total += len(v)
            stack.extend(v)
        elif isinstance(v, dict):
            total += len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, range):
            total += len(v)
        else:
            total += 1
    return total


class _TooBig(ValueError):
    pass


def _too_big(what):
    return _TooBig(f"{what} too large for a static evaluation (seqc compile computes only small constants)")


def _guard_int(value):
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise _too_big(f"an integer of {value.bit_length()} bits (more than 2**{_MAX_INT_BITS}) is")
    return value


_FORMAT_WIDTH = re.compile(r"\d{7,}")


def _guard_format(spec):
    """A format spec or %-format asking for a width or precision of a million characters or more."""
    if isinstance(spec, str) and _FORMAT_WIDTH.search(spec):
        raise _too_big("a format width is")


def _guard_binop(op, a, b):
    """Refuse computations that would hang or exhaust memory (10**10**10, 'x' * 10**12,
    x = x * x in a loop) before computing them."""
    ints = isinstance(a, int) and isinstance(b, int)
    if ints and op is operator.pow and b > 0 and abs(a) > 1 and (abs(a).bit_length() - 1) * b > _MAX_INT_BITS:
        raise _too_big(f"{a} ** {b} is")
    if ints and op is operator.mul and a.bit_length() + b.bit_length() > _MAX_INT_BITS + 1:
        raise _too_big("a product of integers is")
    if ints and op is operator.lshift and b > 0 and a and a.bit_length() + b > _MAX_INT_BITS:
        raise _too_big("a shifted integer is")
    if op is operator.add and isinstance(a, (str, list, tuple, bytes)) and isinstance(b, (str, list, tuple, bytes)):
        if _weight(a) + _weight(b) > _MAX_SIZE:
            raise _too_big("a sequence is")
    if op is operator.mul:
        for seq, n in ((a, b), (b, a)):
            if isinstance(seq, (str, list, tuple, bytes)) and isinstance(n, int) and n > 0 and \
                    _weight(seq) * n > _MAX_SIZE:
                raise _too_big("a sequence is")
    if op is operator.mod and isinstance(a, (str, bytes)):
        _guard_format(a if isinstance(a, str) else a.decode("latin-1"))


# ---------------------------------------------------------------------------------------------
# control flow
# ---------------------------------------------------------------------------------------------
class _Return(Exception):
    def __init__(self, value):
        self.value = value


class _Break(Exception):
    pass


class _OverBudget(BaseException):
    """The step budget ran out. Not an Exception, so that no handler of the interpreter that
    turns errors into deferred Unknowns can swallow it."""


class _Continue(Exception):
    pass


_MODEL_METHODS = {"add", "compile", "pop"}


def _shapes_model(nodes):
    """Does this code (syntactically) build or compile a model?"""
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Call):
                f = n.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
                if name in _MODEL_METHODS or name in ("Sequential",):
                    return True
    return False


def _assigned_names(nodes):
    out = []
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                out.append(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.append(n.name)
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name):
                out.append(n.func.value.id)      # items.append(...) changes `items`
    return out


# ---------------------------------------------------------------------------------------------
# user functions
# ---------------------------------------------------------------------------------------------
class UserFunction:
    """A `def` (or `lambda`) of the script. Calling it interprets its body; called by the
    lowering with seqc.trace.Expr leaves it builds the loss/metric graph with backend ops."""

    def __init__(self, interp, node, defaults, kw_defaults, scope):
        self._interp = interp
        self._node = node
        self._scope = scope            # enclosing function scope (closures), or None at module level
        self.__name__ = getattr(node, "name", "<lambda>")
        self.__qualname__ = self.__name__
        self.line = node.lineno
        self.__signature__ = self._signature(node.args, defaults, kw_defaults)
        self.method_of = None          # the script class whose method this is (for `super()`)

    @staticmethod
    def _signature(args, defaults, kw_defaults):
        P = inspect.Parameter
        params = []
        positional = list(args.posonlyargs) + list(args.args)
        first_default = len(positional) - len(defaults)
        for i, a in enumerate(positional):
            kind = P.POSITIONAL_ONLY if i < len(args.posonlyargs) else P.POSITIONAL_OR_KEYWORD
            default = defaults[i - first_default] if i >= first_default else P.empty
            params.append(P(a.arg, kind, default=default))
        if args.vararg:
            params.append(P(args.vararg.arg, P.VAR_POSITIONAL))
        for a, d in zip(args.kwonlyargs, kw_defaults):
            params.append(P(a.arg, P.KEYWORD_ONLY, default=P.empty if d is _NO_DEFAULT else d))
        if args.kwarg:
            params.append(P(args.kwarg.arg, P.VAR_KEYWORD))
        return inspect.Signature(params)

    def bind(self, args, kwargs):
        """Python's argument binding; a TypeError names the function, as Python does."""
        try:
            bound = self.__signature__.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__name__}() {e}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def run(self, values):
        interp = self._interp
        if interp.depth >= _MAX_DEPTH:
            raise _TooDeep(f"{self.__name__}(): calls nested too deeply for a static evaluation",
                           SourceLoc(interp.file, self.line))
        interp.step(self.line, cost=5)      # a call costs several statements' worth
        if self.method_of is not None and values:
            values.setdefault("super", _super_of(self.method_of, next(iter(values.values()))))
        local = _Scope(values, parent=self._scope)
        saved_line = interp.line
        interp.depth += 1
        in_method = int(self.method_of is not None)
        interp.method_depth += in_method
        try:
            if isinstance(self._node, ast.Lambda):
                result = interp.eval(self._node.body, local)
            else:
                try:
                    interp.exec_block(self._node.body, local)
                    result = None
                except _Return as r:
                    result = r.value
        finally:
            interp.depth -= 1
            interp.method_depth -= in_method
        interp.line = saved_line
        return result

    def __call__(self, *args, **kwargs):
        """Called by the lowering with Expr leaves (or by seqc.keras code with anything)."""
        from ..trace import TraceError
        interp = self._interp
        values = self.bind(args, kwargs)
        traced = _is_traced(*args, *kwargs.values())
        if traced:                   # called by the lowering: a fresh budget for the body
            interp.steps, interp.budget, interp.loop_depth = 0, _MAX_STEPS, 0
        try:
            result = self.run(values)
        except _OverBudget:
            raise _body_error(f"{self.__name__}() computes too much to trace (line {interp.line}); a loss or "
                              "metric is a formula of keras.backend / keras.ops functions") from None
        except SeqcError:
            raise
        except (TraceError, ValueError, TypeError, ArithmeticError) as e:
            if not traced or (_BODY_ERROR and isinstance(e, _BODY_ERROR[0])):
                raise
            raise _body_error(f"{e} (line {interp.line})") from None
        if isinstance(result, Unknown) and traced:
            # a loss/metric computed something that is not a backend op (numpy, a runtime value)
            line = result.line or interp.line
            what = (f"`{result.text}` is not a keras.backend / keras.ops function" if result.kind == "runtime"
                    else result.describe())
            raise _body_error(f"{what} (line {line}); seqc traces losses, metrics and layers written with "
                                  "keras.backend / keras.ops functions")
        return result

    def __repr__(self):
        return f"<function {self.__name__} (line {self.line})>"


_NO_DEFAULT = object()


def _as_method(fn):
    """A script method as a real function, so that Python binds `self` when it is called."""
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    method.__name__ = method.__qualname__ = fn.__name__
    return method


def _super_of(cls, obj):
    """`super()` inside a method of script class `cls` called on `obj` (or `super(C, obj)`)."""
    def make(*args):
        return super(*args) if args else super(cls, obj)
    make.__name__ = "super"
    return make


class _Scope:
    """A function's local variables; `parent` is the enclosing function's scope (closures)."""

    def __init__(self, values, parent=None):
        self.values = values
        self.parent = parent
        self.globals = set()


# ---------------------------------------------------------------------------------------------
# the interpreter
# ---------------------------------------------------------------------------------------------
class _ModelMethod:
    def __init__(self, model, name):
        self.model = model
        self.name = name


class Interpreter:
    def __init__(self, file, defines=None):
        from ..keras import layers as _layers
        self.file = file
        self.defines = dict(defines or {})
        self.env = {"__name__": "__main__", "__file__": file, "__doc__": None}
        self.env.update(self.defines)
        self.star_modules = []        # keras modules imported with `*`
        self.models = []              # every Sequential built, in order
        self.compiled = []            # models in the order of their compile() calls
        self.missing_model = None     # `Sequential()` called without importing it
        self.depth = 0
        self.steps = 0
        self.budget = _MAX_STEPS
        self.loop_depth = 0
        self.line = None              # line of the statement being interpreted
        self.method_depth = 0         # methods of script classes (user layers) being interpreted
        _layers.reset_names()

    # ---- helpers --------------------------------------------------------------------------
    def loc(self, node_or_line):
        line = node_or_line if isinstance(node_or_line, int) or node_or_line is None else node_or_line.lineno
        return SourceLoc(self.file, line)

    def require(self, value, node):
        """The value, or the SeqcError explaining why the model cannot have it."""
        u = _first_unknown(value)
        if u is not None:
            raise u.error(self.file, node.lineno)
        return value

    # ---- statements -----------------------------------------------------------------------
    def run(self, tree):
        self.exec_block(tree.body, None)

    def exec_block(self, stmts, scope):
        for s in stmts:
            self.exec_stmt(s, scope)

    def step(self, line, cost=1):
        self.steps += cost
        if self.steps > self.budget:
            raise _OverBudget()

    def run_loop(self, s, scope, what, run):
        """Run a loop (`run()`) within a share of the step budget. The outermost loop that does
        not build the model and runs out of its share is skipped: the names it assigns are
        unknown, as for a loop over run-time data. One that builds the model is an error."""
        outer_budget = self.budget
        self.loop_depth += 1
        if self.loop_depth == 1:
            self.budget = min(outer_budget, self.steps + _LOOP_STEPS)
        try:
            run()
        except _OverBudget:
            if self.loop_depth > 1:
                raise
            if _shapes_model([s]) or self.steps >= outer_budget:
                raise SeqcError(f"this {what} runs too long to evaluate statically (seqc compile reads the "
                                f"script without running it, and stops after {_LOOP_STEPS:,} steps of a loop); "
                                f"run the script with `seqc run {os.path.basename(self.file)}` instead",
                                self.loc(s)) from None
            self.forget(_assigned_names([s]), scope, what, s.lineno)
        finally:
            self.loop_depth -= 1
            if self.loop_depth == 0:
                self.budget = outer_budget

    def exec_stmt(self, s, scope):
        self.line = s.lineno
        self.step(s.lineno)
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is not None:
            method(s, scope)
        # anything else (class bodies, async code, match...) does not shape a Sequential model

    def stmt_Expr(self, s, scope):
        value = self.eval(s.value, scope)
        if self.method_depth and isinstance(value, Unknown) and value.kind == "error":
            # in a user layer's method a failed call (super().__init__(bad=1)) is the layer's error
            raise value.error(self.file, s.lineno)

    def stmt_Pass(self, s, scope):
        pass

    def stmt_Assign(self, s, scope):
        value = self.eval(s.value, scope)
        if self.method_depth and isinstance(value, Unknown) and value.kind == "error":
            raise value.error(self.file, s.lineno)     # e.g. self.w = self.add_weight(bad=...)
        if isinstance(value, Unknown) and value.kind == "runtime":
            value = value.copy(text=_text(s.value), line=s.lineno, name=None)
        for target in s.targets:
            self.assign(target, value, scope, s)

    def stmt_AnnAssign(self, s, scope):
        if s.value is not None:
            self.stmt_Assign(ast.Assign(targets=[s.target], value=s.value, lineno=s.lineno), scope)

    def stmt_AugAssign(self, s, scope):
        target = s.target
        load = ast.Name(id=target.id, ctx=ast.Load(), lineno=s.lineno) if isinstance(target, ast.Name) else None
        if load is None:
            if isinstance(target, (ast.Attribute, ast.Subscript)):
                t = type(target)(**{f: getattr(target, f) for f in target._fields})
                t.ctx = ast.Load()
                ast.copy_location(t, target)
                load = t
            else:  # pragma: no cover
                return
        expr = ast.BinOp(left=load, op=s.op, right=s.value)
        ast.copy_location(expr, s)
        self.stmt_Assign(ast.Assign(targets=[target], value=expr, lineno=s.lineno), scope)

    def assign(self, target, value, scope, stmt):
        if isinstance(target, ast.Name):
            self.bind(target.id, value, scope)
        elif isinstance(target, (ast.Tuple, ast.List)):
            n = len(target.elts)
            star = [i for i, t in enumerate(target.elts) if isinstance(t, ast.Starred)]
            items = None
            if not isinstance(value, Unknown):
                try:
                    items = list(value)
                except TypeError:
                    items = None
            if items is not None and not star and len(items) != n:
                items = None
            if items is not None and star:
                i = star[0]
                after = n - i - 1
                if len(items) < n - 1:
                    items = None
                else:
                    items = items[:i] + [items[i:len(items) - after]] + items[len(items) - after:]
            for i, t in enumerate(target.elts):
                t = t.value if isinstance(t, ast.Starred) else t
                if items is not None:
                    v = items[i]
                elif isinstance(value, Unknown):
                    v = value
                else:
                    v = Unknown("runtime", text=_text(stmt.value if hasattr(stmt, "value") else target),
                                line=stmt.lineno)
                self.assign(t, v, scope, stmt)
        elif isinstance(target, ast.Attribute):
            obj = self.eval(target.value, scope)
            self.set_attribute(obj, target.attr, value, target)
        elif isinstance(target, ast.Subscript):
            obj = self.eval(target.value, scope)
            key = self.eval(target.slice, scope)
            if isinstance(obj, (list, dict)) and not isinstance(key, Unknown):
                try:
                    obj[key] = value
                except (TypeError, IndexError, KeyError, ValueError):
                    pass
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value, scope, stmt)

    def bind(self, name, value, scope):
        if scope is None or name in scope.globals:
            if name in self.defines:        # -D NAME=VALUE overrides the script's assignments
                return
            self.env[name] = value
        else:
            scope.values[name] = value

    def set_attribute(self, obj, attr, value, node):
        from ..keras.layers import Layer
        from ..keras.models import Sequential
        if isinstance(obj, Layer) and not _is_seqc_object(obj) and attr != "trainable":
            if not attr.startswith("__"):       # a user layer's own state: self.units = units
                setattr(obj, attr, value)
            return
        if attr != "trainable":
            return
        if isinstance(obj, (Layer, Sequential)):
            value = self.require(value, node)
            if not isinstance(value, bool):
                raise SeqcError(f"`trainable` must be a boolean, got {value!r}", self.loc(node))
            for layer in (obj.layers if isinstance(obj, Sequential) else [obj]):
                layer.trainable = value

    def stmt_Delete(self, s, scope):
        for t in s.targets:
            if isinstance(t, ast.Name):
                values = self.env if scope is None or t.id in scope.globals else scope.values
                values.pop(t.id, None)

    def stmt_Import(self, s, scope):
        for alias in s.names:
            name = alias.name
            if alias.asname:
                self.bind(alias.asname, self.module_value(name, s.lineno), scope)
            else:
                top = name.split(".")[0]
                self.bind(top, self.module_value(top, s.lineno), scope)

    def stmt_ImportFrom(self, s, scope):
        if s.level or not s.module:
            for alias in s.names:
                if alias.name != "*":
                    self.bind(alias.asname or alias.name,
                              Unknown("runtime", text=f"from {'.' * s.level}{s.module or ''} import {alias.name}",
                                      line=s.lineno), scope)
            return
        if s.module == "__future__":
            return
        mod = self.module_value(s.module, s.lineno)
        for alias in s.names:
            if alias.name == "*":
                if isinstance(mod, KerasModule) and mod.real() is not None:
                    self.star_modules.append(mod)
                    real = mod.real()
                    public = getattr(real, "__all__", None) or [n for n in vars(real) if not n.startswith("_")]
                    for n in public:
                        v = mod.getattr(n, s.lineno)
                        if not isinstance(v, Unknown):
                            self.bind(n, v, scope)
                continue
            self.bind(alias.asname or alias.name, self.attribute_of(mod, alias.name, s.lineno), scope)

    def module_value(self, dotted, line):
        sub = keras_paths.keras_subpath(dotted)
        if sub is not None:
            return KerasModule(sub)
        if dotted == "tensorflow":
            return TFModule()
        if dotted == "seqc":
            return SeqcRoot()
        if dotted in _PURE_STDLIB:
            return PureModule(_PURE_STDLIB[dotted])
        return Unknown("runtime", text=f"import {dotted}", line=line)

    def stmt_FunctionDef(self, s, scope):
        defaults = [self.eval(d, scope) for d in s.args.defaults]
        kw_defaults = [_NO_DEFAULT if d is None else self.eval(d, scope) for d in s.args.kw_defaults]
        self.bind(s.name, UserFunction(self, s, defaults, kw_defaults, scope), scope)

    def stmt_AsyncFunctionDef(self, s, scope):
        self.bind(s.name, Unknown("runtime", text=f"async def {s.name}", line=s.lineno), scope)

    def stmt_ClassDef(self, s, scope):
        """A subclass of keras.layers.Layer (a user layer) becomes a real class whose methods
        interpret their bodies (UserFunction); any other class is an error where it is used."""
        from ..keras.layers import Layer
        bases = [self.eval(b, scope) for b in s.bases]
        if not bases or s.keywords or not all(isinstance(b, type) and issubclass(b, Layer) for b in bases):
            self.bind(s.name, Unknown("error", line=s.lineno, at_use=True,
                                      message=f"class {s.name} is defined in the script (line {s.lineno}); seqc "
                                              "compile reads classes derived from keras.layers.Layer only (run "
                                              "the script with `seqc run` for other classes)"), scope)
            return
        ns, methods = {"__module__": "__main__", "__qualname__": s.name, "__doc__": ast.get_docstring(s)}, []
        for item in s.body:
            if isinstance(item, ast.FunctionDef):
                if any(isinstance(d, ast.Name) and d.id in ("property", "staticmethod", "classmethod")
                       for d in item.decorator_list) or (item.name.startswith("__") and item.name != "__init__"):
                    continue             # Python's other special methods are not interpreted
                defaults = [self.eval(d, scope) for d in item.args.defaults]
                kw_defaults = [_NO_DEFAULT if d is None else self.eval(d, scope) for d in item.args.kw_defaults]
                fn = UserFunction(self, item, defaults, kw_defaults, scope)
                methods.append(fn)
                ns[item.name] = _as_method(fn)
            elif isinstance(item, ast.Assign) and all(isinstance(t, ast.Name) and not t.id.startswith("__")
                                                      for t in item.targets):
                value = self.eval(item.value, scope)
                if not isinstance(value, Unknown):
                    for t in item.targets:
                        ns[t.id] = value
        try:
            cls = type(s.name, tuple(bases), ns)
        except TypeError as e:
            self.bind(s.name, Unknown("error", line=s.lineno, message=f"class {s.name}: {e}"), scope)
            return
        for fn in methods:
            fn.method_of = cls
        self.bind(s.name, cls, scope)

    def stmt_Return(self, s, scope):
        raise _Return(None if s.value is None else self.eval(s.value, scope))

    def stmt_Break(self, s, scope):
        raise _Break()

    def stmt_Continue(self, s, scope):
        raise _Continue()

    def stmt_Global(self, s, scope):
        if scope is not None:
            scope.globals.update(s.names)

    def stmt_Nonlocal(self, s, scope):
        pass

    def _unknowable(self, test_value, node, bodies, scope, what):
        """A branch or loop seqc cannot decide: fine unless it builds the model."""
        if _shapes_model(bodies):
            u = _first_unknown(test_value)
            err = u.error(self.file, node.lineno)
            raise SeqcError(f"cannot decide this {what} statically, and it builds the model: {err.message}; "
                            f"or run the script with `seqc run {os.path.basename(self.file)}`", err.loc)
        self.forget(_assigned_names(bodies), scope, what, node.lineno)

    def forget(self, names, scope, what, line):
        """Names that code seqc did not run may have changed: unknown from here on (a module or
        function whose method was called keeps its value)."""
        for name in names:
            values = self.env if scope is None or name in scope.globals else scope.values
            if isinstance(values.get(name), _MODULE_TYPES + (UserFunction,)):
                continue
            self.bind(name, Unknown("runtime", text=f"{what.replace('`', '')} at line {line}", line=line), scope)

    def stmt_If(self, s, scope):
        test = self.eval(s.test, scope)
        if _first_unknown(test) is not None:
            return self._unknowable(test, s, s.body + s.orelse, scope, "`if`")
        self.exec_block(s.body if self.truth(test, s) else s.orelse, scope)

    def truth(self, value, node):
        try:
            return bool(value)
        except Exception as e:
            if _is_traced(value):
                raise
            raise SeqcError(f"cannot take the truth value of {value!r}: {e}", self.loc(node)) from None

    def stmt_For(self, s, scope):
        self.run_loop(s, scope, "`for` loop", lambda: self._for(s, scope))

    def stmt_While(self, s, scope):
        self.run_loop(s, scope, "`while` loop", lambda: self._while(s, scope))

    def _for(self, s, scope):
        it = self.eval(s.iter, scope)
        items = None
        if _first_unknown(it) is None:
            try:
                items = list(it) if not isinstance(it, range) or len(it) <= _MAX_LOOP else None
            except TypeError:
                items = None
        if items is None or len(items) > _MAX_LOOP:
            return self._unknowable(it if isinstance(it, Unknown) else
                                    Unknown("runtime", text=_text(s.iter), line=s.lineno),
                                    s, s.body + s.orelse, scope, "`for` loop")
        for item in items:
            self.assign(s.target, item, scope, s)
            try:
                self.exec_block(s.body, scope)
            except _Break:
                break
            except _Continue:
                continue
        else:
            self.exec_block(s.orelse, scope)

    def _while(self, s, scope):
        for _ in range(_MAX_LOOP):
            test = self.eval(s.test, scope)
            if _first_unknown(test) is not None:
                return self._unknowable(test, s, s.body + s.orelse, scope, "`while` loop")
            if not self.truth(test, s):
                self.exec_block(s.orelse, scope)
                return
            try:
                self.exec_block(s.body, scope)
            except _Break:
                return
            except _Continue:
                continue
        self._unknowable(Unknown("runtime", text="a loop that does not end", line=s.lineno), s, s.body, scope,
                         "`while` loop")

    def stmt_With(self, s, scope):
        for item in s.items:
            self.eval(item.context_expr, scope)
            if item.optional_vars is not None:
                self.assign(item.optional_vars, Unknown("runtime", text=_text(item.context_expr), line=s.lineno),
                            scope, s)
        self.exec_block(s.body, scope)

    def stmt_Try(self, s, scope):
        self.exec_block(s.body, scope)
        self.exec_block(s.orelse, scope)
        self.exec_block(s.finalbody, scope)

    stmt_TryStar = stmt_Try

    # ---- expressions ----------------------------------------------------------------------
    def eval(self, node, scope):
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            return Unknown("runtime", text=_text(node), line=getattr(node, "lineno", None))
        return method(node, scope)

    def expr_Constant(self, node, scope):
        return node.value

    def expr_Name(self, node, scope):
        name = node.id
        s = scope
        while s is not None:
            if name in s.values and name not in s.globals:
                return self._named(s.values[name], name, node)
            s = s.parent
        if name in self.env:
            return self._named(self.env[name], name, node)
        if name in _BUILTIN_CONSTS:
            return _BUILTIN_CONSTS[name]
        if name in _BUILTINS:
            return _BUILTINS[name]
        missing = None
        for mod in reversed(self.star_modules):     # `from keras.layers import *` then Conv2D(...)
            v = mod.getattr(name, node.lineno)
            if not isinstance(v, Unknown):
                return v
            missing = missing or v
        if missing is not None and name[:1].isupper():
            return missing
        if hasattr(builtins, name):                 # print, open, input...: run-time behaviour
            return Unknown("runtime", text=name, line=node.lineno)
        return Unknown("undefined", name=name, line=node.lineno)

    @staticmethod
    def _named(value, name, node):
        if isinstance(value, Unknown):
            if value.kind == "runtime":
                return value.copy(name=name)
            if value.at_use:
                return value.copy(line=node.lineno)
        return value

    def _defined(self, node):
        """A -D define for a dotted expression (`-D args.units=64`, `-D x_train.shape[1]=20`)."""
        if not self.defines:
            return _NO_DEFAULT
        key = _text(node, limit=10_000).replace(" ", "")
        for k, v in self.defines.items():
            if k.replace(" ", "") == key:
                return v
        return _NO_DEFAULT

    def expr_Attribute(self, node, scope):
        d = self._defined(node)
        if d is not _NO_DEFAULT:
            return d
        obj = self.eval(node.value, scope)
        return self.attribute_of(obj, node.attr, node.lineno, node)

    def attribute_of(self, obj, attr, line, node=None):
        from ..keras.layers import Layer
        from ..keras.models import Sequential
        if isinstance(obj, Unknown):
            if obj.kind == "runtime" and obj.name and node is not None:
                return obj.copy(name=f"{obj.name}.{attr}")
            return obj
        if isinstance(obj, _MODULE_TYPES):
            v = obj.getattr(attr, line)
            return v.copy(line=line) if isinstance(v, Unknown) and v.at_use else v
        if isinstance(obj, Sequential):
            if attr in _MODEL_METHODS:
                return _ModelMethod(obj, attr)
            if attr == "layers":
                return list(obj.layers)
            if attr == "name":
                return obj.name
            return Unknown("runtime", text=f"model.{attr}", line=line)
        if isinstance(obj, super) and attr in ("__init__", "build", "call", "get_config", "compute_output_shape"):
            return getattr(obj, attr)
        if attr.startswith("_"):
            return Unknown("error", message=f"seqc compile does not read private attribute {attr!r}", line=line)
        if isinstance(obj, _SAFE_TYPES) or _is_seqc_object(obj) or isinstance(obj, Layer):
            try:
                return getattr(obj, attr)
            except AttributeError as e:
                return Unknown("error", message=str(e), line=line)
        return Unknown("runtime", text=f"{_short(obj)}.{attr}", line=line)

    def expr_Subscript(self, node, scope):
        d = self._defined(node)
        if d is not _NO_DEFAULT:
            return d
        obj = self.eval(node.value, scope)
        key = self.eval(node.slice, scope)
        if isinstance(obj, Unknown):
            if obj.kind == "runtime" and obj.name:
                return obj.copy(name=_text(node, limit=10_000))
            return obj
        if isinstance(key, Unknown):
            return key
        if _is_traced(obj, key):
            return obj[key]
        try:
            return obj[key]
        except Exception as e:
            return Unknown("error", message=f"{_text(node)}: {type(e).__name__}: {e}", line=node.lineno)

    def expr_Slice(self, node, scope):
        parts = [None if p is None else self.eval(p, scope) for p in (node.lower, node.upper, node.step)]
        u = _first_unknown(parts)
        return u if u is not None else slice(*parts)

    def expr_Index(self, node, scope):  # pragma: no cover  (Python < 3.9)
        return self.eval(node.value, scope)

    def _sequence(self, elts, scope):
        out = []
        for e in elts:
            if isinstance(e, ast.Starred):
                v = self.eval(e.value, scope)
                if isinstance(v, Unknown):
                    return v
                try:
                    out.extend(v)
                except TypeError as ex:
                    return Unknown("error", message=str(ex), line=e.lineno)
            else:
                v = self.eval(e, scope)
                out.append(v)
        return out

    def expr_Tuple(self, node, scope):
        v = self._sequence(node.elts, scope)
        return v if isinstance(v, Unknown) else tuple(v)

    def expr_List(self, node, scope):
        return self._sequence(node.elts, scope)

    def expr_Set(self, node, scope):
        v = self._sequence(node.elts, scope)
        return self._built(_first_unknown(v) or v, set, node)

    @staticmethod
    def _built(items, build, node):
        """set(items) / dict(items) of evaluated items; an Unknown passes through."""
        if isinstance(items, Unknown):
            return items
        try:
            return build(items)
        except TypeError as e:
            return Unknown("error", message=str(e), line=node.lineno)

    def expr_Dict(self, node, scope):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                d = self.eval(v, scope)
                if isinstance(d, Unknown):
                    return d
                if not isinstance(d, dict):
                    return Unknown("error", message=f"'**' needs a mapping, got {type(d).__name__}", line=node.lineno)
                out.update(d)
                continue
            key = self.eval(k, scope)
            if isinstance(key, Unknown):
                return key
            try:
                out[key] = self.eval(v, scope)
            except TypeError as e:
                return Unknown("error", message=str(e), line=node.lineno)
        return out

    def expr_JoinedStr(self, node, scope):
        parts = []
        for v in node.values:
            x = self.eval(v, scope)
            if isinstance(x, Unknown):
                return x
            parts.append(str(x))
        return "".join(parts)

    def expr_FormattedValue(self, node, scope):
        v = self.eval(node.value, scope)
        if isinstance(v, Unknown):
            return v
        spec = "" if node.format_spec is None else self.eval(node.format_spec, scope)
        if isinstance(spec, Unknown):
            return spec
        conv = {-1: lambda x: x, 115: str, 114: repr, 97: ascii}[node.conversion]
        try:
            if _weight(v) > _MAX_SIZE:
                raise _too_big("a formatted value is")
            return _format(conv(v), spec)
        except Exception as e:
            return Unknown("error", message=str(e), line=node.lineno)

    def _apply(self, fn, args, node, what=None):
        """Apply a Python operator to known values; errors are deferred (or raised when tracing)."""
        u = _first_unknown(list(args))
        if u is not None:
            return u
        if _is_traced(*args):
            return fn(*args)
        try:
            if len(args) == 2:
                _guard_binop(fn, *args)
            return _guard_int(fn(*args))
        except _TooBig as e:
            return Unknown("error", message=f"{what or _text(node)}: {e}", line=node.lineno)
        except Exception as e:
            return Unknown("error", message=f"{what or _text(node)}: {type(e).__name__}: {e}", line=node.lineno)

    def expr_BinOp(self, node, scope):
        return self._apply(_BINOPS[type(node.op)], (self.eval(node.left, scope), self.eval(node.right, scope)), node)

    def expr_UnaryOp(self, node, scope):
        v = self.eval(node.operand, scope)
        if isinstance(node.op, ast.Not) and not isinstance(v, Unknown) and not _is_traced(v):
            return not self.truth(v, node)
        return self._apply(_UNARY[type(node.op)], (v,), node)

    def expr_BoolOp(self, node, scope):
        is_and = isinstance(node.op, ast.And)
        v = None
        for e in node.values:
            v = self.eval(e, scope)
            if isinstance(v, Unknown):
                return v
            t = self.truth(v, node)
            if is_and and not t or not is_and and t:
                return v
        return v

    def expr_Compare(self, node, scope):
        left = self.eval(node.left, scope)
        result = True
        for op, comp in zip(node.ops, node.comparators):
            right = self.eval(comp, scope)
            r = self._apply(_CMPOPS[type(op)], (left, right), node)
            if len(node.ops) == 1 or isinstance(r, Unknown):
                return r
            if not self.truth(r, node):
                return r
            result = r
            left = right
        return result

    def expr_IfExp(self, node, scope):
        test = self.eval(node.test, scope)
        if isinstance(test, Unknown):
            return test
        return self.eval(node.body if self.truth(test, node) else node.orelse, scope)

    def expr_NamedExpr(self, node, scope):
        v = self.eval(node.value, scope)
        self.bind(node.target.id, v, scope)
        return v

    def expr_Lambda(self, node, scope):
        defaults = [self.eval(d, scope) for d in node.args.defaults]
        kw_defaults = [_NO_DEFAULT if d is None else self.eval(d, scope) for d in node.args.kw_defaults]
        return UserFunction(self, node, defaults, kw_defaults, scope)

    def _comprehension(self, node, scope, make):
        out = []
        local = _Scope({}, parent=scope) if scope is not None else _Scope({}, None)
        local.values = {}

        def loop(gens):
            if not gens:
                out.append(make(local))
                return
            g = gens[0]
            it = self.eval(g.iter, local)
            if _first_unknown(it) is not None:
                raise _UnknownIn(it)
            try:
                items = list(it)
            except TypeError as e:
                raise _UnknownIn(Unknown("error", message=str(e), line=node.lineno))
            if len(items) > _MAX_LOOP:
                raise _UnknownIn(Unknown("runtime", text=_text(g.iter), line=node.lineno))
            for item in items:
                self.step(node.lineno)
                self.assign(g.target, item, local, node)
                ok = True
                for cond in g.ifs:
                    c = self.eval(cond, local)
                    if isinstance(c, Unknown):
                        raise _UnknownIn(c)
                    if not self.truth(c, node):
                        ok = False
                        break
                if ok:
                    loop(gens[1:])
        try:
            loop(node.generators)
        except _UnknownIn as e:
            return e.value
        return out

    def expr_ListComp(self, node, scope):
        return self._comprehension(node, scope, lambda s: self.eval(node.elt, s))

    def expr_GeneratorExp(self, node, scope):
        return self.expr_ListComp(node, scope)

    def expr_SetComp(self, node, scope):
        return self._built(self.expr_ListComp(node, scope), set, node)

    def expr_DictComp(self, node, scope):
        pairs = self._comprehension(node, scope, lambda s: (self.eval(node.key, s), self.eval(node.value, s)))
        return self._built(pairs, dict, node)

    # ---- calls ----------------------------------------------------------------------------
    def _call_args(self, node, scope):
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                v = self.eval(a.value, scope)
                if isinstance(v, Unknown):
                    return v, None
                try:
                    args.extend(v)
                except TypeError as e:
                    return Unknown("error", message=f"argument after * must be an iterable: {e}",
                                   line=node.lineno), None
            else:
                args.append(self.eval(a, scope))
        kwargs = {}
        for kw in node.keywords:
            v = self.eval(kw.value, scope)
            if kw.arg is None:
                if isinstance(v, Unknown):
                    return v, None
                if not isinstance(v, dict):
                    return Unknown("error", message="argument after ** must be a mapping", line=node.lineno), None
                dup = set(v) & set(kwargs)
                if dup:
                    return Unknown("error", message=f"got multiple values for keyword argument {sorted(dup)[0]!r}",
                                   line=node.lineno), None
                kwargs.update(v)
            else:
                if kw.arg in kwargs:      # Python reports this as a SyntaxError at compile time
                    raise SeqcError(f"keyword argument repeated: {kw.arg}", self.loc(kw))
                kwargs[kw.arg] = v
        return args, kwargs

    def expr_Call(self, node, scope):
        func = self.eval(node.func, scope)
        if isinstance(func, Unknown):
            if func.kind == "undefined" and func.name in ("Sequential", "Model") and not self.missing_model:
                self.missing_model = func.copy(line=node.lineno)
            if func.kind == "runtime":
                return Unknown("runtime", text=_text(node), line=node.lineno)
            return func
        if isinstance(func, _ModelMethod):
            return self.call_model_method(func, node, scope)
        args, kwargs = self._call_args(node, scope)
        if kwargs is None:
            return args            # an Unknown from argument unpacking
        if isinstance(func, UserFunction):
            if _is_traced(*args, *kwargs.values()):
                return func(*args, **kwargs)
            try:
                values = func.bind(args, kwargs)
            except TypeError as e:
                return Unknown("error", message=str(e), line=node.lineno)
            if self.depth:
                return func.run(values)
            try:
                return func.run(values)
            except _TooDeep as e:     # e.g. a recursive helper: harmless unless the model needs it
                return Unknown("error", message=e.message, line=node.lineno)
        kind = _callable_kind(func)
        if kind == "model":
            return self.build_sequential(func, args, kwargs, node)
        if kind == "opaque":
            return Unknown("runtime", text=_text(node), line=node.lineno)
        if kind is None:
            if callable(func) and getattr(func, "__self__", None) is not None and \
                    isinstance(func.__self__, _SAFE_TYPES) and not func.__name__.startswith("_"):
                kind = "pure"        # a method of a str/list/dict...: 'relu'.upper(), layers.append(...)
            elif id(func) in _BUILTIN_IDS:
                kind = "pure"
            else:
                return Unknown("runtime", text=_text(node), line=node.lineno)
        u = _first_unknown(list(args) + list(kwargs.values()))
        if u is not None:
            return u
        if _is_traced(*args, *kwargs.values()):
            return func(*args, **kwargs)     # inside a loss/metric being traced: errors go to the tracer
        try:
            self.guard_call(func, args, kwargs, node)
            result = func(*args, **kwargs)
            for v in (result, getattr(func, "__self__", None)):
                if isinstance(v, (str, bytes, list, tuple, dict, set)) and len(v) > _MAX_SIZE:
                    raise ValueError("value too large for a static evaluation")
        except (TypeError, ValueError, ArithmeticError, KeyError, IndexError, AttributeError) as e:
            return Unknown("error", message=_call_error_message(func, e), line=node.lineno)
        if kind == "construct" and hasattr(result, "loc"):
            result.loc = self.loc(node)
        return result

    def guard_call(self, func, args, kwargs, node):
        """Refuse a call whose arguments are too large to compute with (str(a list that nests
        itself 40 times), 'x'.ljust(10**12), '{:>999999999}'.format(1)); counting costs steps."""
        owner = getattr(func, "__self__", None)
        values = list(args) + list(kwargs.values()) + ([owner] if isinstance(owner, _SAFE_TYPES) else [])
        weight = _weight(values)
        self.step(node.lineno, cost=weight // 100)
        if weight > _MAX_SIZE:
            raise _too_big("an argument is")
        if isinstance(owner, (str, bytes, list, tuple)):
            if any(isinstance(x, int) and abs(x) > _MAX_SIZE for x in values[:-1]):
                raise _too_big("a size argument is")
            if getattr(func, "__name__", "") in ("format", "format_map"):
                _guard_format(owner)

    def check_layer_count(self, n, node):
        if n > _MAX_LAYERS:
            raise SeqcError(f"the model has more than {_MAX_LAYERS:,} layers, more than seqc compile reads",
                            self.loc(node))

    def build_sequential(self, cls, args, kwargs, node):
        self.require([args, kwargs], node)
        layers = args[0] if args else kwargs.get("layers")
        if isinstance(layers, (list, tuple)):
            self.check_layer_count(len(layers), node)
        try:
            model = cls(*args, **kwargs)
        except SeqcError as e:
            raise SeqcError(e.message, e.loc or self.loc(node)) from None
        except (TypeError, ValueError) as e:
            raise SeqcError(_call_error_message(cls, e), self.loc(node)) from None
        model.loc = self.loc(node)
        self.models.append(model)
        return model

    def call_model_method(self, method, node, scope):
        model, name = method.model, method.name
        args, kwargs = self._call_args(node, scope)
        if kwargs is None:
            self.require(args, node)
        self.require([args, kwargs], node)
        loc = self.loc(node)
        if name == "add":
            self.check_layer_count(len(model.layers) + 1, node)
            try:
                inspect.signature(type(model).add).bind(model, *args, **kwargs)
                model.add(*args, **kwargs)
            except SeqcError as e:
                raise SeqcError(e.message, e.loc or loc) from None
            except (TypeError, ValueError) as e:
                raise SeqcError(f"model.add(): {e}", loc) from None
            return None
        if name == "pop":
            try:
                model.pop(*args, **kwargs)
            except (TypeError, ValueError) as e:
                raise SeqcError(f"model.pop(): {e}", loc) from None
            return None
        return self.compile_model(model, args, kwargs, loc)

    def compile_model(self, model, args, kwargs, loc):
        """`model.compile(...)`: the rules of seqc.keras's Sequential.compile, building nothing."""
        try:
            bound = inspect.signature(type(model).compile).bind(model, *args, **kwargs)
        except TypeError as e:
            raise SeqcError(f"compile(): {e}", loc) from None
        bound.apply_defaults()
        a = bound.arguments

        def loc_of(raw):
            return self.loc(raw.line) if isinstance(raw, UserFunction) else None
        try:
            model.set_compile(a["optimizer"], a["loss"], a["metrics"], loc, loc_of,
                              loss_weights=a["loss_weights"], weighted_metrics=a["weighted_metrics"])
        except SeqcError as e:
            raise SeqcError(e.message, e.loc or loc) from None
        except (TypeError, ValueError) as e:
            raise SeqcError(f"compile(): {e}", loc) from None
        self.compiled.append(model)
        return None


class _TooDeep(SeqcError):
    pass


class _UnknownIn(Exception):
    def __init__(self, value):
        self.value = value


def _short(obj):
    return type(obj).__name__


def _call_error_message(func, e):
    """'Dense.__init__() got multiple values for argument 'units'' -> 'Dense() got ...'."""
    msg = str(e)
    name = getattr(func, "__name__", None) or type(func).__name__
    for prefix in (f"{name}.__init__()", "__init__()", f"{name}()"):
        if msg.startswith(prefix):
            return f"{name}(){msg[len(prefix):]}"
    if isinstance(e, SeqcError):
        return e.message
    if isinstance(e, TypeError) and "argument" in msg and not msg.startswith(name):
        return f"{name}(): {msg}"
    return msg


def _is_seqc_object(obj):
    mod = getattr(type(obj), "__module__", "") or ""
    return mod.startswith("seqc.")


_KIND_CACHE = {}


def _callable_kind(func):
    """How a value found in the script may be called statically:
    'model' (Sequential), 'construct' (a layer/optimizer/loss/... class: build it),
    'pure' (a seqc function without side effects: call it), 'opaque' (data utilities, callbacks:
    not run), None (not a seqc callable)."""
    try:
        return _KIND_CACHE[func]
    except (KeyError, TypeError):
        pass
    kind = _classify(func)
    try:
        _KIND_CACHE[func] = kind
    except TypeError:
        pass
    return kind


def _classify(func):
    from ..initializers import Initializer
    from ..keras import layers as _layers
    from ..keras.losses import Loss
    from ..keras.metrics import Metric
    from ..keras.models import Sequential
    from ..keras.optimizers import Optimizer
    from ..keras.schedules import LearningRateSchedule
    if func is Sequential:
        return "model"
    if isinstance(func, type):
        if issubclass(func, Sequential):
            return "model"
        if issubclass(func, (_layers.Layer, Optimizer, LearningRateSchedule, Loss, Metric, Initializer)):
            return "construct"
    if func is _layers.Input:
        return "construct"
    mod = getattr(func, "__module__", None) or ""
    if not mod.startswith("seqc.") or not callable(func):
        return None
    if mod.startswith(("seqc.keras.utils", "seqc.keras.callbacks", "seqc.runtime", "seqc.keras.models")):
        return "opaque"
    if getattr(func, "__name__", "") in ("set_epsilon",):
        return "opaque"
    return "pure"


# ---------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------
def parse_tree(path, source=None):
    if source is None:
        source = read_source(path)
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        msg = e.msg
        if msg.startswith("invalid syntax") and e.text and "print " in e.text:
            msg += " (seqc reads Python 3 scripts)"
        raise SeqcError(msg, SourceLoc(path, e.lineno)) from None
    except ValueError as e:   # null bytes
        raise SeqcError(f"cannot parse: {e}", SourceLoc(path, 1)) from None
    except (RecursionError, MemoryError):     # Python's parser gives up on deep nesting
        raise SeqcError("an expression nests too deeply for Python's parser",
                        SourceLoc(path, _longest_line(source))) from None
    _check_nesting(tree, path)
    return tree


def _longest_line(source):
    """The line number of the longest line (where a parser-breaking expression most likely is)."""
    lines = source.splitlines() if isinstance(source, (bytes, str)) else []
    return max(range(len(lines)), key=lambda i: len(lines[i])) + 1 if lines else 1


def _check_nesting(tree, path):
    """Expressions nested deeper than the interpreter evaluates: a FILE:LINE error, not a
    RecursionError halfway through (walked with an explicit stack)."""
    stack = [(tree, 0, 1)]
    while stack:
        node, depth, line = stack.pop()
        line = getattr(node, "lineno", line)
        if depth > _MAX_NESTING:
            raise SeqcError(f"an expression nests more than {_MAX_NESTING} levels deep; seqc compile evaluates "
                            "shallower expressions", SourceLoc(path, line))
        deeper = depth + 1 if isinstance(node, ast.expr) else depth
        stack.extend((child, deeper, line) for child in ast.iter_child_nodes(node))


def parse_model(path, defines=None, source=None):
    """Statically read a Keras script; return its model as a `seqc.keras` Sequential whose
    layers (and, when the script compiles it, `_compile` and `_optimizer`) are set, without
    building anything. `source` (the script's text) replaces reading `path`, which then only
    names the file in error messages.

    The model is the last Sequential the script compiles, or else the last one it builds.
    `defines` supplies values for names the script computes at run time (`-D NAME=VALUE`).
    """
    path = os.fspath(path)
    tree = parse_tree(path, source)
    interp = Interpreter(path, defines)
    try:
        interp.run(tree)
    except (_Return, _Break, _Continue):
        pass
    except RecursionError:
        raise SeqcError("the script nests too deeply for a static evaluation", SourceLoc(path, interp.line)) from None
    except MemoryError:
        raise SeqcError("the script computes values too large for a static evaluation",
                        SourceLoc(path, interp.line)) from None
    except _OverBudget:
        raise SeqcError(f"the script computes too much here to evaluate statically (seqc compile reads the script "
                        f"without running it, up to {_MAX_STEPS:,} steps); run it with "
                        f"`seqc run {os.path.basename(path)}` instead", SourceLoc(path, interp.line)) from None
    if interp.compiled:
        return interp.compiled[-1]
    built = [m for m in interp.models if m.layers]
    if not built and interp.missing_model is not None:
        u = interp.missing_model
        raise SeqcError(f"name {u.name!r} is not defined: import it (`from keras.models import {u.name}`)",
                        SourceLoc(path, u.line))
    if not built:
        raise SeqcError("no Keras Sequential model found: seqc compile looks for `Sequential([...])` or "
                        "`model = Sequential()` with `model.add(...)`", SourceLoc(path, None))
    return built[-1]


def parse_script(path, defines=None, input_shape=None):
    """Statically read a Keras script; return the ModelSpec of its model (see parse_model).

    `input_shape` (per sample, from `--input-shape`) builds a model whose first layer declares
    no input shape, as Keras 3 builds it at its first call (which a static reading never sees)."""
    model = parse_model(path, defines)
    if input_shape is not None:
        if model.built:
            raise SeqcError(f"--input-shape: the script already declares the input shape "
                            f"{format_shape(model.input_shape)}", model.loc)
        model.build((None,) + tuple(input_shape))
    elif not model.built:
        raise SeqcError("the model's input shape is unknown: its first layer declares none, and Keras builds "
                        "it at the first call, which seqc compile does not run; pass --input-shape (per sample, "
                        "e.g. --input-shape 28,28,1), or give the first layer `input_shape=` or start with "
                        "`keras.Input(shape=...)`", model.loc)
    spec = model.spec()
    spec.loc = model.loc
    return spec
