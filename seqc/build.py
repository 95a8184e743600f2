"""Build: compile generated C into a shared library and load it with cffi (ABI mode).

The build directory is keyed by a hash of the source, the library name, the flags, the compiler
and seqc's version, so an unchanged model never recompiles; a file lock keeps two processes from
building over each other. We call the C compiler ourselves rather than through cffi's setuptools
path: it keeps a cold build well under a second of overhead and gives full control of the flags
(-march=native with a portable fallback, OpenMP when available).

Layout of the cache (`~/.cache/seqc`, or SEQC_CACHE_DIR):

    ROOT/                        0700, owned by the user
      KEY/                       0700: one library per key
        NAME.c, NAME.h           the generated source (kept for the build log and packages)
        libNAME.so               the library
        libNAME.so.json          its record: {"key", "library", "sha256" of the .so, "source": sha256 of c + h}
        build.log                the compiler command and its full output
        .lock                    flock'ed while building (0600)
      compile-memo/KEY.json      `seqc compile`'s memo (see cli.py), naming libraries as KEY/libNAME.so

Threat model. Whoever can write into the cache can make seqc load code: a library, its record
and a memo entry are all just files there, and no check made with what is inside the cache can
tell a planted library from a built one (the attacker computes the same hashes). So the cache
must be writable by the user alone, and seqc enforces it: the root and every key directory must
be directories owned by the effective user and not writable by group or others (created 0700
whatever the umask; anything else is refused with one line naming the fix). The directories
above the root are trusted, as $HOME is. Inside the cache seqc never follows a symlink: files
are opened with O_NOFOLLOW, written to a fresh O_EXCL temporary name and renamed into place
(a rename replaces a planted link, it does not write through it), and a symlink found where a
key directory should be is removed.

The content hashes then guard against accidents rather than attackers: a library truncated by
a full disk or an interrupted copy, replaced by hand, or left from another key. A library is
loaded only when its record is bound to its place (the record names the key directory and the
library file it sits in, and the source it was built from) and the bytes hash to the recorded
sha256; otherwise it is rebuilt. The hash is computed on the open file descriptor that is then
given to dlopen (/proc/self/fd/N), so what was checked is what is mapped. A compiled package's
model.json records its library's file name (relative to the package) and sha256 the same way.
"""
import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

from . import __version__, fileio, vectorwidth
from .errors import BuildError

_ffi = None
_loaded = {}         # (st_dev, st_ino, sha256) -> cffi library
_trusted = {}        # absolute path -> sha256 the caller vouched for (a package's model.json)
_open_fds = []       # descriptors behind /proc/self/fd/N names given to dlopen: kept open so that
                     # no later library gets the same name (the loader matches libraries by name)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_KEY = re.compile(r"[0-9a-f]{20,64}\Z")
_LIB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def ffi():
    """The cffi FFI declaring the C API (created on first use: parsing the cdef takes time)."""
    global _ffi
    if _ffi is None:
        import cffi
        from .codegen import CDEF, OPTIMIZER_API
        _ffi = cffi.FFI()
        _ffi.cdef(CDEF + "".join(OPTIMIZER_API.values()))   # a library has those of its optimizer only
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
                           text=True, errors="replace", timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


def default_flags():
    """The flags of a build now (SEQC_OPT is read at each call; the rest is probed once)."""
    return _default_flags(os.environ.get("SEQC_OPT", "-O3"))


default_flags.cache_clear = lambda: _default_flags.cache_clear()


