"""Reading a script and its -D defines (kept apart from the interpreter so that a cached
`seqc compile` can compute its key without importing it)."""
import ast

from ..errors import SeqcError


def parse_defines(items):
    """['units=64', 'act=relu'] -> {'units': 64, 'act': 'relu'}: each VALUE is a Python literal
    (ast.literal_eval), or else the string as written. NAME may be dotted (`args.units`) or
    an indexed expression (`x_train.shape[1]`) to stand for a value the script computes."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SeqcError(f"-D expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        name = name.strip()
        if not name or not all(part.split("[")[0].isidentifier() for part in name.split(".")):
            raise SeqcError(f"-D expects NAME=VALUE with NAME a Python name, got {item!r}")
        try:
            out[name] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            out[name] = value
    return out


def read_source(path):
    """The script's bytes; a SeqcError (no location) if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise SeqcError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SeqcError(f"{path}: is a directory, expected a Python script") from None
    except OSError as e:
        raise SeqcError(f"{path}: cannot read: {e.strerror or e}") from None
