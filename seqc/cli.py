"""The `seqc` command line.

  seqc compile MODEL.py [-o OUTDIR] [--name NAME] [-D NAME=VALUE ...] [--seq-len N] [--input-shape D1,D2,...]
  seqc run SCRIPT.py [ARGS...]
  seqc summary MODEL.py [-D NAME=VALUE ...] [--input-shape D1,D2,...]
  seqc export MODEL -o DIR [--name NAME] [-D NAME=VALUE ...] [--seq-len N] [--input-shape D1,...] [--seed S]

User errors print `FILE:LINE: message` (or `seqc: message`) on stderr and exit 1, without a
Python traceback (set SEQC_TRACEBACK=1 to see one). Imports are deferred so that a compile with
a warm build cache stays well under a second.
"""
import argparse
import dataclasses
import json
import keyword
import os
import sys

from . import build  # cheap to import: the compiler probes and cffi load lazily
from .errors import BuildError, SeqcError
from .frontend.source import safe_file_name
from .spec import format_shape

USAGE = """seqc compile MODEL.py [-o OUTDIR] [--name NAME] [-D NAME=VALUE ...] [--seq-len N] [--input-shape D1,D2,...]
       seqc compile MODEL.keras|MODEL.h5 [-o OUTDIR] [--name NAME] [--seq-len N]
       seqc run SCRIPT.py [ARGS...]
       seqc summary MODEL.py|MODEL.keras|MODEL.h5 [-D NAME=VALUE ...] [--input-shape D1,D2,...]
       seqc export MODEL -o DIR [--name NAME] [-D NAME=VALUE ...] [--seq-len N] [--input-shape D1,...] [--seed S]"""


