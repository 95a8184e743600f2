"""`keras.config`: Keras 3's global settings as seqc has them (float32, channels last)."""
from .backend import (backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx,  # noqa: F401
                      set_image_data_format)


def enable_unsafe_deserialization():
    """Lets load_model read a Lambda's Python code whatever its `safe_mode` argument (as Keras)."""
    from . import saving
    saving.GLOBAL_SAFE_MODE[0] = False


def dtype_policy():
    return "float32"


def set_dtype_policy(policy):
    name = getattr(policy, "name", policy)
    if name != "float32":
        raise ValueError(f"seqc computes in float32; set_dtype_policy({name!r}) is not supported")
