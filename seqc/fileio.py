"""Writing a file so that a killed process leaves the old file or the new one, never half of one.

`atomic_write(path, mode)` gives a file object on a temporary file in the destination's own
directory (a rename is atomic only within one file system); on a clean exit the data is
flushed and fsynced, then renamed over `path` and the directory entry fsynced. On an error the
temporary file is removed and `path` is untouched. Used for every user-facing file seqc
writes (weights, checkpoints, CSV logs, compiled packages).
"""
import contextlib
import errno
import io
import os
import tempfile

from . import distributed


def current_umask():
    """The process umask, read without changing it (os.umask would, for a moment, for all threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(dirpath):
    """Make a rename in `dirpath` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(dirpath, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode="wb", perm=None, follow_symlink=True, **open_kwargs):
    """Context manager: a file object whose content replaces `path` atomically at the end.

    `perm` is the new file's mode (default: what open() would give, 0o666 less the umask).
    When `path` is a symlink and `follow_symlink` is true, the file it points to is replaced
    (as open(path, "w") would write there); otherwise the link itself is replaced. A path that
    is not a regular file (os.devnull, a FIFO) is written in place. Under mpirun only rank 0
    writes (seqc.distributed): the other ranks' data goes nowhere."""
    if not any(c in mode for c in "wx") or "+" in mode:
        raise ValueError(f"atomic_write needs a write mode ('w', 'wb', 'x'...), got {mode!r}")
    if not distributed.is_root():
        yield io.BytesIO() if "b" in mode else io.StringIO()
        return
    path = os.fspath(path)
    if follow_symlink and os.path.islink(path):
        path = os.path.realpath(path)
    if "x" in mode and os.path.lexists(path):
        raise FileExistsError(f"{path} exists")
    if os.path.exists(path) and not os.path.isfile(path):
        # a device or a FIFO (os.devnull, /dev/stdout): written in place, it cannot be replaced
        with open(path, mode.replace("x", "w"), **open_kwargs) as f:
            yield f
        return
    dirpath = os.path.dirname(path) or "."
    if not os.path.isdir(dirpath):        # as Keras: no directory is made; the error names the user's path
        raise FileNotFoundError(errno.ENOENT, f"cannot write {path}: no such directory {dirpath}", path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)[:100]}.", suffix=".tmp", dir=dirpath)
    with replacing(path, tmp, fd, perm if perm is not None else 0o666 & ~current_umask(),
                   mode.replace("x", "w"), **open_kwargs) as f:
        yield f
    fsync_dir(dirpath)


@contextlib.contextmanager
def replacing(path, tmp, fd, perm, mode="wb", **open_kwargs):
    """The file object on a fresh temporary file (its descriptor `fd`, its name `tmp`, in the
    directory of `path`), given mode `perm`: flushed, fsynced and renamed over `path` at the
    end of the block; removed, with `path` untouched, on an error."""
    try:
        os.fchmod(fd, perm)
        with os.fdopen(fd, mode, **open_kwargs) as f:
            fd = None
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_bytes_atomic(path, data, perm=None):
    with atomic_write(path, "wb", perm=perm) as f:
        f.write(data)
