"""Keras layers that move values without arithmetic (seqc/ops/resample.py lowers them):
RepeatVector, UpSampling1D/2D (nearest) and Cropping1D/2D, with Keras 3's arguments."""
from .layers import Layer, _data_format, _positive_int, standardize_tuple


class RepeatVector(Layer):
    """Repeats a (batch, features) input n times: (batch, n, features)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _positive_int(n, "n")

    def config(self):
        return {"n": self.n}


class UpSampling1D(Layer):
    """Repeats each step of a (batch, steps, channels) input `size` times."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = _positive_int(size, "size")

    def config(self):
        return {"rank": 1, "size": [self.size]}


class UpSampling2D(Layer):
    """Repeats the rows and columns of a (batch, rows, cols, channels) input by `size`
    (nearest-neighbour; seqc does not implement 'bilinear' yet)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, 2, "size")
        self.data_format = _data_format(data_format)
        if interpolation not in ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area"):
            raise ValueError("`interpolation` argument should be one of: 'nearest', 'bilinear', 'bicubic', "
                             f"'lanczos3', 'lanczos5', 'area'. Received: interpolation={interpolation!r}")
        if interpolation != "nearest":
            raise ValueError(f"UpSampling2D: interpolation={interpolation!r} is not supported by seqc yet "
                             "(only 'nearest')")
        self.interpolation = interpolation

    def config(self):
        return {"rank": 2, "size": list(self.size)}


class Cropping1D(Layer):
    """Crops `cropping` = (start, end) steps off a (batch, steps, channels) input."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)

    def config(self):
        return {"rank": 1, "cropping": [list(self.cropping)]}


class Cropping2D(Layer):
    """Crops ((top, bottom), (left, right)) off a (batch, rows, cols, channels) input; an int
    or a pair of ints crops symmetrically."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        msg = ("`cropping` should be either an int, a tuple of 2 ints (symmetric_height_crop, "
               "symmetric_width_crop), or a tuple of 2 tuples of 2 ints ((top_crop, bottom_crop), "
               f"(left_crop, right_crop)). Received: cropping={cropping!r}")
        if isinstance(cropping, int) and not isinstance(cropping, bool):
            crops = ((cropping, cropping), (cropping, cropping))
        else:
            try:
                items = tuple(cropping)
            except TypeError:
                raise ValueError(msg) from None
            if len(items) != 2:
                raise ValueError(msg)
            crops = tuple(standardize_tuple(v, 2, "cropping", allow_zero=True) for v in items)
        if any(isinstance(v, bool) or v < 0 for pair in crops for v in pair):
            raise ValueError(msg)
        self.cropping = crops

    def config(self):
        return {"rank": 2, "cropping": [list(p) for p in self.cropping]}


LAYERS = {"RepeatVector": RepeatVector, "UpSampling1D": UpSampling1D, "UpSampling2D": UpSampling2D,
          "Cropping1D": Cropping1D, "Cropping2D": Cropping2D}