MAX_NAME = 64      # a package name is a C identifier prefix (see codegen.generate)
SAVED_MODEL = (".keras", ".h5", ".hdf5")    # `seqc compile` / `seqc summary` of a saved Keras model
INITIAL_WEIGHTS = "initial.weights.h5"      # in a package compiled from one: its weights and optimizer state


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser():
    p = _Parser(prog="seqc", usage=USAGE,
                description="Compile Keras Sequential models to specialised C, and run Keras scripts on it.")
    p.add_argument("--version", action="store_true", help="print seqc's version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser("compile", help="compile a Keras script's model into a Python package (static: the "
                                       "script is read, never run)",
                       usage="seqc compile MODEL.py [-o OUTDIR] [--name NAME] [-D NAME=VALUE ...] [--seq-len N] [--input-shape D1,D2,...]",
                       description="When the script leaves the sequence length open (Embedding without "
                                   "input_length, input_shape=(None, 16)), the package binds it at the first "
                                   "fit/evaluate/predict and builds the C for each length it sees (cached); "
                                   "--seq-len N also builds length N now and ships it in the package.")
    c.add_argument("model", metavar="MODEL.py")
    c.add_argument("-o", "--outdir", default="build", metavar="OUTDIR",
                   help="where to write the package NAME/ (default: build)")
    c.add_argument("--name", help="package name (default: the script's file name)")
    c.add_argument("-D", dest="define", action="append", default=[], metavar="NAME=VALUE",
                   help="value for a name the script leaves undefined or computes at run time; VALUE is a "
                        "Python literal (repeatable)")
    c.add_argument("--seq-len", type=_positive_int, metavar="N",
                   help="when the script leaves the sequence length open: also generate and build the C for "
                        "length N now (other lengths are built at first use)")
    c.add_argument("--input-shape", type=_input_shape, metavar="D1,D2,...",
                   help="the per-sample input shape of a model whose first layer declares none (Keras builds "
                        "such a model at its first call, which seqc compile does not run), e.g. 28,28,1")

    r = sub.add_parser("run", help="run an unchanged Keras script with its keras imports served by seqc",
                       usage="seqc run SCRIPT.py [ARGS...]")
    r.add_argument("script", metavar="SCRIPT.py")
    r.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")

    s = sub.add_parser("summary", help="print the model summary of a Keras script (static)",
                       usage="seqc summary MODEL.py [-D NAME=VALUE ...] [--input-shape D1,D2,...]")
    s.add_argument("model", metavar="MODEL.py")
    s.add_argument("--input-shape", type=_input_shape, metavar="D1,D2,...",
                   help="the per-sample input shape of a model whose first layer declares none")
    s.add_argument("-D", dest="define", action="append", default=[], metavar="NAME=VALUE",
                   help="value for a name the script computes at run time (repeatable)")

    e = sub.add_parser("export", help="write a standalone C program (Makefile, model, driver, weights.bin) that "
                                      "predicts, evaluates and trains on .npy files without Python",
                       usage="seqc export MODEL -o DIR [--name NAME] [-D NAME=VALUE ...] [--seq-len N] [--input-shape D1,...] [--seed S]",
                       description="MODEL: a Keras script (read statically), or a saved .keras / .h5 model "
                                   "(its weights are exported). Then: make -C DIR; DIR/NAME predict|evaluate|train "
                                   "... (see DIR/README.md).")
    e.add_argument("model", metavar="MODEL")
    e.add_argument("-o", "--outdir", required=True, metavar="DIR", help="the directory to write")
    e.add_argument("--name", help="program and C file name (default: the model file's name)")
    e.add_argument("-D", dest="define", action="append", default=[], metavar="NAME=VALUE",
                   help="value for a name the script leaves undefined or computes at run time (repeatable)")
    e.add_argument("--seq-len", type=_positive_int, metavar="N",
                   help="the sequence length, for a model that leaves it open (the exported C has fixed shapes)")
    e.add_argument("--input-shape", type=_input_shape, metavar="D1,D2,...",
                   help="the per-sample input shape of a model whose first layer declares none")
    e.add_argument("--seed", type=_seed, metavar="S",
                   help="seed of a script's initial weights: those of NAME.Model(seed=S) of `seqc compile`'s "
                        "package (default: random)")
    return p


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def package_name(path):
    """The default package name: the file's stem as a Python identifier."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem) or "model"
    if not name.isascii():
        name = "".join(ch if ch.isascii() else "_" for ch in name)
    if name[0].isdigit():
        name = "m_" + name
    if keyword.iskeyword(name):
        name += "_"
    return name[:MAX_NAME]


def _check_name(name):
    if not name.isidentifier() or not name.isascii() or keyword.iskeyword(name):
        raise SeqcError(f"--name must be a Python identifier (ASCII letters, digits, _), got {name[:80]!r}")
    if len(name) > MAX_NAME:        # the C symbols and the library's file name are made from it
        raise SeqcError(f"--name must be at most {MAX_NAME} characters, got {len(name)}")
    return name


def _input_shape(text):
    """`--input-shape 28,28,1` -> (28, 28, 1)."""
    try:
        shape = tuple(int(d) for d in text.replace("(", "").replace(")", "").split(",") if d.strip())
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas (e.g. 28,28,1), "
                                         f"got {text!r}")
    return shape


def _parse(path, define, input_shape=None):
    from .frontend.ast_frontend import parse_script
    from .frontend.source import parse_defines
    return parse_script(path, parse_defines(define), input_shape)


# ---------------------------------------------------------------------------------------------
# compile
# ---------------------------------------------------------------------------------------------
_INIT_TEMPLATE = '''"""{name}: a Keras model compiled to C by seqc {version} from {source}.

    import {name}
    model = {name}.Model(seed=0)        # fit / evaluate / predict / get_weights ... as in Keras
{note}"""
import json as _json
import os as _os

_HERE = _os.path.dirname(_os.path.abspath(__file__))
LIBRARY = _os.path.join(_HERE, "lib{name}.so")
DESCRIPTION = _os.path.join(_HERE, "model.json")


def description():
    """The model description the runtime needs (layers, parameters, loss, metrics, optimizer)."""
    with open(DESCRIPTION) as f:
        return _json.load(f)


def Model(seed=None):
    """A fresh model with newly initialised weights (`seed` makes them reproducible)."""
    from seqc.package import load_model
    return load_model(_HERE, seed=seed)
'''

_OPEN_NOTE = '''
The script leaves the input's {what} open: the first fit / evaluate / predict
binds it, and the C is generated and built for each length seen (from seqc's build
cache), weights and optimizer state carried over.{built}
'''


def write_package(outdir, name, desc, lib_path, source, note="", extra=None):
    """OUTDIR/NAME/: __init__.py, model.json, and NAME.c, NAME.h, libNAME.so unless `lib_path`
    is None (an open length compiled without --seq-len; generated files of an earlier compile are
    then removed). model.json names the library by its file name in the package and records its
    sha256, which the loader checks. Each file is replaced atomically (model.json last), so a
    process that has the old library loaded keeps a valid mapping, and an interrupted compile
    leaves a package whose model.json and library disagree, refused at load, never half a file."""
    from . import __version__
    from .fileio import atomic_write, current_umask
    pkg = os.path.join(outdir, name)
    try:
        os.makedirs(pkg, exist_ok=True)
    except OSError as e:
        raise SeqcError(f"cannot create {pkg}: {e.strerror or e}") from None
    if not os.path.isdir(pkg):
        raise SeqcError(f"{pkg} exists and is not a directory")
    files, sha = build.exported_files(lib_path) if lib_path is not None else ({}, None)
    desc = with_library(desc, f"lib{name}.so", sha)
    files["__init__.py"] = _INIT_TEMPLATE.format(name=name, version=__version__, source=safe_file_name(source),
                                                 note=note).encode()
    files.update(extra or {})      # a saved model's weights (initial.weights.h5)
    files["model.json"] = (json.dumps(desc.to_json(), indent=1) + "\n").encode()
    umask = current_umask()
    try:
        for fname, data in files.items():
            perm = (0o755 if fname.endswith(".so") else 0o644) & ~umask
            with atomic_write(os.path.join(pkg, fname), "wb", perm=perm, follow_symlink=False) as f:
                f.write(data)
        for stale in (f"{name}.c", f"{name}.h", f"lib{name}.so", INITIAL_WEIGHTS):
            if stale not in files and os.path.lexists(os.path.join(pkg, stale)):
                os.unlink(os.path.join(pkg, stale))
    except OSError as e:
        raise SeqcError(f"cannot write the package {pkg}: {e.strerror or e}") from None
    return pkg, sorted(files)


def with_library(desc, lib_name, sha256):
    """The description as model.json stores it: a fixed-shape model names its library (a file
    name in the package) and its sha256; an open one records the sha256 of its prebuilt entry."""
    if sha256 is None:
        return desc
    if desc.script is not None:
        return desc.replace(prebuilt=tuple(dataclasses.replace(b, sha256=sha256) if b.library == lib_name else b
                                           for b in desc.prebuilt))
    return desc.replace(library=lib_name, library_sha256=sha256)


def _saved_model(path, seq_len=None, bind=True):
    """(SavedModel, ModelSpec) of a saved Keras model file; an open sequence length is bound to
    `seq_len` (a package compiled from a file is built for one length)."""
    from . import pipeline
    from .keras import saving
    from .errors import SourceLoc
    loc = SourceLoc(path, None)
    try:
        saved = saving.read_saved_model(path)
    except FileNotFoundError:
        raise SeqcError("no such file", loc) from None
    except SeqcError as e:
        raise SeqcError(e.message if hasattr(e, "message") else str(e), loc) from None
    except (ValueError, TypeError, OSError) as e:
        raise SeqcError(str(e).replace(f"{path}: ", ""), loc) from None
    spec = saved.spec
    if not bind:
        return saved, spec
    if pipeline.is_open(spec):
        if seq_len is None:
            raise SeqcError(f"the saved model's input shape {format_shape(spec.input_shape)} leaves the sequence "
                            "length open: give --seq-len N", loc)
        spec = dataclasses.replace(spec, input_shape=pipeline.bind_shape(spec.input_shape, seq_len))
    elif seq_len is not None and spec.input_shape[0] != seq_len:
        raise SeqcError(f"--seq-len {seq_len}: the saved model fixes the input shape to "
                        f"{format_shape(spec.input_shape)}", loc)
    return saved, spec


def cmd_compile_saved(args, name):
    """`seqc compile MODEL.keras|MODEL.h5`: the package of a saved model, whose Model() starts
    from the file's weights (and optimizer state) kept in the package as initial.weights.h5."""
    from . import pipeline
    from .keras import saving
    from .runtime.model import format_summary
    saved, spec = _saved_model(args.model, args.seq_len)
    if spec.compile is None:
        raise SeqcError("the saved model was never compiled (no loss or optimizer in the file): seqc compile "
                        "needs a compiled model", saving_loc(args.model))
    desc, lib_path, _ = pipeline.compile_spec(spec, c_name=name)
    try:
        initial = saving.weights_file_bytes(desc, saved.weights, saved.optimizer_variables)
    except ValueError as e:
        raise SeqcError(str(e), saving_loc(args.model)) from None
    pkg, files = write_package(args.outdir, name, desc, lib_path, args.model, extra={INITIAL_WEIGHTS: initial})
    print(format_summary(desc))
    print(f"Wrote {pkg}{os.sep} ({', '.join(f for f in files)})")
    print(f"  use: sys.path.insert(0, {args.outdir!r}); import {name}; model = {name}.Model(seed=0)   "
          "# the file's weights")
    return 0


