"""User-written layers: `Lambda(function)` and subclasses of `keras.layers.Layer` with their own
`build` / `call`. Nothing here computes: the lowering (seqc/ops/user_layer.py) calls `trace`,
which runs the user's `build(input_shape)` and `call(inputs)` (or the Lambda's function) once on
a symbolic input (seqc.trace.Expr); the backend ops they call build an expression graph, which
is differentiated symbolically and emitted as C.

`layer_protocol.UserLayerAPI` is the part of Keras's Layer protocol a user class meets
(`add_weight`, `build`, `call`, `get_config`, `built`); seqc.keras.layers.Layer inherits it.
"""
import os
import re
import sysconfig

from .. import trace as _t
from ..errors import SeqcError, SourceLoc
from .layer_protocol import UserLayerAPI

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBS = tuple(sorted({os.path.abspath(p) + os.sep for k, p in sysconfig.get_paths().items()
                      if k in ("stdlib", "platstdlib", "purelib", "platlib")}))


def _base():
    from .layers import Layer      # layers.py imports this module at its end
    return Layer


def is_user_layer(layer):
    """A Layer subclass written by the user with its own `call`."""
    cls = type(layer)
    return not cls.__module__.startswith("seqc.") and cls.call is not UserLayerAPI.call


def spec_kind(layer):
    """The kind a layer lowers as: its class for seqc's layers, 'UserLayer' for a user class with
    its own call, else the seqc class it derives from (a subclass that only changes defaults)."""
    cls = type(layer)
    if cls.__module__.startswith("seqc."):
        return layer.kind                       # (Keras 1's Convolution2D lowers as a Conv2D)
    if is_user_layer(layer):
        return "UserLayer"
    for base in cls.__mro__:
        if base.__module__.startswith("seqc.keras"):
            return getattr(base, "KERAS_CLASS", None) or base.__name__
    return cls.__name__


