"""`keras.initializers`."""
from ..initializers import *  # noqa: F401,F403
from ..initializers import Initializer, get  # noqa: F401
from .. import initializers as _all  # noqa: E402

# Keras 3 also exports each class under its snake_case name (keras.initializers.zeros(), he_normal)
for _name in ("Constant", "Identity", "Ones", "Zeros", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform",
              "LecunNormal", "LecunUniform", "Orthogonal", "RandomNormal", "RandomUniform", "TruncatedNormal",
              "VarianceScaling"):
    if hasattr(_all, _name):
        globals()["".join("_" + c.lower() if c.isupper() else c for c in _name).lstrip("_")] = getattr(_all, _name)