def saving_loc(path):
    from .errors import SourceLoc
    return SourceLoc(path, None)


def cmd_compile(args):
    from .frontend.source import parse_defines, read_source
    name = _check_name(args.name) if args.name else package_name(args.model)
    if args.model.endswith(SAVED_MODEL):
        if args.define:
            raise SeqcError("-D is for scripts; a saved model file defines every value itself", saving_loc(args.model))
        return cmd_compile_saved(args, name)
    source = read_source(args.model)
    defines = parse_defines(args.define)
    key = memo_key(source, defines, name, args.model, (args.seq_len, args.input_shape))
    hit = memo_get(key)
    if hit is not None:
        desc, lib_path, summary = hit
    else:
        from .frontend.ast_frontend import parse_script
        spec = parse_script(args.model, defines, args.input_shape)
        if spec.compile is None:
            raise SeqcError("the model is never compiled: seqc compile needs `model.compile(optimizer=..., "
                            "loss=..., metrics=...)` in the script", spec.loc)
        desc, lib_path, summary = compile_package(spec, name, args, source)
        memo_put(key, desc, lib_path, summary)
    note = _open_note(desc)
    pkg, files = write_package(args.outdir, name, desc, lib_path, args.model, note=note)
    print(summary)
    if note:
        print(note.strip("\n"))
    names = [p.name for p in desc.params]
    for layer in desc.layers:
        if layer.kind == "Normalization" and f"{layer.name}/mean" in names:
            i = names.index(f"{layer.name}/mean")
            print(f"Note: {layer.name} learns its mean and variance with adapt() on the script's data, which "
                  f"seqc compile does not run: in the package they start at 0 and 1. Set them before training: "
                  f"weights {i} and {i + 1} of model.get_weights() (e.g. x.mean(axis=0), x.var(axis=0) for "
                  f"axis=-1), or load weights.")
    print(f"Wrote {pkg}{os.sep} ({', '.join(f for f in files)})")
    print(f"  use: sys.path.insert(0, {args.outdir!r}); import {name}; model = {name}.Model(seed=0)")
    return 0


