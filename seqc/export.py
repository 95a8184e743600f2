"""`seqc export`: a standalone C program that predicts, evaluates and trains with no Python.

    seqc export MODEL -o DIR [--name NAME] [-D NAME=VALUE ...] [--seq-len N] [--seed S]

writes DIR/ with

    Makefile     cc + libc + libm (+ OpenMP when the compiler has it); `make ARCH=` for a portable build
    NAME.c/.h    the same generated model and C API the Python package uses (seqc.codegen)
    main.c       the driver (templates/export_main.c.j2): .npy in and out, batching, shuffling,
                 the epoch loop with Keras-like progress lines, weights.bin
    weights.bin  the model's weights (see write_weights)
    README.md    how to build and run it

`weights.bin` holds the get_weights() arrays in order, each float32 little-endian in C order,
concatenated, and nothing else: exactly 4 x count_params bytes. `write_weights(model, path)` and
`read_weights(model, path)` write and read it from Python for any seqc model object (a
`seqc.keras` Sequential or a compiled package's `Model`).
"""
import dataclasses
import os
import sys

import numpy as np

from . import build, codegen, lower, passes, pipeline
from .errors import SeqcError
from .spec import format_shape

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
RESERVED_NAMES = ("main", "clean", "Makefile")


# ---------------------------------------------------------------------------------------------
# weights.bin
# ---------------------------------------------------------------------------------------------
def weights_bytes(weights):
    """The bytes of weights.bin for a list of arrays (float32 little-endian, C order)."""
    return b"".join(np.ascontiguousarray(w, dtype="<f4").tobytes() for w in weights)


def write_weights(model, path):
    """Write `model.get_weights()` to `path` in the weights.bin format (atomically: a
    temporary file renamed over `path`)."""
    from .fileio import atomic_write
    data = weights_bytes(model.get_weights())
    with atomic_write(os.fspath(path), "wb") as f:
        f.write(data)


def read_weights(model, path):
    """Set `model`'s weights from a weights.bin file; its size must be exactly 4 x the number of
    the model's parameters (a ValueError naming both otherwise)."""
    current = model.get_weights()
    n = sum(int(w.size) for w in current)
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read(4 * n + 1)
    if len(data) != 4 * n:
        size = os.path.getsize(path)
        raise ValueError(f"{path}: a weights file of this model holds {n} float32 values ({4 * n} bytes), "
                         f"this one has {size} bytes")
    flat = np.frombuffer(data, dtype="<f4").astype(np.float32)
    arrays, at = [], 0
    for w in current:
        arrays.append(flat[at:at + w.size].reshape(w.shape).copy())
        at += w.size
    model.set_weights(arrays)


# ---------------------------------------------------------------------------------------------
# the model to export
# ---------------------------------------------------------------------------------------------
def load_keras_file(path):
    """A saved Keras model file (.keras, or a legacy full-model .h5) as a seqc.keras model, via
    `seqc.keras.models.load_model` (imported here, on first use)."""
    try:
        from .keras.models import load_model
    except ImportError:
        load_model = None
    if load_model is None:
        raise SeqcError(f"{path}: this seqc cannot read Keras model files (seqc.keras.models.load_model is "
                        "missing); export the model's script instead")
    try:
        return load_model(path)
    except (OSError, ValueError) as e:
        raise SeqcError(f"{path}: {e}") from None


def _bind_length(spec, seq_len, what):
    """The spec with its open sequence length bound to `seq_len` (the C has fixed shapes)."""
    loc = spec.layers[0].loc if spec.layers else spec.loc
    shape = format_shape(spec.input_shape)
    if not pipeline.is_open(spec):
        if seq_len is not None and (not spec.input_shape or spec.input_shape[0] != seq_len):
            raise SeqcError(f"--seq-len {seq_len}: {what} fixes the input shape to {shape}; --seq-len is for a "
                            "model that leaves the sequence length open", loc)
        return spec
    if seq_len is None:
        raise SeqcError(f"{what} leaves the input shape open ({shape}); the exported C has fixed shapes: "
                        "give the sequence length with --seq-len N", loc)
    if spec.input_shape[0] is None and spec.input_shape.count(None) == 1:
        return dataclasses.replace(spec, input_shape=pipeline.bind_shape(spec.input_shape, seq_len))
    raise SeqcError(f"--seq-len {seq_len}: the input shape {shape} has open dimensions besides the sequence "
                    "length; the exported C needs them fixed", loc)


