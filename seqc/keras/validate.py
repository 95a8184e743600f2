"""Argument checks shared by every layer, optimizer, loss, metric and schedule constructor.

Each check takes the owner (the class name, for the message), the argument's name and its
value, and returns the value normalised or raises: a ValueError naming the class and the
argument, as Keras words it ("Received an invalid value for `units` ..."). A value seqc
accepts is a real Python value of the right kind, so nothing later (the lowering, the C
templates) ever sees a string, NaN, infinity, a bool for a number, or an integer the
generated C cannot index with.

`Declared` gives a class whose arguments are declared as data (`Param`s in Keras's order)
Keras's signature (`inspect.signature(cls)`) and one place where each argument is checked.
"""
import inspect
import math
import numbers

import numpy as np

SIZE_LIMIT = 2**31 - 1           # sizes and counts are C ints in the generated code
FLOAT_LIMIT = 3.4028234663852886e38   # a hyperparameter is a float32 constant in the C


def _show(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def invalid(owner, arg, value, expected):
    return ValueError(f"{owner}: received an invalid value for `{arg}`, expected {expected}. "
                      f"Received: {arg}={_show(value)}")


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def real(owner, arg, value, lo=None, hi=None, lo_open=False, hi_open=False):
    """A finite real number (not a bool, not a string) within [lo, hi], as a float."""
    bounds = ("" if lo is None else f" {'>' if lo_open else '>='} {lo}") + \
             ("" if hi is None else f"{' and' if lo is not None else ''} {'<' if hi_open else '<='} {hi}")
    expected = f"a finite float{bounds}"
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise invalid(owner, arg, value, expected)
    try:
        x = float(value)
    except (OverflowError, ValueError, TypeError):
        raise invalid(owner, arg, value, expected) from None
    if not math.isfinite(x) or abs(x) > FLOAT_LIMIT:
        raise invalid(owner, arg, value, expected)
    if lo is not None and (x <= lo if lo_open else x < lo):
        raise invalid(owner, arg, value, expected)
    if hi is not None and (x >= hi if hi_open else x > hi):
        raise invalid(owner, arg, value, expected)
    return x


def non_negative(owner, arg, value):
    return real(owner, arg, value, lo=0)


def unit_interval(owner, arg, value):
    return real(owner, arg, value, lo=0, hi=1)


def integer(owner, arg, value, lo=1, hi=SIZE_LIMIT):
    """An int (not a bool, not a float) within [lo, hi], default a positive C-int size."""
    if _is_bool(value) or not isinstance(value, numbers.Integral) or not lo <= value <= hi:
        what = "a positive integer" if lo == 1 else f"an integer >= {lo}"
        raise invalid(owner, arg, value, f"{what} below 2**31" if hi == SIZE_LIMIT else f"{what} <= {hi}")
    return int(value)


def boolean(owner, arg, value):
    if not _is_bool(value):
        raise invalid(owner, arg, value, "a boolean (True or False)")
    return bool(value)


def optional(check):
    """The check, with None allowed (and kept)."""
    def check_or_none(owner, arg, value, **limits):
        return None if value is None else check(owner, arg, value, **limits)
    return check_or_none


def one_of(*options):
    def check(owner, arg, value):
        if not isinstance(value, str) or value not in options:
            raise invalid(owner, arg, value, f"one of {', '.join(map(repr, options))}")
        return value
    return check


def default_only(default):
    """A Keras argument seqc does not implement: accepted with its default value only."""
    def check(owner, arg, value):
        if value != default or type(value) is not type(default):
            raise ValueError(f"{owner}: `{arg}` is not supported by seqc yet (got {_show(value)}; "
                             f"only the default {default!r})")
        return value
    return check


def name(owner, value):
    """A layer/optimizer/loss/metric name: None (a default name) or a string, as Keras."""
    if value is not None and (not isinstance(value, str) or "/" in value or not value):
        raise ValueError(f"{owner}: argument `name` must be a non-empty string and cannot contain "
                         f"character `/`. Received: name={_show(value)} (of type {type(value).__name__})")
    return value


def int_tuple(owner, arg, value, n, lo=1):
    """Keras's standardize_tuple: an int, or n ints, each within [lo, 2**31)."""
    ints = (value,) * n if isinstance(value, numbers.Integral) and not _is_bool(value) else None
    if ints is None and isinstance(value, (tuple, list)) and len(value) == n:
        ints = tuple(value)
    expected = f"an integer or a tuple of {n} integers, each {'> 0' if lo == 1 else f'>= {lo}'}"
    if ints is None or any(_is_bool(v) or not isinstance(v, numbers.Integral) or not lo <= v <= SIZE_LIMIT
                           for v in ints):
        raise invalid(owner, arg, value, expected)
    return tuple(int(v) for v in ints)


def shape(owner, arg, value):
    """An input shape: a tuple/list of positive ints or None (an open dimension), or one int."""
    dims = (value,) if isinstance(value, numbers.Integral) and not _is_bool(value) else value
    if not isinstance(dims, (tuple, list)) or any(
            d is not None and (_is_bool(d) or not isinstance(d, numbers.Integral) or not 1 <= d <= SIZE_LIMIT)
            for d in dims):
        raise invalid(owner, arg, value, "a tuple of positive integers (None for an open dimension)")
    return tuple(None if d is None else int(d) for d in dims)


# ---------------------------------------------------------------------------------------------
# classes whose constructor arguments are declared as data
# ---------------------------------------------------------------------------------------------
class Param:
    """One constructor argument: its name, Keras's default (`REQUIRED` for none) and its check
    (owner, arg, value) -> normalised value (None: taken as given)."""
    REQUIRED = inspect.Parameter.empty

    def __init__(self, name, default=REQUIRED, check=None):
        self.name, self.default, self.check = name, default, check


class _ClassSignature:
    """`inspect.signature(cls)` is the declared signature; an instance has none of its own."""

    def __get__(self, obj, cls):
        if obj is not None:
            raise AttributeError("__signature__")
        P = inspect.Parameter
        params = [P(p.name, P.POSITIONAL_OR_KEYWORD, default=p.default) for p in cls.params()]
        if cls._extra_kwargs:
            params.append(P("kwargs", P.VAR_KEYWORD))
        return inspect.Signature(params)


class Declared:
    """Base of a class whose arguments are `_params` (Param list, Keras's order; a subclass's
    `_params` come before those of `_common_params`, then `name` when `default_name` is set)
    plus, through **kwargs, `_extra_kwargs` (Keras-2 spellings). `checked_arguments(args,
    kwargs)` binds and checks them once."""
    _params = ()
    _common_params = ()
    _extra_kwargs = ()
    default_name = Param.REQUIRED      # no `name` argument
    __signature__ = _ClassSignature()

    @classmethod
    def params(cls):
        named = [Param("name", cls.default_name)] if cls.default_name is not Param.REQUIRED else []
        return list(cls._params) + list(cls._common_params) + named

    @classmethod
    def checked_arguments(cls, args, kwargs):
        """{name: checked value} for every declared argument, and {extra name: value}."""
        owner = cls.__name__
        try:
            bound = cls.__signature__.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{owner}() {e}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        extra = values.pop("kwargs", {})
        unknown = {k: v for k, v in extra.items() if k not in cls._extra_kwargs}
        if unknown:
            raise ValueError(f"{owner}: Argument(s) not recognized: {unknown}")
        for p in cls.params():
            if p.name == "name":
                values["name"] = name(owner, values["name"])
            elif p.check is not None:
                values[p.name] = p.check(owner, p.name, values[p.name])
        return values, extra


def from_identifier(identifier, base, by_name, what, builtins):
    """Keras's `get` of a regularizer / constraint: None, an object of `base`, a subclass, a name
    in `by_name` or a {'class_name', 'config'} dict; a user's own callable is refused, naming
    the `builtins` seqc has."""
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = by_name.get(identifier["class_name"])
        if cls is not None:
            return cls(**identifier.get("config", {}))
    elif isinstance(identifier, str):
        cls = by_name.get(identifier)
        if cls is not None:
            return cls()
    elif isinstance(identifier, type) and issubclass(identifier, base) and identifier is not base:
        return identifier()
    elif callable(identifier):
        raise ValueError(f"a custom {what} ({identifier!r}) is not supported by seqc: use {builtins}")
    raise ValueError(f"Could not interpret {what} identifier: {identifier}")