class Lambda(_base()):
    """Wraps a function of backend ops as a layer: `Lambda(lambda x: x / 255.0)`."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable, got {type(function).__name__}")
        if mask is not None:
            raise ValueError("Lambda: `mask` is not supported by seqc yet (masking is not implemented)")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: `arguments` must be a dict, got {type(arguments).__name__}")
        if output_shape is not None and not callable(output_shape) and not isinstance(output_shape, (tuple, list)):
            raise TypeError(f"Lambda: `output_shape` must be a tuple, a list or a function, got {output_shape!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.output_shape_arg = output_shape

    def config(self):
        return {"function": self.function, "arguments": self.arguments}

    def get_config(self):
        """Keras 3's: a Python lambda as its marshalled code (base64), defaults and closure
        values; a named function by module and name; `output_shape` only when given."""
        import json
        from .saving import dtype_policy
        config = {"name": self.name, "trainable": self.trainable, "dtype": dtype_policy(),
                  "function": _function_config(self.function, "function")}
        if self.output_shape_arg is not None:
            out = self.output_shape_arg
            config["output_shape"] = _function_config(out, "output_shape") if callable(out) else list(out)
        config["arguments"] = self.arguments
        try:
            json.dumps(config)
        except (TypeError, ValueError):
            raise ValueError(f"Lambda {self.name!r}: its `arguments` or the closure of its function hold values "
                             "that cannot be written to a Keras config (JSON)") from None
        return config

    @classmethod
    def from_config(cls, config):
        """As Keras: a serialised Python lambda is only loaded when unsafe deserialisation is
        allowed (load_model(..., safe_mode=False)); a named function is not looked up."""
        from .saving import layer_from_config
        config = dict(config)
        for key in ("function", "output_shape"):
            if key in config and isinstance(config[key], dict):
                config[key] = _function_from_config(config[key], key)
        if isinstance(config.get("output_shape"), list):
            config["output_shape"] = tuple(config["output_shape"])
        return layer_from_config(cls, config)


def _function_config(fn, what):
    import base64
    import marshal
    if getattr(fn, "__name__", None) == "<lambda>" and hasattr(fn, "__code__"):
        closure = [c.cell_contents for c in fn.__closure__] if fn.__closure__ else None
        return {"class_name": "__lambda__",
                "config": {"code": base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii"),
                           "defaults": list(fn.__defaults__) if fn.__defaults__ else fn.__defaults__,
                           "closure": closure}}
    name = getattr(fn, "__name__", None)
    if name is None:
        raise ValueError(f"Lambda: cannot write the `{what}` {fn!r} to a Keras config")
    return {"module": getattr(fn, "__module__", None) or "builtins", "class_name": "function", "config": name,
            "registered_name": "function"}


UNSAFE_LAMBDA = ("Requested the deserialization of a `Lambda` layer whose `function` is a Python lambda. This "
                 "carries a potential risk of arbitrary code execution and thus it is disallowed by default. If "
                 "you trust the source of the artifact, you can override this error by passing `safe_mode=False` "
                 "to the loading function.")


def _function_from_config(value, what):
    import base64
    import binascii
    import builtins
    import marshal
    import types
    from . import saving
    if value.get("class_name") != "__lambda__":
        raise ValueError(f"Lambda: the file's `{what}` is the function {value.get('config')!r} of module "
                         f"{value.get('module')!r}; seqc does not look up custom objects (only Python lambdas "
                         "written in the file are loaded, with safe_mode=False)")
    if saving.safe_mode():
        raise ValueError(UNSAFE_LAMBDA)
    cfg = value.get("config") or {}
    try:
        code = marshal.loads(base64.decodebytes(str(cfg.get("code", "")).encode("ascii")))
    except (ValueError, EOFError, TypeError, binascii.Error, UnicodeEncodeError):
        raise ValueError(f"Lambda: the file's `{what}` cannot be read (it was written by another Python "
                         "version, or the code is damaged)") from None
    if not isinstance(code, types.CodeType):
        raise ValueError(f"Lambda: the file's `{what}` is not Python code")

    def cell(v):
        return (lambda: v).__closure__[0]
    closure = tuple(cell(v) for v in cfg["closure"]) if cfg.get("closure") else None
    defaults = tuple(cfg["defaults"]) if cfg.get("defaults") else None
    from .. import keras as _keras
    globs = {"__builtins__": builtins, "keras": _keras, "ops": _keras.ops}
    try:
        return types.FunctionType(code, globs, code.co_name, defaults, closure)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Lambda: the file's `{what}` cannot be rebuilt ({e})") from None


class InputSpec:
    """keras.layers.InputSpec: what a user layer accepts; seqc checks ndim / min_ndim / max_ndim /
    axes (rank counted with the batch axis, as Keras) when the layer is traced."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype, self.shape, self.name, self.optional = dtype, shape, name, optional
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.axes = dict(axes or {})
        self.allow_last_axis_squeeze = allow_last_axis_squeeze

    def check(self, what, shape):
        """A message when a per-batch `shape` (batch axis first) does not fit, else None."""
        rank = len(shape)
        if self.ndim is not None and rank != self.ndim and not self.allow_last_axis_squeeze:
            return f"{what}: expected ndim={self.ndim}, found ndim={rank} (input shape {shape})"
        if self.min_ndim is not None and rank < self.min_ndim:
            return f"{what}: expected min_ndim={self.min_ndim}, found ndim={rank}"
        if self.max_ndim is not None and rank > self.max_ndim:
            return f"{what}: expected max_ndim={self.max_ndim}, found ndim={rank}"
        for axis, dim in self.axes.items():
            if dim is not None and -rank <= int(axis) < rank and shape[int(axis)] not in (dim, None):
                return f"{what}: expected axis {axis} of the input to have value {dim}, got shape {shape}"
        return None


LAYERS = {"Lambda": Lambda}
MAX_NODES = 5000       # operations in one traced layer (each becomes a loop nest in the C)


