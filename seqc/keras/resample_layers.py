"""Keras layers that move values without arithmetic (seqc/ops/resample.py lowers them):
RepeatVector, UpSampling1D/2D (nearest; 2D also bilinear) and Cropping1D/2D, with Keras 3's arguments."""
from . import validate as v


def _base():
    from .layers import Layer      # layers.py imports this module at its end
    return Layer


def _data_format(owner, value):
    from .layers import _data_format as check
    return check(owner, value)


class RepeatVector(_base()):
    """Repeats a (batch, features) input n times: (batch, n, features)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = v.integer("RepeatVector", "n", n)

    def config(self):
        return {"n": self.n}


class UpSampling1D(_base()):
    """Repeats each step of a (batch, steps, channels) input `size` times."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = v.integer("UpSampling1D", "size", size)

    def config(self):
        return {"rank": 1, "size": [self.size]}


class UpSampling2D(_base()):
    """Upsamples the rows and columns of a (batch, rows, cols, channels) input by `size`:
    interpolation 'nearest' repeats them, 'bilinear' resizes as Keras 3 does (half-pixel
    centres, no antialiasing); seqc does not implement the other interpolations yet."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = v.int_tuple("UpSampling2D", "size", size, 2)
        self.data_format = _data_format("UpSampling2D", data_format)
        if isinstance(interpolation, str):
            interpolation = interpolation.lower()          # as Keras
        v.one_of("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")(
            "UpSampling2D", "interpolation", interpolation)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: `interpolation` {interpolation!r} is not supported by seqc yet "
                             f"(only 'nearest' and 'bilinear')")
        self.interpolation = interpolation

    def config(self):
        return {"rank": 2, "size": list(self.size), "interpolation": self.interpolation}


class Cropping1D(_base()):
    """Crops `cropping` = (start, end) steps off a (batch, steps, channels) input."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = v.int_tuple("Cropping1D", "cropping", cropping, 2, lo=0)

    def config(self):
        return {"rank": 1, "cropping": [list(self.cropping)]}


class Cropping2D(_base()):
    """Crops ((top, bottom), (left, right)) off a (batch, rows, cols, channels) input; an int
    or a pair of ints crops symmetrically."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("Cropping2D", data_format)
        if isinstance(cropping, (tuple, list)) and len(cropping) == 2 and all(
                isinstance(p, (tuple, list)) for p in cropping):
            crops = tuple(v.int_tuple("Cropping2D", "cropping", p, 2, lo=0) for p in cropping)
        else:
            rows, cols = v.int_tuple("Cropping2D", "cropping", cropping, 2, lo=0)
            crops = ((rows, rows), (cols, cols))
        self.cropping = crops

    def config(self):
        return {"rank": 2, "cropping": [list(p) for p in self.cropping]}


LAYERS = {"RepeatVector": RepeatVector, "UpSampling1D": UpSampling1D, "UpSampling2D": UpSampling2D,
          "Cropping1D": Cropping1D, "Cropping2D": Cropping2D}