def model_spec_and_weights(path, defines=(), seq_len=None, seed=None, input_shape=None):
    """(spec with fixed shapes and compile, initial weights or None, source name) of MODEL.

    A script is read statically (as `seqc compile` reads it); its weights are drawn as
    `NAME.Model(seed=seed)` of its compiled package draws them (seed None: at random). A Keras
    file's model keeps the file's weights."""
    if path.lower().endswith(KERAS_SUFFIXES):
        model = load_keras_file(path)
        spec = model.spec()
        if spec.compile is None:
            raise SeqcError(f"{path}: the saved model was never compiled; `seqc export` needs its loss and "
                            "optimizer to evaluate and train")
        spec = _bind_length(spec, seq_len, path)
        return spec, [np.asarray(w, np.float32) for w in model.get_weights()]
    from .frontend.ast_frontend import parse_script
    from .frontend.source import parse_defines
    spec = parse_script(path, parse_defines(list(defines)), input_shape)
    if spec.compile is None:
        raise SeqcError("the model is never compiled: seqc export needs `model.compile(optimizer=..., loss=..., "
                        "metrics=...)` in the script", spec.loc)
    return _bind_length(spec, seq_len, "the script"), None


def generate(spec, name, source):
    """(description, C source, header) of a fixed-shape compiled spec, C files named `name`.
    The same pipeline as pipeline.compile_spec, without building a library."""
    graph = lower.lower_model(spec)
    display = graph.name
    graph.name = name
    lower.attach_training(graph, spec.compile, lower.default_y_shape(spec.compile, graph.output.shape))
    passes.run_passes(graph)
    c, h = codegen.generate(graph, build.default_flags(), source=source)
    desc = pipeline.describe(graph, spec).replace(name=display, c_name=name)
    return desc, c, h


def initial_weights(desc, seed):
    """The weights `NAME.Model(seed=seed)` of a compiled package starts from (seed None: random)."""
    from .runtime.model import global_rng, initial_weights as draw
    rng = np.random.default_rng(seed) if seed is not None else global_rng()
    rng.integers(0, 2 ** 63)            # the package's model draws its dropout seed first
    return draw(desc, rng)


# ---------------------------------------------------------------------------------------------
# the program
# ---------------------------------------------------------------------------------------------
def _c_str(text):
    """A name for a C string literal (and the JSON the program prints): plain text only."""
    value = codegen.c_value(str(text))
    if any(c in value for c in "\\\"?"):
        raise codegen.CodegenError(f"a name unfit for a C string reached the driver: {value[:60]!r}")
    return value


def render_main(desc, name):
    for m in desc.metrics:
        if m.stateful:
            raise SeqcError(f"metric {m.name!r}: seqc export's program averages metrics over batches; a stateful "
                            "metric class (precision, AUC, counts, top-k, RMSE) is not supported there yet")
    y_shape = tuple(desc.y_shape)
    ctx = dict(
        name=name, version=_version(),
        in_shape=list(desc.input_shape), out_shape=list(desc.output_shape), y_shape=list(y_shape),
        metric_names=[_c_str(m.name) for m in desc.metrics],
        metric_per_sample=[1 if m.per_sample else 0 for m in desc.metrics],
        index_range=desc.index_range or 0,
        num_classes=(desc.num_classes or 0) if desc.sparse_labels else 0,
        fixed_batch=desc.batch_size or 0, stateful=1 if desc.stateful else 0)
    return codegen.render("export_main.c.j2", **ctx)


def _version():
    from . import __version__
    return __version__


_MAKEFILE = """\
# Makefile of {name}: a Keras model exported by seqc {version}. Needs a C compiler, libc and libm.
#   make                 build ./{name} for this machine (-march=native, or -mcpu=native)
#   make ARCH=           a portable build (or ARCH=-march=x86-64-v3, ...)
#   make OPENMP=         without OpenMP (it is used when the compiler accepts -fopenmp)
CC ?= cc
# the host's ISA as seqc's own builds take it: -march=native where the compiler accepts it, else
# -mcpu=native (clang before 15 on AArch64 has only that), else none (e.g. a cross compiler).
# Only `make ARCH=...` overrides it: an ARCH in the environment (cross-build setups export e.g.
# ARCH=arm64, a name, not a flag) is ignored.
ifneq ($(origin ARCH), command line)
ARCH := $(shell for f in -march=native -mcpu=native; do $(CC) $$f -E -x c /dev/null >/dev/null 2>&1 && echo $$f && break; done)
endif
CFLAGS ?= -O3
WARN ?= -Wall -Wextra
ifeq ($(origin OPENMP), undefined)
OPENMP := $(shell printf 'int main(void){{return 0;}}\\n' | $(CC) -fopenmp -x c - -o /dev/null >/dev/null 2>&1 && echo -fopenmp)
endif
# without OpenMP its pragmas are ignored by design, and a thread count only they read is unused
NOOMP_QUIET := $(if $(strip $(OPENMP)),,-Wno-unknown-pragmas -Wno-unused-parameter)
ALL_CFLAGS = -std=gnu11 $(CFLAGS) -fno-math-errno -fno-trapping-math $(ARCH) $(OPENMP) $(WARN) $(NOOMP_QUIET)

{name}: main.c {name}.c {name}.h
\t$(CC) $(ALL_CFLAGS) -o $@ main.c {name}.c $(LDFLAGS) -lm

clean:
\trm -f {name}

.PHONY: clean
"""

