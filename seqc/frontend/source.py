"""Reading a script and its -D defines (kept apart from the interpreter so that a cached
`seqc compile` can compute its key without importing it)."""
import ast
import os
import stat

from ..errors import SeqcError


def parse_defines(items):
    """['units=64', 'act=relu'] -> {'units': 64, 'act': 'relu'}: each VALUE is a Python literal
    (ast.literal_eval: a number, a quoted string, True/False/None, a tuple/list/dict of those);
    a bare word (`relu`, `he_normal`) is taken as that string. Anything else (`10x`, `(3, 4`,
    `2**10`) is an error, raised before the script is read. NAME may be dotted (`args.units`)
    or an indexed expression (`x_train.shape[1]`) to stand for a value the script computes."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SeqcError(f"-D expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        name = name.strip()
        if not name or not all(part.split("[")[0].isidentifier() for part in name.split(".")):
            raise SeqcError(f"-D expects NAME=VALUE with NAME a Python name, got {item!r}")
        out[name] = _define_value(name, value.strip())
    return out


def _define_value(name, text):
    if not text:
        raise SeqcError(f"-D {name}=: the value is empty (VALUE is a Python literal, e.g. -D {name}=100)")
    try:
        return ast.literal_eval(text)
    except SyntaxError as e:
        why = f" ({e.msg})"
    except (ValueError, TypeError, MemoryError, RecursionError):
        why = ""
    if text.isidentifier():
        return text                      # a bare word: -D act=relu
    raise SeqcError(f"-D {name}={text}: the value is not a Python literal{why}; VALUE is a number, a quoted "
                    f"string (-D {name}=\"'text'\"), True/False/None, or a tuple/list/dict of those")


def safe_file_name(path):
    """A script's file name to write into generated text (C comments, Python docstrings):
    letters, digits and . _ - only, since a name may hold `*/`, quotes or non-UTF-8 bytes."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in os.path.basename(path))


MAX_SOURCE = 10_000_000     # bytes: a model script is far smaller


def read_source(path):
    """The script's bytes; a SeqcError (no location) if it cannot be read. Only a regular file
    of at most MAX_SOURCE bytes is read: a FIFO, a device (/dev/zero) or a socket is refused
    before anything is read from it (it is opened non-blocking, so a FIFO cannot hang)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise SeqcError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SeqcError(f"{path}: is a directory, expected a Python script") from None
    except (OSError, ValueError) as e:
        raise SeqcError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SeqcError(f"{path}: is a directory, expected a Python script")
        if not stat.S_ISREG(info.st_mode):
            raise SeqcError(f"{path}: not a regular file (a FIFO, device or socket); expected a Python script")
        if info.st_size > MAX_SOURCE:
            raise SeqcError(f"{path}: {info.st_size:,} bytes is too large for a model script "
                            f"(at most {MAX_SOURCE:,})")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_SOURCE + 1)
        if len(data) > MAX_SOURCE:
            raise SeqcError(f"{path}: too large for a model script (at most {MAX_SOURCE:,} bytes)")
        return data
    except OSError as e:
        raise SeqcError(f"{path}: cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)