def compile_package(spec, name, args, source):
    """(description, library or None, summary) of the package for a parsed script.

    A fixed input shape: the C and the library, built now. An open one: the description of
    the open model (None for each length-dependent dimension) with the script's text and -D
    values, from which the package's loader reads the model again at run time; the C for
    length N too when --seq-len N is given."""
    from . import pipeline
    from .runtime.model import format_summary
    seq_len = args.seq_len
    if not pipeline.is_open(spec):
        if seq_len is not None and (not spec.input_shape or spec.input_shape[0] != seq_len):
            raise SeqcError(f"--seq-len {seq_len}: the script fixes the input shape to "
                            f"{format_shape(spec.input_shape)}; --seq-len is for a script that leaves "
                            "the sequence length open", spec.layers[0].loc if spec.layers else spec.loc)
        desc, lib_path, _ = pipeline.compile_spec(spec, c_name=name)    # NAME.c, NAME.h, libNAME.so
        return desc, lib_path, format_summary(desc)
    from importlib.util import decode_source     # the script's text as ast read it (coding cookie)
    from .description import Prebuilt, ScriptSource
    desc = pipeline.describe_open(spec).replace(
        script=ScriptSource(os.path.basename(args.model), decode_source(source), tuple(args.define)))
    lib_path = None
    if seq_len is not None:
        shape, loc = format_shape(spec.input_shape), spec.layers[0].loc if spec.layers else spec.loc
        if spec.input_shape[0] is not None:
            raise SeqcError(f"--seq-len {seq_len}: the input shape {shape} does not leave its first dimension, the "
                            "sequence length, open; its open dimensions are bound at first use (omit --seq-len)", loc)
        if spec.input_shape.count(None) > 1:
            raise SeqcError(f"--seq-len {seq_len}: the input shape {shape} has open dimensions besides the sequence "
                            "length; they are bound at first use (omit --seq-len)", loc)
        fixed = dataclasses.replace(spec, input_shape=pipeline.bind_shape(spec.input_shape, seq_len))
        d, lib_path, _ = pipeline.compile_spec(fixed, c_name=name)      # NAME.c, NAME.h, libNAME.so
        desc = desc.replace(prebuilt=(Prebuilt(d, f"lib{name}.so"),))
    return desc, lib_path, format_summary(desc)