@functools.lru_cache(maxsize=None)
def _default_flags(opt):
    """-O3 (SEQC_OPT=-O1 / -O2 to compile faster: the test suite does), the host's ISA when the compiler knows it (portable fallback otherwise) with the
    vector width measured to pay on this host (vectorwidth.py), OpenMP if available. SEQC_CFLAGS replaces the arch part (e.g. SEQC_CFLAGS=-march=x86-64-v2);
    SEQC_SANITIZE=1 adds the sanitizers (see sanitize_flags)."""
    if opt not in ("-O1", "-O2", "-O3"):
        raise BuildError(f"SEQC_OPT must be -O1, -O2 or -O3, got {opt!r}")
    # -fno-trapping-math: seqc never reads floating-point exception flags, and without it gcc
    # keeps a loop with a conditional on a float compare scalar where the vectors have no masks
    # (AVX2, NEON): e.g. the recurrent cell's sigmoid and tanh. The values are the same.
    base = [opt, "-std=gnu11", "-fPIC", "-Wall", "-Wextra",
            "-fno-math-errno", "-fno-trapping-math"]
    if opt == "-O1":
        # gcc forms fused multiply-adds only with -fexpensive-optimizations (on from -O2): with
        # it an -O1 build rounds its sums as the shipping -O3 build does
        base.append("-fexpensive-optimizations")
    arch = os.environ.get("SEQC_CFLAGS")
    if arch is not None:
        arch = arch.split()
    else:
        arch = ["-march=native"] if _probe(("-march=native",)) is not None else (
            ["-mcpu=native"] if _probe(("-mcpu=native",)) is not None else [])
        width = vectorwidth.preferred(compiler(), arch, _probe(tuple(arch)), compiler_id(), cache_subdir,
                                      read_private, write_private)
        if width is not None and _probe(tuple(arch) + (f"-mprefer-vector-width={width}",)) is not None:
            arch.append(f"-mprefer-vector-width={width}")     # measured per host: see vectorwidth.py
    omp = ["-fopenmp"] if _probe(("-fopenmp",)) is not None and "_OPENMP" in (_probe(("-fopenmp",)) or "") else []
    # gcc turns short copy/zero loops (a GEMM tile's rows, a packed panel's rows) into memcpy /
    # memset calls; in the small GEMMs of recurrent layers those calls cost ~10-20% of a step
    nolib = ["-fno-tree-loop-distribute-patterns"] if _probe(("-fno-tree-loop-distribute-patterns",)) is not None else []
    # without OpenMP its pragmas are ignored, by design, and a thread count only they read is unused
    quiet = [] if omp else ["-Wno-unknown-pragmas", "-Wno-unused-parameter"]
    return tuple(base + nolib + arch + omp + quiet + sanitize_flags())


def sanitize_flags():
    """SEQC_SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer builds (for tests; the
    flags are part of the build key, so sanitized and normal libraries never mix). An ASan
    library loads only into a process that has libasan first: run Python with
    LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 (CPython's own
    allocations would otherwise be reported as leaks at exit)."""
    if os.environ.get("SEQC_SANITIZE", "") in ("", "0"):
        return []
    # -O1 after -O3 wins; the UB checks abort instead of printing and carrying on
    return ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer",
            "-g", "-O1"]


def target_features(flags):
    return _probe(tuple(f for f in flags if f.startswith(("-m", "-f")))) or ""


@functools.lru_cache(maxsize=None)
def compiler_id():
    try:
        return subprocess.run([compiler(), "--version"], capture_output=True, text=True,
                              errors="replace").stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def build_key(name, c_source, h_source, flags):
    h = hashlib.sha256()
    for part in (source_id(), compiler_id(), " ".join(flags), name, c_source, h_source):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def _source_sha256(c_source, h_source):
    return hashlib.sha256(c_source.encode() + b"\0" + h_source.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# the private cache: directories and files
# ---------------------------------------------------------------------------------------------
def _check_private(path, st):
    if not stat.S_ISDIR(st.st_mode):
        raise BuildError(f"the build cache {path} is not a directory; set SEQC_CACHE_DIR to a private directory")
    if st.st_uid != os.geteuid():
        raise BuildError(f"the build cache {path} is owned by another user (uid {st.st_uid}); seqc uses only a "
                         "cache of its own: set SEQC_CACHE_DIR to a private directory")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise BuildError(f"the build cache {path} is writable by group or others (mode "
                         f"{stat.S_IMODE(st.st_mode):04o}); seqc uses only a private cache: run "
                         f"`chmod go-w {shlex.quote(path)}` or set SEQC_CACHE_DIR to a private directory")


def _private_dir(path):
    """Create `path` 0700 (whatever the umask) or check the existing one: a real directory of
    ours that nobody else can write. A symlink in its place is removed (only inside the cache)."""
    for _ in range(3):
        try:
            os.mkdir(path, 0o700)
            os.chmod(path, 0o700)      # mkdir's mode is masked by the umask
        except FileExistsError:
            pass
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            os.unlink(path)
            continue
        _check_private(path, st)
        return path
    raise BuildError(f"cannot create the cache directory {path}: something keeps replacing it")


def cache_root():
    """The cache's root directory, created or checked (see the module docstring); its real path."""
    root = cache_dir()
    try:
        parent = os.path.dirname(os.path.abspath(root))
        os.makedirs(parent, mode=0o700, exist_ok=True)
        try:
            os.mkdir(root, 0o700)
            os.chmod(root, 0o700)
        except FileExistsError:
            pass
        real = os.path.realpath(root)       # the root itself may be a link the user made
        _check_private(real, os.lstat(real))
    except OSError as e:
        raise BuildError(f"cannot use the build cache {root}: {e.strerror or e}") from None
    return real


def cache_subdir(name):
    """ROOT/NAME, created or checked like a key directory."""
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z_.-]*", name) or ".." in name:
        raise ValueError(f"bad cache directory name {name!r}")
    path = os.path.join(cache_root(), name)
    try:
        return _private_dir(path)
    except OSError as e:
        raise BuildError(f"cannot use the build cache directory {path}: {e.strerror or e}") from None


