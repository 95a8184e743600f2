"""Keras 3 layers that scale, pass through or pad their input (seqc/ops/rescale.py and
seqc/ops/pool.py lower them): Rescaling, Identity, ZeroPadding1D."""
import numbers

from . import validate as v


def _base():
    from .layers import Layer      # layers.py imports this module at its end
    return Layer


def _factor(arg, value):
    """Rescaling's scale / offset: a float, or one float per channel of the last axis."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        values = value.tolist() if hasattr(value, "tolist") else list(value)
        if not isinstance(values, list):                       # a 0-d array
            return v.real("Rescaling", arg, values)
        if not values or any(isinstance(x, (list, tuple)) for x in values):
            raise ValueError(f"Rescaling: `{arg}` must be a float or a flat list of floats (one per channel of "
                             f"the last axis), got {value!r}")
        return tuple(v.real("Rescaling", arg, x) for x in values)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise v.invalid("Rescaling", arg, value, "a float or a list of floats")
    return v.real("Rescaling", arg, value)


class Rescaling(_base()):
    """y = x * scale + offset (e.g. Rescaling(1 / 255) for pixel values, or scale=1 / 127.5,
    offset=-1 for [-1, 1]); `scale` and `offset` a float or one float per channel of the last
    axis. Inputs of an integer dtype are cast to float32 first, as by every layer."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _factor("scale", scale)
        self.offset = _factor("offset", offset)

    def config(self):
        listed = lambda x: list(x) if isinstance(x, tuple) else x     # noqa: E731
        return {"scale": listed(self.scale), "offset": listed(self.offset)}


class Identity(_base()):
    """Returns its input unchanged (a placeholder layer)."""
    _keras_built_at_init = True          # Keras's config has no build_config for it

    def config(self):
        return {}


class ZeroPadding1D(_base()):
    """Adds `padding` zero steps at the start and end of a (batch, steps, channels) input: an
    int (both ends) or (start, end)."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        from .layers import _data_format
        self.data_format = _data_format("ZeroPadding1D", data_format)
        if isinstance(padding, (tuple, list)):
            self.padding = v.int_tuple("ZeroPadding1D", "padding", padding, 2, lo=0)
        else:
            p = v.integer("ZeroPadding1D", "padding", padding, lo=0)
            self.padding = (p, p)

    def config(self):
        return {"padding": list(self.padding)}


LAYERS = {"Rescaling": Rescaling, "Identity": Identity, "ZeroPadding1D": ZeroPadding1D}
