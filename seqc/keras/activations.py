"""`keras.activations`: names are resolved by seqc.activations; the functions compute in numpy."""
from ..activations import ACTIVATIONS as _ACTS, ALIASES as _ALIASES, get as _get  # noqa: F401


def get(identifier):
    return _get(identifier).name


def _make(name):
    def fn(x):
        import numpy as np
        return _ACTS[name].reference(np.asarray(x, np.float32))
    fn.__name__ = name
    return fn


for _n in list(_ACTS):
    globals()[_n] = _make(_n)
for _a, _n in _ALIASES.items():
    if _n in _ACTS and _a.isidentifier():
        globals()[_a] = globals()[_n]