def read_private(path):
    """The bytes of a regular file of ours at `path` (no symlink followed), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            return None
        with os.fdopen(fd, "rb") as f:
            fd = None
            return f.read()
    finally:
        if fd is not None:
            os.close(fd)


def write_private(path, data, perm=0o600):
    """Write `data` at `path` atomically: a fresh O_EXCL|O_NOFOLLOW temporary file in the same
    directory, fsynced, renamed over `path` (replacing whatever link or file was there)."""
    tmp = f"{path}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, perm)
    with fileio.replacing(path, tmp, fd, perm) as f:
        f.write(data)


@contextlib.contextmanager
def _lock(dirpath):
    """An exclusive flock on DIR/.lock (opened without following a link, 0600, ours)."""
    path = os.path.join(dirpath, ".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        os.unlink(path)              # a symlink planted as the lock file
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise BuildError(f"the build lock {path} is not a regular file of this user")
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fd_sha256(fd):
    h = hashlib.sha256()
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return h.hexdigest()
        h.update(chunk)
        offset += len(chunk)


def file_sha256(path):
    """sha256 of the regular file at `path` (not followed if it is a symlink)."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        return _fd_sha256(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# records: a library's content hash, bound to its key directory and its source
# ---------------------------------------------------------------------------------------------
def _record_path(lib):
    return lib + ".json"


def _read_record(lib):
    """The record of a cached library, if it is bound to where the library lies."""
    data = read_private(_record_path(lib))
    try:
        record = json.loads(data) if data is not None else None
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
        return None
    if record.get("key") != os.path.basename(os.path.dirname(lib)) or record.get("library") != os.path.basename(lib):
        return None
    return record


def recorded_sha256(lib):
    """The sha256 recorded for a library of the cache, or None (no record, or not bound to `lib`)."""
    record = _read_record(os.path.abspath(lib))
    return record["sha256"] if record else None


def _cached_ok(lib, c_source, h_source):
    record = _read_record(lib)
    if record is None or record.get("source") != _source_sha256(c_source, h_source):
        return False
    try:
        return file_sha256(lib) == record["sha256"]
    except OSError:
        return False


def cached_library(key, lib_name):
    """ROOT/KEY/LIB_NAME if it is a library of the cache matching its record, else None (for the
    compile memo, which names libraries relative to the cache)."""
    if not isinstance(key, str) or not isinstance(lib_name, str) or not _KEY.match(key):
        return None
    if not lib_name.startswith("lib") or not lib_name.endswith(".so") or not _LIB_NAME.match(lib_name[3:-3]):
        return None
    lib = os.path.join(cache_root(), key, lib_name)
    try:
        st = os.lstat(os.path.dirname(lib))
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return None
    _check_private(os.path.dirname(lib), st)
    expected = recorded_sha256(lib)
    try:
        return lib if expected is not None and file_sha256(lib) == expected else None
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------
def build(name, c_source, h_source, flags=None):
    """Compile (or find in the cache) and return the path of the shared library."""
    if not isinstance(name, str) or not _LIB_NAME.match(name):
        raise ValueError(f"bad library name {name!r}")
    flags = tuple(flags or default_flags())
    key = build_key(name, c_source, h_source, flags)
    d = cache_subdir(key)
    lib = os.path.join(d, f"lib{name}.so")
    if _cached_ok(lib, c_source, h_source):
        return lib
    try:
        with _lock(d):
            if not _cached_ok(lib, c_source, h_source):
                _compile(d, key, name, c_source, h_source, flags)
    except OSError as e:
        raise BuildError(f"cannot build in the cache {d}: {e.strerror or e}") from None
    return lib