_README = """\
# {name}

A Keras model exported by seqc {version} from `{source}`: a standalone C program (no Python)
that predicts, evaluates and trains on `.npy` files.

    make                                   # or: make ARCH=  (portable), make OPENMP=  (no OpenMP)
    ./{name} predict  X.npy OUT.npy [--weights W.bin] [--batch-size B]
    ./{name} evaluate X.npy Y.npy   [--weights W.bin] [--batch-size B]
    ./{name} train    X.npy Y.npy --epochs E [--batch-size B] [--no-shuffle] [--seed S] [--weights W.bin] --save OUT.bin

- Input x: shape (n, {in_shape}){index_note}; labels y: (n, {y_shape}).
  `.npy` versions 1.0-3.0, C order, little-endian float32/float64/int32/int64 (converted to float32).
- Output of predict: float32 `.npy` of shape (n, {out_shape}).
- `--weights` defaults to `weights.bin` here: the get_weights() arrays in order, float32
  little-endian, C order, concatenated ({n_params} values, {n_bytes} bytes; another size is refused).
  In Python: `seqc.export.write_weights(model, path)` / `seqc.export.read_weights(model, path)`.
- evaluate and train print Keras-like progress lines; the last line of stdout is one JSON object
  (`{json_keys}`), for train the last epoch's values. Loss: {loss}; optimizer: {optimizer}
  (its state starts fresh at each `train`).
- `--batch-size` defaults to {default_batch}. train shuffles the rows each epoch unless
  `--no-shuffle`: a Fisher-Yates shuffle driven by splitmix64 seeded from `--seed` (default 0);
  dropout draws from the model's counter-based generator seeded with the same `--seed`.
- Bad input (a wrong shape or dtype, a weights file of the wrong size, a missing file, an unknown
  option) prints one line on stderr and exits with status 2; outputs are written to a temporary
  file renamed into place, so nothing is written on an error.
- Threads: OMP_NUM_THREADS (default: all processors) when built with OpenMP.
"""


def export(model_path, outdir, name=None, defines=(), seq_len=None, seed=None, input_shape=None):
    """Write the standalone program of MODEL into `outdir`. Returns (description, [file names])."""
    from .cli import _check_name, package_name
    from .fileio import atomic_write
    from .frontend.source import safe_file_name
    name = _check_name(name) if name else package_name(model_path)
    if name in RESERVED_NAMES:
        raise SeqcError(f"the program cannot be called {name!r} (the driver's main.c, the Makefile's targets): "
                        "choose another with --name")
    spec, weights = model_spec_and_weights(model_path, defines, seq_len, seed, input_shape)
    source = safe_file_name(model_path)
    desc, c, h = generate(spec, name, source)
    if weights is None:
        weights = initial_weights(desc, seed)
    for w, p in zip(weights, desc.params):
        if tuple(w.shape) != tuple(p.shape):
            raise SeqcError(f"{model_path}: the weight {p.name} has shape {w.shape}, the model expects {p.shape}")
    metric_keys = ["loss"] + [m.name for m in desc.metrics]
    files = {
        f"{name}.c": c,
        f"{name}.h": h,
        "main.c": render_main(desc, name),
        "Makefile": _MAKEFILE.format(name=name, version=_version()),
        "README.md": _README.format(
            name=name, version=_version(), source=codegen.c_comment(source),
            in_shape=", ".join(map(str, desc.input_shape)), out_shape=", ".join(map(str, desc.output_shape)),
            y_shape=", ".join(map(str, desc.y_shape)),
            index_note=(f", token indices in [0, {desc.index_range})" if desc.index_range else ""),
            n_params=desc.num_params, n_bytes=4 * desc.num_params,
            json_keys="{" + ", ".join(f'"{k}": ...' for k in metric_keys) + "}",
            loss=desc.loss.name, optimizer=desc.optimizer.kind,
            default_batch=(f"{desc.batch_size} (the model's fixed batch size)" if desc.batch_size else "32")),
    }
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as e:
        raise SeqcError(f"cannot create {outdir}: {e.strerror or e}") from None
    if not os.path.isdir(outdir):
        raise SeqcError(f"{outdir} exists and is not a directory")
    try:
        for fname, text in files.items():
            with atomic_write(os.path.join(outdir, fname), "w", follow_symlink=False) as f:
                f.write(text)
        with atomic_write(os.path.join(outdir, "weights.bin"), "wb", follow_symlink=False) as f:
            f.write(weights_bytes(weights))
    except OSError as e:
        raise SeqcError(f"cannot write {outdir}: {e.strerror or e}") from None
    return desc, sorted(list(files) + ["weights.bin"])


def main_export(args):
    """The `seqc export` command (called by seqc.cli)."""
    from .runtime.model import format_summary
    desc, files = export(args.model, args.outdir, args.name, args.define, args.seq_len, args.seed,
                         args.input_shape)
    print(format_summary(desc))
    print(f"Wrote {os.path.join(args.outdir, '')} ({', '.join(files)})")
    print(f"  build: make -C {args.outdir}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: seqc export MODEL -o DIR")
