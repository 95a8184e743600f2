"""Build: compile generated C into a shared library and load it with cffi (ABI mode).

The build directory is keyed by a hash of the source, the flags, the compiler and seqc's
version, so an unchanged model never recompiles; a file lock keeps two processes from building
over each other. We call the C compiler ourselves rather than through cffi's setuptools path:
it keeps a cold build well under a second of overhead and gives full control of the flags
(-march=native with a portable fallback, OpenMP when available).
"""
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

from . import __version__
from .errors import BuildError

_ffi = None
_loaded = {}


def ffi():
    """The cffi FFI declaring the C API (created on first use: parsing the cdef takes time)."""
    global _ffi
    if _ffi is None:
        import cffi
        from .codegen import CDEF
        _ffi = cffi.FFI()
        _ffi.cdef(CDEF)
    return _ffi


@functools.lru_cache(maxsize=None)
def source_id():
    """Hash of seqc's own code and templates: part of every cache key, so that an edited
    template or pass never reuses a stale build."""
    h = hashlib.sha256(__version__.encode())
    root = os.path.dirname(os.path.abspath(__file__))
    for dirpath, dirnames, files in sorted(os.walk(root)):
        dirnames.sort()
        for f in sorted(files):
            if f.endswith((".py", ".j2")):
                with open(os.path.join(dirpath, f), "rb") as fh:
                    h.update(f.encode() + b"\0" + fh.read())
    return h.hexdigest()[:16]


def cache_dir():
    return os.environ.get("SEQC_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "seqc")


def compiler():
    return os.environ.get("CC", "cc")


@functools.lru_cache(maxsize=None)
def _probe(flags):
    """Does the compiler accept these flags? Returns its predefined macros, or None."""
    try:
        r = subprocess.run([compiler(), *flags, "-dM", "-E", "-x", "c", "-"], input="", capture_output=True,
                           text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def default_flags():
    """-O3, the host's ISA when the compiler knows it (portable fallback otherwise), OpenMP if
    available. SEQC_CFLAGS replaces the arch part (e.g. SEQC_CFLAGS=-march=x86-64-v2)."""
    base = ["-O3", "-std=gnu11", "-fPIC", "-Wall", "-Wextra",
            "-fno-math-errno"]
    arch = os.environ.get("SEQC_CFLAGS")
    if arch is not None:
        arch = arch.split()
    else:
        arch = ["-march=native"] if _probe(("-march=native",)) is not None else (
            ["-mcpu=native"] if _probe(("-mcpu=native",)) is not None else [])
    omp = ["-fopenmp"] if _probe(("-fopenmp",)) is not None and "_OPENMP" in (_probe(("-fopenmp",)) or "") else []
    # gcc turns short copy/zero loops (a GEMM tile's rows, a packed panel's rows) into memcpy /
    # memset calls; in the small GEMMs of recurrent layers those calls cost ~10-20% of a step
    nolib = ["-fno-tree-loop-distribute-patterns"] if _probe(("-fno-tree-loop-distribute-patterns",)) is not None else []
    quiet = [] if omp else ["-Wno-unknown-pragmas"]   # without OpenMP its pragmas are ignored, by design
    return tuple(base + nolib + arch + omp + quiet)


def target_features(flags):
    return _probe(tuple(f for f in flags if f.startswith(("-m", "-f")))) or ""


@functools.lru_cache(maxsize=None)
def compiler_id():
    try:
        return subprocess.run([compiler(), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def build_key(c_source, h_source, flags):
    h = hashlib.sha256()
    for part in (source_id(), compiler_id(), " ".join(flags), c_source, h_source):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def build(name, c_source, h_source, flags=None):
    """Compile (or find in the cache) and return the path of the shared library."""
    flags = tuple(flags or default_flags())
    key = build_key(c_source, h_source, flags)
    d = os.path.join(cache_dir(), key)
    lib = os.path.join(d, f"lib{name}.so")
    if os.path.exists(lib):
        return lib
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(lib):
            return lib
        for ext, text in ((".c", c_source), (".h", h_source)):
            with open(os.path.join(d, name + ext), "w") as f:
                f.write(text)
        tmp = tempfile.NamedTemporaryFile(dir=d, suffix=".so", delete=False).name
        cmd = [compiler(), *flags, "-shared", "-o", tmp, os.path.join(d, name + ".c"), "-lm"]
        if sys.platform.startswith("linux"):
            cmd.insert(-1, "-Wl,-z,nodelete")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            os.unlink(tmp)
            raise BuildError(f"C compiler failed building {name} ({' '.join(cmd)}):\n{r.stderr}")
        with open(os.path.join(d, "build.log"), "w") as f:
            f.write(f"# seqc {source_id()}\n" + " ".join(cmd) + "\n" + r.stderr)
        os.replace(tmp, lib)
    return lib


def load(path):
    """dlopen a built model library (each path once per process)."""
    path = os.path.abspath(path)
    if path not in _loaded:
        f = ffi()
        # RTLD_NODELETE: OpenMP worker threads may still be parked in the library's code when
        # Python unloads it at exit; keeping it mapped avoids a crash at shutdown.
        flags = f.RTLD_NOW | getattr(f, "RTLD_NODELETE", 0)
        _loaded[path] = f.dlopen(path, flags)
    return _loaded[path]


def export(lib_path, outdir):
    """Copy the library and its sources next to a compiled package."""
    src = os.path.dirname(lib_path)
    os.makedirs(outdir, exist_ok=True)
    for f in os.listdir(src):
        if f.endswith((".c", ".h", ".so")):
            shutil.copy2(os.path.join(src, f), os.path.join(outdir, f))


if __name__ == "__main__":  # pragma: no cover
    print(default_flags(), file=sys.stderr)