def _compile(d, key, name, c_source, h_source, flags):
    """Compile in a fresh private directory inside the key directory; then move the source,
    the library and (last) its record into place."""
    work = tempfile.mkdtemp(prefix=".build-", dir=d)
    try:
        c_file, h_file, out = (os.path.join(work, f) for f in (f"{name}.c", f"{name}.h", f"lib{name}.so"))
        write_private(c_file, c_source.encode())
        write_private(h_file, h_source.encode())
        cmd = [compiler(), *flags, "-shared", "-o", out, c_file, "-lm"]
        if sys.platform.startswith("linux"):
            cmd.insert(-1, "-Wl,-z,nodelete")
        try:
            r = subprocess.run(cmd, capture_output=True, cwd=work)
        except OSError as e:
            raise BuildError(f"cannot run the C compiler {compiler()!r}: {e.strerror or e} "
                             "(set CC to a C compiler)") from None
        log = os.path.join(d, "build.log")
        text = (f"# seqc {source_id()}\n{shlex.join(cmd)}\n"
                + r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace"))
        if r.returncode != 0:
            text += f"# the compiler exited with status {r.returncode}\n"
        write_private(log, text.encode())
        for f in (c_file, h_file):
            os.replace(f, os.path.join(d, os.path.basename(f)))
        if r.returncode != 0 or not os.path.isfile(out):
            raise BuildError(f"internal error: the C compiler rejected the generated code for {name}; "
                             f"build log: {log}")
        os.chmod(out, 0o700)
        record = {"key": key, "library": f"lib{name}.so", "sha256": file_sha256(out),
                  "source": _source_sha256(c_source, h_source)}
        lib = os.path.join(d, f"lib{name}.so")
        os.replace(out, lib)
        write_private(_record_path(lib), json.dumps(record).encode())
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------
def trust(path, sha256):
    """Vouch for the content of a library outside the cache (a package's, from its model.json):
    `load(path)` then accepts it only with this sha256."""
    _trusted[os.path.abspath(path)] = sha256


def load(path, sha256=None):
    """dlopen a built model library, after checking its content against `sha256`, or against the
    hash vouched for by `trust`, or against its record in the cache. Each file is loaded once."""
    path = os.path.abspath(path)
    expected = sha256 or _trusted.get(path)
    if expected is None and os.path.dirname(os.path.dirname(path)) == cache_root():
        expected = recorded_sha256(path)        # records are read only inside the cache
    if expected is None:
        raise BuildError(f"{path} has no recorded content hash: seqc loads only libraries it built "
                         "(compile again)")
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError as e:
        raise BuildError(f"cannot open the model library {path}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BuildError(f"the model library {path} is not a regular file")
        digest = _fd_sha256(fd)
        if digest != expected:
            raise BuildError(f"the model library {path} does not match its recorded sha256 (truncated, "
                             "modified or replaced): not loaded; compile again")
        ident = (st.st_dev, st.st_ino, digest)
        if ident not in _loaded:
            f = ffi()
            # RTLD_NODELETE: OpenMP worker threads may still be parked in the library's code when
            # Python unloads it at exit; keeping it mapped avoids a crash at shutdown.
            flags = f.RTLD_NOW | getattr(f, "RTLD_NODELETE", 0)
            by_fd = f"/proc/self/fd/{fd}"
            name = by_fd if os.path.exists(by_fd) else path
            try:
                _loaded[ident] = f.dlopen(name, flags)
            except OSError as e:
                raise BuildError(f"cannot load the model library {path}: {e}") from None
            if name == by_fd:
                _open_fds.append(fd)
                fd = None
        return _loaded[ident]
    finally:
        if fd is not None:
            os.close(fd)


def exported_files(lib_path):
    """(files, sha256) for a compiled package: {file name: bytes} of NAME.c, NAME.h and
    libNAME.so from the library's cache directory, the library checked against its record."""
    d, lib_name = os.path.split(os.path.abspath(lib_path))
    name = lib_name[3:-3]
    expected = recorded_sha256(lib_path)
    files = {}
    for fname in (f"{name}.c", f"{name}.h", lib_name):
        data = read_private(os.path.join(d, fname))
        if data is None:
            raise BuildError(f"the build cache lost {os.path.join(d, fname)}: compile again")
        files[fname] = data
    sha = hashlib.sha256(files[lib_name]).hexdigest()
    if sha != expected:
        raise BuildError(f"the cached library {lib_path} does not match its record: compile again")
    return files, sha


if __name__ == "__main__":  # pragma: no cover
    print(default_flags(), file=sys.stderr)
