"""seqc.keras: a Keras 3-compatible API whose models compile to C.

`seqc run script.py` serves a script's `keras` / `tensorflow.keras` imports from here.
"""
from . import activations, backend, callbacks, initializers, layers, losses, metrics, models, ops, optimizers, utils  # noqa: F401
from . import datasets, preprocessing  # noqa: F401
from . import saving  # noqa: F401
from . import config, constraints, regularizers  # noqa: F401
from .layers import Input  # noqa: F401
from .models import Model, Sequential  # noqa: F401

from ..frontend.keras_paths import add_legacy_attributes as _add_legacy_attributes

_add_legacy_attributes()          # keras.optimizers.legacy, keras.layers.core, ...
__version__ = "3.0.0-seqc"


def version():
    return __version__
