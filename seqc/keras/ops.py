"""`keras.ops`: the same backend ops as `keras.backend`, for Keras-3 style user functions."""
from .backend import *  # noqa: F401,F403
from .backend import abs, max, min, round, sum, pow  # noqa: F401  (shadowed builtins)
from .backend import concatenate as _concatenate


def concatenate(xs, axis=0):
    """keras.ops.concatenate: axis 0 by default (K.concatenate's is -1)."""
    return _concatenate(xs, axis=axis)


def __getattr__(name):
    """A function seqc does not implement: one clear error naming it."""
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"keras.ops.{name} is not supported by seqc (user layers, losses and metrics are traced "
                         "from the keras.ops / keras.backend functions seqc implements)")
