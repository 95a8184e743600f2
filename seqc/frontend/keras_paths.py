"""Keras module paths -> seqc.keras modules: the one map both front ends read.

A path is the tuple of names after `keras` (`keras.optimizers.schedules` -> ('optimizers',
'schedules')), however the script spells the root: `keras`, `tensorflow.keras`,
`tensorflow.python.keras`, `tensorflow.compat.v1.keras`, `seqc.keras`, `keras.src`, `keras.api`.
"""

# canonical path -> seqc module
SUBMODULES = {
    (): "seqc.keras", ("models",): "seqc.keras.models", ("layers",): "seqc.keras.layers",
    ("optimizers",): "seqc.keras.optimizers", ("optimizers", "schedules"): "seqc.keras.schedules",
    ("backend",): "seqc.keras.backend", ("utils",): "seqc.keras.utils", ("losses",): "seqc.keras.losses",
    ("metrics",): "seqc.keras.metrics", ("callbacks",): "seqc.keras.callbacks",
    ("activations",): "seqc.keras.activations", ("initializers",): "seqc.keras.initializers",
    ("ops",): "seqc.keras.ops", ("saving",): "seqc.keras.saving", ("preprocessing",): "seqc.keras.preprocessing",
    ("preprocessing", "sequence"): "seqc.keras.preprocessing.sequence",
    ("preprocessing", "text"): "seqc.keras.preprocessing.text",
    ("preprocessing", "image"): "seqc.keras.preprocessing.image",
    ("datasets",): "seqc.keras.datasets",
    **{("datasets", name): "seqc.keras.datasets." + name
       for name in ("mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing")},
    ("regularizers",): "seqc.keras.regularizers", ("constraints",): "seqc.keras.constraints",
    ("config",): "seqc.keras.config",
}
# Keras-2 / TF spellings of the same modules
LEGACY = {("optimizers", "legacy"): ("optimizers",), ("optimizers", "experimental"): ("optimizers",),
          ("utils", "np_utils"): ("utils",), ("utils", "data_utils"): ("utils",),
          ("engine", "sequential"): ("models",),
          # TF 2.3-2.5's preprocessing layers (tf.keras.layers.experimental.preprocessing.Normalization)
          ("layers", "experimental"): ("layers",), ("layers", "experimental", "preprocessing"): ("layers",),
          ("layers", "preprocessing"): ("layers",),
          ("layers", "normalization", "batch_normalization"): ("layers",),
          ("layers", "normalization", "layer_normalization"): ("layers",),
          # Keras 1/2 kept each family of layers in its own module
          **{("layers", family): ("layers",) for family in (
              "core", "convolutional", "recurrent", "normalization", "noise", "advanced_activations",
              "embeddings", "pooling", "wrappers", "merge", "local", "convolutional_recurrent", "reshaping",
              "regularization", "activation", "rnn")}}
# Keras packages seqc does not provide, that scripts import for data or preprocessing
NOT_PROVIDED = {"applications", "wrappers",
                "mixed_precision", "export", "random", "tree", "quantizers",
                "visualization", "dtype_policies", "engine", "distribution"}

SEQC_MODULES = frozenset(SUBMODULES.values())
# seqc module -> the Keras name a user knows it by
KERAS_NAME = {module: ".".join(("keras",) + path) for path, module in SUBMODULES.items()}
PROVIDED = sorted(".".join(("keras",) + path) for path in SUBMODULES if len(path) == 1)


def normalize(path):
    """keras sub-path tuple -> canonical tuple (legacy spellings and src/api prefixes folded)."""
    path = tuple(path)
    if path[:1] in (("src",), ("api",), ("_v2",)):
        path = path[1:]
    return LEGACY.get(path, path)


def keras_subpath(dotted, seqc_root=True):
    """'tensorflow.keras.layers' -> ('layers',); 'keras' -> (); None if not a Keras module.
    `seqc_root`: whether `seqc.keras...` counts (the import hook leaves seqc's own imports alone)."""
    parts = dotted.split(".")
    if parts[0] == "keras":
        return normalize(parts[1:])
    if parts[0] == "tensorflow" and len(parts) >= 2:
        rest = parts[1:]
        if rest[:1] == ["python"]:
            rest = rest[1:]
        if rest[:1] == ["compat"] and len(rest) >= 2:      # tf.compat.v1.keras / tf.compat.v2.keras
            rest = rest[2:]
        if rest[:1] == ["keras"]:
            return normalize(rest[1:])
        return None
    if seqc_root and parts[:2] == ["seqc", "keras"]:
        return normalize(parts[2:])
    return None


def is_package(path):
    """Does some Keras module path continue below this one (so it must import as a package)?"""
    n = len(path)
    return not path or any(len(p) > n and p[:n] == tuple(path) for p in list(SUBMODULES) + list(LEGACY))


def missing_message(path, attr):
    """The error for `keras.<path>.<attr>` that seqc does not provide."""
    if path == ("layers",):
        from ..errors import SeqcError
        from ..keras.layers import get_layer_class
        try:
            get_layer_class(attr)
        except SeqcError as e:
            return e.message
    if path == ("optimizers",):
        from ..keras.optimizers import supported_message
        return supported_message(attr)
    return f"{'.'.join(('keras',) + tuple(path) + (attr,))} is not supported by seqc"


def add_legacy_attributes():
    """`keras.optimizers.legacy.Adam` as an attribute chain works as the import does: each
    legacy sub-path is an attribute of its parent module naming the module it stands for."""
    import importlib
    for raw, target in LEGACY.items():
        parent = SUBMODULES.get(raw[:-1])
        if parent is not None and target in SUBMODULES:
            module = importlib.import_module(parent)
            if not hasattr(module, raw[-1]):
                setattr(module, raw[-1], importlib.import_module(SUBMODULES[target]))