# ---------------------------------------------------------------------------------------------
# tracing (called by the lowering, seqc/ops/user_layer.py)
# ---------------------------------------------------------------------------------------------
def _user_frame(tb):
    """The innermost traceback frame in the user's code (not in seqc): where the error arose."""
    loc = None
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        path = os.path.abspath(f)
        if not path.startswith((_PKG + os.sep,) + _LIBS) and not f.startswith("<") and \
                os.sep + "site-packages" + os.sep not in path:
            loc = SourceLoc(f, tb.tb_lineno)
        tb = tb.tb_next
    return loc


def trace(spec, in_shape):
    """Run the layer of LayerSpec `spec` on a symbolic input of per-sample shape `in_shape`.
    Returns (x leaf, output Expr, [WeightSpec] in add_weight order). Errors: SeqcError naming the
    layer, what could not be traced and the line (of the user's code when it is known)."""
    x = _t.Expr("x", (), (_t.B,) + tuple(in_shape))
    what = f"layer {spec.name!r} ({spec.config.get('class_name', spec.kind)})"
    weights = []
    try:
        if spec.kind == "Lambda":
            out = spec.config["function"](x, **spec.config["arguments"])
        else:
            layer = spec.config["layer"]
            weights = layer.__dict__.setdefault("_seqc_weights", [])
            del weights[layer.__dict__.setdefault("_seqc_init_weights", len(weights)):]   # those of __init__ stay
            spec_ = getattr(layer, "input_spec", None)
            bad = spec_.check(what, (None,) + tuple(in_shape)) if isinstance(spec_, InputSpec) else None
            if bad:
                raise SeqcError(bad, spec.loc)
            layer.build((None,) + tuple(in_shape))
            layer.built = True
            out = layer.call(x)
    except SeqcError:
        raise
    except Exception as e:         # noqa: BLE001  (anything the user's code raised while traced)
        loc = _user_frame(e.__traceback__)
        msg = str(e) if isinstance(e, (_t.TraceError, ValueError)) else f"{type(e).__name__}: {e}"
        m = re.search(r" \(line (\d+)\)", msg)       # an interpreted body (seqc compile) names its line
        if loc is None and m and spec.loc is not None:
            loc, msg = SourceLoc(spec.loc.file, int(m.group(1))), msg[:m.start()] + msg[m.end():]
        loc = loc or spec.loc
        if isinstance(e, NotImplementedError) and not str(e):
            msg = "call() is not implemented"
        raise SeqcError(f"{what}: cannot trace: {msg}", loc) from None
    if isinstance(out, (list, tuple, dict)):
        raise SeqcError(f"{what}: a layer in a Sequential model must return a single tensor", spec.loc)
    if not isinstance(out, _t.Expr):
        raise SeqcError(f"{what}: returned {type(out).__name__}, not a tensor computed from its input", spec.loc)
    if not out.shape or out.shape[0] != _t.B or _t.B in out.shape[1:]:
        raise SeqcError(f"{what}: its output of shape {_t._fmt(out.shape)} must keep the batch axis first "
                        "(and only there)", spec.loc)
    nodes = _t.topo_order(out)
    if len(nodes) > MAX_NODES:
        raise SeqcError(f"{what}: its traced graph has {len(nodes):,} operations, more than seqc builds into C "
                        f"({MAX_NODES:,}; a Python loop over a tensor?)", spec.loc)
    if not any(n.op == "x" for n in nodes):
        raise SeqcError(f"{what}: its output does not depend on its input", spec.loc)
    for n in _t.topo_order(out):
        if n.op in ("y_true", "y_pred", "dy"):
            raise SeqcError(f"{what}: uses a tensor that is not its input or its weights", spec.loc)
    if spec.kind == "Lambda" and weights:
        raise SeqcError(f"{what}: a Lambda has no weights", spec.loc)
    return x, out, list(weights)
