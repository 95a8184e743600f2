"""`keras.activations`: names are resolved by seqc.activations; the functions compute in numpy."""
from ..activations import ACTIVATIONS as _ACTS, ALIASES as _ALIASES, get as _get  # noqa: F401


def get(identifier):
    """The activation function, as Keras 3 returns it (a layer's constructor also takes it)."""
    return globals()[_get(identifier).name]


def _make(name):
    def fn(x):
        import numpy as np

        from ..trace import Expr, TraceError
        if isinstance(x, Expr):          # called in a traced user layer: the backend op of that name
            from . import backend
            if name == "linear":
                return x
            op = getattr(backend, name, None)
            if op is None or name in ("sign", "round"):
                raise TraceError(f"the activation {name!r} cannot be traced in a user layer (use keras.ops)")
            return op(x)
        return _ACTS[name].reference(np.asarray(x, np.float32))
    fn.__name__ = name
    return fn


for _n in list(_ACTS):
    globals()[_n] = _make(_n)
for _a, _n in _ALIASES.items():
    if _n in _ACTS and _a.isidentifier():
        globals()[_a] = globals()[_n]
