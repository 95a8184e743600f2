"""Reading a script and its -D defines (kept apart from the interpreter so that a cached
`seqc compile` can compute its key without importing it)."""
import ast

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
