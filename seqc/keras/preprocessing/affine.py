"""Affine resampling of an image channel, with the numbers of SciPy's
`ndimage.affine_transform(..., order=1)` that Keras's ImageDataGenerator calls (SciPy is not a
seqc dependency, so this is numpy).

Each output pixel (r, c) reads the input at (r', c') = A (r, c) + offset, bilinearly from its
four neighbours. Outside the image, by `mode` (SciPy's, as Keras passes its `fill_mode`):
'nearest' clamps the coordinate to the edge, 'reflect' mirrors the pixel grid about its edges
(the edge pixel repeated), 'wrap' takes the coordinate modulo size - 1 (SciPy's legacy
'wrap'), and 'constant' gives `cval` wherever the coordinate leaves [0, size - 1].
"""
import numpy as np


def _reflect(i, n):
    period = 2 * n
    i = np.mod(i, period)
    return np.where(i >= n, period - 1 - i, i)


def _coordinate(c, n, mode):
    """The coordinate along one axis after the mode's extension (float), or it unchanged."""
    if mode == "nearest":
        return np.clip(c, 0, n - 1)
    if mode == "wrap" and n > 1:
        outside = (c < 0) | (c > n - 1)
        return np.where(outside, np.mod(c, n - 1), c)
    return c


def _neighbours(c, n, mode):
    """The two integer neighbours of coordinate c, mapped into [0, n) by the mode, and the
    weight of the upper one."""
    lo = np.floor(c)
    frac = c - lo
    lo = lo.astype(np.int64)
    hi = lo + 1
    if mode == "reflect":
        lo, hi = _reflect(lo, n), _reflect(hi, n)
    else:                      # nearest / wrap (coordinate already inside), constant (masked later)
        lo, hi = np.clip(lo, 0, n - 1), np.clip(hi, 0, n - 1)
    return lo, hi, frac


def affine_transform(image, matrix, offset, mode="nearest", cval=0.0):
    """One 2-D channel resampled: out[r, c] = image at matrix @ (r, c) + offset (bilinear)."""
    if mode not in ("nearest", "reflect", "wrap", "constant"):
        raise ValueError(f"fill_mode must be one of 'constant', 'nearest', 'reflect', 'wrap'; got {mode!r}")
    h, w = image.shape
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    r = matrix[0, 0] * rows + matrix[0, 1] * cols + offset[0]
    c = matrix[1, 0] * rows + matrix[1, 1] * cols + offset[1]
    inside = (r >= 0) & (r <= h - 1) & (c >= 0) & (c <= w - 1)
    r, c = _coordinate(r, h, mode), _coordinate(c, w, mode)
    r0, r1, fr = _neighbours(r, h, mode)
    c0, c1, fc = _neighbours(c, w, mode)
    img = image.astype(np.float64)
    out = ((1 - fr) * ((1 - fc) * img[r0, c0] + fc * img[r0, c1])
           + fr * ((1 - fc) * img[r1, c0] + fc * img[r1, c1]))
    if mode == "constant":
        out = np.where(inside, out, cval)
    return out.astype(image.dtype)
