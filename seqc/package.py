"""Loading a package written by `seqc compile`: its `NAME.Model(seed=None)` calls `load_model`.

A model with a fixed input shape is a runtime Model over the package's library. A model whose
script leaves the sequence length open (Embedding without `input_length`, `input_shape=(None, 16)`)
is the `seqc.keras` Sequential of the script, read again from the text stored in model.json:
exactly as in a `seqc run`, its first fit / evaluate / predict binds the length and each new
length is specialised from the build cache (the library the package holds, when compiled with
`--seq-len N`, serves length N), with weights and optimizer state carried over.
"""
import json
import os

import numpy as np

from .description import ModelDescription
from .errors import SeqcError


def read_description(pkg_dir):
    """The ModelDescription of a package's model.json (a clear SeqcError if it cannot be read)."""
    path = os.path.join(pkg_dir, "model.json")
    try:
        with open(path) as f:
            return ModelDescription.from_json(json.load(f))
    except OSError as e:
        raise SeqcError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise SeqcError(f"{path}: {e}") from None


def load_model(pkg_dir, seed=None):
    desc = read_description(pkg_dir)
    if desc.script is None:
        from .runtime.model import Model
        return Model(desc, os.path.join(pkg_dir, f"lib{desc.c_name}.so"), seed=seed)
    return _open_model(desc, pkg_dir, seed)


def _open_model(desc, pkg_dir, seed):
    from .frontend.ast_frontend import parse_model
    from .frontend.source import parse_defines
    from .keras import layers
    from .runtime.model import global_rng, initial_weights
    script = desc.script
    with layers.name_counters_kept():   # the static reading restarts the layer-name counters:
        #                                 names as at `seqc compile`, the session's counters kept
        model = parse_model(script.file, parse_defines(list(script.defines)), source=script.text)
    # the same draws as runtime.Model(seed): the dropout stream's seed, then the weights in order
    rng = np.random.default_rng(seed) if seed is not None else global_rng()
    rng.integers(0, 2 ** 63)
    model.bind_package(initial_weights(desc, rng), seed=seed,
                       prebuilt=[(b.description, os.path.join(pkg_dir, b.library)) for b in desc.prebuilt])
    return model