def _open_note(desc):
    """For a package whose input shape is open: how and when it is specialised."""
    if desc.script is None:
        return ""
    shape = desc.input_shape
    what = ("sequence length" if shape[0] is None and shape.count(None) == 1
            else f"shape {format_shape(shape)}")
    built = "".join(f"\n{b.library} holds the build for input shape {format_shape(b.description.input_shape)} "
                    "(--seq-len)." for b in desc.prebuilt)
    return _OPEN_NOTE.format(what=what, built=built)


# ---------------------------------------------------------------------------------------------
# compile memo: an unchanged script compiled again skips parsing, code generation and the
# compiler probes (the build itself is cached by seqc.build; this makes `seqc compile` of a
# known script cost little more than the imports). The key covers everything the result depends
# on: the script's bytes and name, -D defines, the package name, seqc's own source files, the C
# compiler binary, the flags' environment and the host CPU.
# ---------------------------------------------------------------------------------------------
def _compiler_fingerprint():
    import shutil
    cc = os.environ.get("CC", "cc")
    exe = shutil.which(cc.split()[0]) if cc.split() else None
    if exe is None:
        return f"{cc}:missing"
    real = os.path.realpath(exe)
    st = os.stat(real)
    return f"{cc}:{real}:{st.st_mtime_ns}:{st.st_size}"


def _host_fingerprint():
    import platform
    parts = [platform.machine()]
    try:
        with open("/proc/cpuinfo") as f:
            seen = set()
            for line in f:
                k = line.split(":", 1)[0].strip()
                if k in ("model name", "flags", "Features", "CPU part", "isa") and k not in seen:
                    seen.add(k)
                    parts.append(line.strip())
    except OSError:
        parts.append(platform.processor())
    return "\n".join(parts)


def memo_key(source, defines, name, path, seq_len=None):
    import hashlib
    from . import __version__
    h = hashlib.sha256()
    for part in (__version__, build.source_id(), _compiler_fingerprint(), _host_fingerprint(),
                 os.environ.get("CC", ""), os.environ.get("SEQC_CFLAGS", "<unset>"),
                 os.environ.get("SEQC_SANITIZE", ""), os.environ.get("SEQC_VECTOR_WIDTH", ""), os.environ.get("SEQC_OPT", ""),
                 " ".join(build.default_flags()), name,
                 os.path.basename(path), repr(sorted((k, repr(v)) for k, v in defines.items())),
                 repr(seq_len)):
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    h.update(source)
    return h.hexdigest()[:32]


