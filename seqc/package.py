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
import re

import numpy as np

from . import build
from .description import ModelDescription
from .errors import BuildError, SeqcError


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
        model = Model(desc, package_library(pkg_dir, desc.library, desc.library_sha256), seed=seed)
        initial = os.path.join(pkg_dir, "initial.weights.h5")
        if os.path.exists(initial):     # compiled from a saved model: its weights and optimizer state
            model.load_weights(initial)
        return model
    return _open_model(desc, pkg_dir, seed)


def package_library(pkg_dir, file_name, sha256):
    """The path of a library a package's model.json names: a plain file name inside the
    package folder (no directory part, no `..`), whose content must hash to the recorded
    sha256. It is checked and loaded now, so a mismatch is one clear error here."""
    where = os.path.join(pkg_dir, "model.json")
    if file_name is None or sha256 is None:
        raise BuildError(f"{where} records no library file and sha256 (written by an older seqc?): "
                         "compile the package again")
    if (not isinstance(file_name, str) or file_name in ("", ".", "..") or "/" in file_name or "\\" in file_name
            or "\0" in file_name or os.path.basename(file_name) != file_name or not file_name.endswith(".so")):
        raise BuildError(f"{where}: the library must be a .so file name inside the package folder, got {file_name!r}")
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise BuildError(f"{where}: bad library sha256 {sha256!r}")
    path = os.path.join(os.path.abspath(pkg_dir), file_name)
    build.load(path, sha256)
    build.trust(path, sha256)
    return path


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
                       prebuilt=[(b.description, package_library(pkg_dir, b.library, b.sha256)) for b in desc.prebuilt])
    return model