def _memo_path(key):
    return os.path.join(build.cache_subdir("compile-memo"), key + ".json")


def memo_get(key):
    """The memo's (description, library path or None, summary), or None. The library is named
    relative to the cache (KEY/libNAME.so) and returned only if it matches its build record."""
    if os.environ.get("SEQC_NO_MEMO"):
        return None
    from .description import ModelDescription
    data = build.read_private(_memo_path(key))
    try:
        entry = json.loads(data)
        desc, lib, summary = ModelDescription.from_json(entry["desc"]), entry["lib"], entry["summary"]
        if lib is not None:
            lib = build.cached_library(*lib)
            if lib is None:
                return None
    except (ValueError, KeyError, TypeError):
        return None
    return desc, lib, summary


def memo_put(key, desc, lib_path, summary):
    lib = None
    if lib_path is not None:
        d, lib_name = os.path.split(lib_path)
        lib = [os.path.basename(d), lib_name]
    try:
        build.write_private(_memo_path(key), json.dumps({"desc": desc.to_json(), "lib": lib, "summary": summary}).encode())
    except (OSError, BuildError):
        pass      # a read-only cache only costs speed


# ---------------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------------
def summary_description(spec):
    """The description used by the summary: shapes, parameters and (when compiled) the fusions,
    without generating or building any C; None for the dimensions an open length leaves open."""
    from . import pipeline
    return pipeline.describe_open(spec) if pipeline.is_open(spec) else pipeline.describe_spec(spec)


def cmd_summary(args):
    from .runtime.model import format_summary
    if args.model.endswith(SAVED_MODEL):
        if args.define:
            raise SeqcError("-D is for scripts; a saved model file defines every value itself", saving_loc(args.model))
        _, spec = _saved_model(args.model, bind=False)
        print(format_summary(summary_description(spec)))
        return 0
    spec = _parse(args.model, args.define, args.input_shape)
    print(format_summary(summary_description(spec)))
    return 0


# ---------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------
def cmd_export(args):
    from .export import main_export
    return main_export(args)


# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------
def cmd_run(args):
    from . import distributed
    from .frontend.runner import run_script
    if distributed.launched():       # `mpirun -n N seqc run`: data-parallel (seqc.distributed)
        distributed.init()
    run_script(args.script, args.args)
    return 0


# ---------------------------------------------------------------------------------------------
def format_error(e):
    loc = getattr(e, "loc", None)
    message = getattr(e, "message", None) or str(e)
    if loc is not None and loc.file:
        if loc.line is None:
            return f"{loc.file}: {message}"
        return f"{loc.file}:{loc.line}: {message}"
    return f"seqc: {message}"


def main(argv=None):
    """The command line; under mpirun, a rank that fails ends the job (MPI_Abort) rather than
    leave the other ranks waiting."""
    from . import distributed
    try:
        rc = _main(argv)
    except SystemExit as e:
        if e.code not in (None, 0):
            distributed.abort_if_running(e.code if isinstance(e.code, int) else 1)
        raise
    if rc:
        distributed.abort_if_running(rc)
    return rc


def _main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(f"seqc: {e}", file=sys.stderr)
        print(f"usage: {USAGE}", file=sys.stderr)
        return 1
    if args.version:
        from . import __version__
        print(f"seqc {__version__}")
        return 0
    if args.command is None:
        print(f"usage: {USAGE}", file=sys.stderr)
        return 1
    command = {"compile": cmd_compile, "run": cmd_run, "summary": cmd_summary, "export": cmd_export}[args.command]
    debug = os.environ.get("SEQC_TRACEBACK")
    try:
        return command(args)
    except SeqcError as e:
        if debug:
            raise
        print(format_error(e), file=sys.stderr)
        return 1
    except BuildError as e:
        if debug:
            raise
        print(f"seqc: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("seqc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:          # `seqc summary m.py | head`
        try:
            sys.stdout = None
        finally:
            return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
