"""`keras.preprocessing.image.ImageDataGenerator`: random augmentation of image arrays, as
Keras defines it, for `fit(datagen.flow(x, y, batch_size=...))` and `fit_generator`.

The random draws are numpy's global stream in Keras's order (a seeded `flow` reseeds it per
batch as Keras does), the geometry is Keras's (rotation, shifts, shear, zoom about the image
centre, composed in that order) and the resampling is SciPy's bilinear `affine_transform`
(seqc/keras/preprocessing/affine.py), so for the same seed the batches equal Keras's. Images
on disk (`flow_from_directory`, `flow_from_dataframe`), `brightness_range` and `save_to_dir`
need an image library (PIL) that seqc does not depend on: a clear error.
"""
import math
import warnings

import numpy as np

from ...runtime.batches import PyDataset
from .affine import affine_transform

FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def flip_axis(x, axis):
    return np.flip(np.asarray(x), axis)


def transform_matrix_offset_center(matrix, x, y):
    """`matrix` applied about the centre of an x-by-y image instead of its corner."""
    ox, oy = float(x) / 2 - 0.5, float(y) / 2 - 0.5
    to_centre = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]])
    back = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]])
    return to_centre @ matrix @ back


def apply_affine_transform(x, theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, row_axis=1, col_axis=2, channel_axis=0,
                           fill_mode="nearest", cval=0.0, order=1):
    """One image (3-D, channels first or last) rotated by `theta` degrees, shifted by (tx, ty)
    pixels, sheared by `shear` degrees and zoomed by (zx, zy), about its centre."""
    if len({row_axis, col_axis, channel_axis}) != 3:
        raise ValueError("'row_axis', 'col_axis', and 'channel_axis' must be distinct")
    if {row_axis, col_axis, channel_axis} != {0, 1, 2}:
        raise ValueError(f"Invalid axis' indices: {({row_axis, col_axis, channel_axis}) - {0, 1, 2}}")
    if x.ndim != 3:
        raise ValueError("Input arrays must be multi-channel 2D images.")
    if channel_axis not in (0, 2):
        raise ValueError("Channels are allowed and the first and last dimensions.")
    if order != 1:
        raise ValueError(f"seqc resamples bilinearly (interpolation_order=1, Keras's default); got {order}")
    parts = []
    if theta != 0:
        t = np.deg2rad(theta)
        parts.append(np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]]))
    if tx != 0 or ty != 0:
        parts.append(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]]))
    if shear != 0:
        s = np.deg2rad(shear)
        parts.append(np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        parts.append(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]]))
    if not parts:
        return x
    matrix = parts[0]
    for p in parts[1:]:
        matrix = matrix @ p
    matrix = transform_matrix_offset_center(matrix, x.shape[row_axis], x.shape[col_axis])
    if col_axis > row_axis:            # the matrix is written (row, col); the channel images are too
        matrix[:, [0, 1]] = matrix[:, [1, 0]]
        matrix[[0, 1]] = matrix[[1, 0]]
    channels = np.moveaxis(x, channel_axis, 0)
    out = np.stack([affine_transform(ch, matrix[:2, :2], matrix[:2, 2], fill_mode, cval) for ch in channels])
    return np.moveaxis(out, 0, channel_axis)


def apply_channel_shift(x, intensity, channel_axis=0):
    """`intensity` added to every channel, clipped to the image's own range."""
    return np.clip(x + intensity, np.min(x), np.max(x))


class ImageDataGenerator:
    """Random transformations and normalisations of image batches (arrays of rank 4)."""

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-06, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None, shear_range=0.0,
                 zoom_range=0.0, channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError('`data_format` should be `"channels_last"` (channel after row and column) or '
                             f'`"channels_first"` (channel before row and column). Received: {data_format}')
        if fill_mode not in FILL_MODES:
            raise ValueError(f"`fill_mode` must be one of {FILL_MODES}; got {fill_mode!r}")
        if brightness_range is not None:
            raise ValueError("ImageDataGenerator(brightness_range=...) goes through an image library (PIL), which "
                             "seqc does not depend on; it is not supported")
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(f"`validation_split` must be strictly between 0 and 1.  Received: {validation_split}")
        if interpolation_order != 1:
            raise ValueError(f"seqc resamples bilinearly (interpolation_order=1, Keras's default); got "
                             f"{interpolation_order}")
        if isinstance(zoom_range, (float, int)):
            zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif len(zoom_range) == 2 and all(isinstance(v, (float, int)) for v in zoom_range):
            zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(f"`zoom_range` should be a float or a tuple or list of two floats. Received: {zoom_range}")
        # the normalisations imply their prerequisites, as in Keras (with its warnings)
        if zca_whitening and not featurewise_center:
            featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `zca_whitening`, which overrides setting of "
                          "`featurewise_center`.")
        if zca_whitening and featurewise_std_normalization:
            featurewise_std_normalization = False
            warnings.warn("This ImageDataGenerator specifies `zca_whitening` which overrides setting of"
                          "`featurewise_std_normalization`.")
        if featurewise_std_normalization and not featurewise_center:
            featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, which overrides "
                          "setting of `featurewise_center`.")
        if samplewise_std_normalization and not samplewise_center:
            samplewise_center = True
            warnings.warn("This ImageDataGenerator specifies `samplewise_std_normalization`, which overrides "
                          "setting of `samplewise_center`.")
        self.featurewise_center, self.samplewise_center = featurewise_center, samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening, self.zca_epsilon = zca_whitening, zca_epsilon
        self.rotation_range, self.shear_range, self.zoom_range = rotation_range, shear_range, zoom_range
        self.width_shift_range, self.height_shift_range = width_shift_range, height_shift_range
        self.channel_shift_range, self.fill_mode, self.cval = channel_shift_range, fill_mode, cval
        self.horizontal_flip, self.vertical_flip = horizontal_flip, vertical_flip
        self.rescale, self.preprocessing_function = rescale, preprocessing_function
        self.brightness_range, self.interpolation_order = None, interpolation_order
        self.dtype = dtype or "float32"
        self.data_format = data_format
        self.channel_axis, self.row_axis, self.col_axis = (3, 1, 2) if data_format == "channels_last" else (1, 2, 3)
        self._validation_split = validation_split
        self.mean = self.std = self.zca_whitening_matrix = None

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix="", save_format="png", ignore_class_split=False, subset=None):
        if save_to_dir is not None:
            raise ValueError("flow(save_to_dir=...) writes images through an image library (PIL), which seqc does "
                             "not depend on; it is not supported")
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, ignore_class_split=ignore_class_split, subset=subset)

    def flow_from_directory(self, directory, *args, **kwargs):
        raise ValueError("ImageDataGenerator.flow_from_directory reads image files through an image library (PIL), "
                         "which seqc does not depend on: load the images into an array and use flow(x, y)")

    flow_from_dataframe = flow_from_directory

    def standardize(self, x):
        """One batch or image normalised: preprocessing_function, rescale, then the sample-wise
        and feature-wise centring and scaling, then ZCA whitening."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-06
        for flag, stat, what, apply in (
                (self.featurewise_center, self.mean, "featurewise_center", lambda v, s: v - s),
                (self.featurewise_std_normalization, self.std, "featurewise_std_normalization",
                 lambda v, s: v / (s + 1e-06))):
            if flag:
                if stat is None:
                    warnings.warn(f"This ImageDataGenerator specifies `{what}`, but it hasn't been fit on any training "
                                  "data. Fit it first by calling `.fit(numpy_data)`.")
                else:
                    x = apply(x, stat)
        if self.zca_whitening:
            if self.zca_whitening_matrix is None:
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, but it hasn't been fit on any "
                              "training data. Fit it first by calling `.fit(numpy_data)`.")
            else:
                flat = x.reshape(-1, math.prod(x.shape[-3:]))
                x = np.reshape(flat @ self.zca_whitening_matrix, x.shape)
        return x

    def get_random_transform(self, img_shape, seed=None):
        """The random parameters of one image's transform (numpy's global stream, Keras's order)."""
        if seed is not None:
            np.random.seed(seed)
        rows, cols = img_shape[self.row_axis - 1], img_shape[self.col_axis - 1]
        theta = np.random.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0
        tx = _shift(self.height_shift_range, rows)
        ty = _shift(self.width_shift_range, cols)
        shear = np.random.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = np.random.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        flip_h = (np.random.random() < 0.5) * self.horizontal_flip
        flip_v = (np.random.random() < 0.5) * self.vertical_flip
        channel_shift = (np.random.uniform(-self.channel_shift_range, self.channel_shift_range)
                         if self.channel_shift_range != 0 else None)
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy, "flip_horizontal": flip_h,
                "flip_vertical": flip_v, "channel_shift_intensity": channel_shift, "brightness": None}

    def apply_transform(self, x, transform_parameters):
        p = transform_parameters
        row, col, channel = self.row_axis - 1, self.col_axis - 1, self.channel_axis - 1
        x = apply_affine_transform(x, p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), p.get("shear", 0),
                                   p.get("zx", 1), p.get("zy", 1), row_axis=row, col_axis=col, channel_axis=channel,
                                   fill_mode=self.fill_mode, cval=self.cval, order=self.interpolation_order)
        if p.get("channel_shift_intensity") is not None:
            x = apply_channel_shift(x, p["channel_shift_intensity"], channel)
        if p.get("flip_horizontal", False):
            x = flip_axis(x, col)
        if p.get("flip_vertical", False):
            x = flip_axis(x, row)
        if p.get("brightness") is not None:
            raise ValueError("brightness shifts need an image library (PIL); not supported by seqc")
        return x

    def random_transform(self, x, seed=None):
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    def fit(self, x, augment=False, rounds=1, seed=None):
        """The feature-wise mean / std (per channel) and ZCA matrix of a sample of images."""
        x = np.array(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"Input to `.fit()` should have rank 4. Got array with shape: {x.shape}")
        if seed is not None:
            np.random.seed(seed)
        if self.rescale:
            x *= self.rescale
        if augment:
            x = np.concatenate([np.stack([self.random_transform(img) for img in x]) for _ in range(rounds)]
                               ).astype(self.dtype)
        per_channel = [1, 1, 1]
        per_channel[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.reshape(np.mean(x, axis=(0, self.row_axis, self.col_axis)), per_channel)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.reshape(np.std(x, axis=(0, self.row_axis, self.col_axis)), per_channel)
            x /= self.std + 1e-06
        if self.zca_whitening:
            n = len(x)
            u, s, _ = np.linalg.svd(np.reshape(x, (n, -1)).T, full_matrices=False)
            self.zca_whitening_matrix = (u * (np.sqrt(n) / (s + self.zca_epsilon))) @ u.T


def _shift(shift_range, size):
    """A shift in pixels: a float range is a fraction of the size (if < 1) drawn uniformly; a
    list or an int range picks one value and a sign."""
    if not shift_range:
        return 0
    try:
        shift = np.random.choice(shift_range)
        shift *= np.random.choice([-1, 1])
    except ValueError:              # a float: uniform in (-range, range)
        shift = np.random.uniform(-shift_range, shift_range)
    if np.max(shift_range) < 1:
        shift *= size
    return shift


class NumpyArrayIterator(PyDataset):
    """`datagen.flow(x, y)`: batches of transformed images (and their labels / sample weights),
    both a PyDataset (len, [i]) and an endless iterator (next), as in Keras."""

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None, seed=None,
                 ignore_class_split=False, subset=None):
        super().__init__()
        gen = image_data_generator
        self.dtype = gen.dtype
        if isinstance(x, (tuple, list)):
            extra = [np.asarray(v) for v in (x[1] if isinstance(x[1], list) else [x[1]])]
            x = x[0]
            for v in extra:
                if len(x) != len(v):
                    raise ValueError("All of the arrays in `x` should have the same length. Found a pair with: "
                                     f"len(x[0]) = {len(x)}, len(x[?]) = {len(v)}")
        else:
            extra = []
        if y is not None and len(x) != len(y):
            raise ValueError("`x` (images tensor) and `y` (labels) should have the same length. Found: x.shape = "
                             f"{np.asarray(x).shape}, y.shape = {np.asarray(y).shape}")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError("`x` (images tensor) and `sample_weight` should have the same length. Found: x.shape = "
                             f"{np.asarray(x).shape}, sample_weight.shape = {np.asarray(sample_weight).shape}")
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f'Invalid subset name: {subset}; expected "training" or "validation".')
            cut = int(len(x) * gen._validation_split)
            if y is not None and not ignore_class_split and not np.array_equal(np.unique(y[:cut]), np.unique(y[cut:])):
                raise ValueError("Training and validation subsets have different number of classes after the split. "
                                 "If your numpy arrays are sorted by the label, you might want to shuffle them.")
            part = slice(None, cut) if subset == "validation" else slice(cut, None)
            x, extra = x[part], [v[part] for v in extra]
            y = y[part] if y is not None else None
        self.x = np.asarray(x, dtype=self.dtype)
        if self.x.ndim != 4:
            raise ValueError(f"Input data in `NumpyArrayIterator` should have rank 4. You passed an array with shape "
                             f"{self.x.shape}")
        self.x_misc, self.image_data_generator = extra, gen
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.n, self.batch_size, self.shuffle, self.seed = self.x.shape[0], batch_size, shuffle, seed
        self.batch_index = self.total_batches_seen = 0
        self.index_array = None
        self._order = self._flow_index()

    def _set_index_array(self):
        self.index_array = np.random.permutation(self.n) if self.shuffle else np.arange(self.n)

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def __getitem__(self, idx):
        if idx >= len(self):
            raise ValueError(f"Asked to retrieve element {idx}, but the Sequence has length {len(self)}")
        if self.seed is not None:
            np.random.seed(self.seed + self.total_batches_seen)
        self.total_batches_seen += 1
        if self.index_array is None:
            self._set_index_array()
        return self._batch(self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)])

    def on_epoch_end(self):
        self._set_index_array()

    def reset(self):
        self.batch_index = 0

    def _flow_index(self):
        self.reset()
        while True:
            if self.seed is not None:
                np.random.seed(self.seed + self.total_batches_seen)
            if self.batch_index == 0:
                self._set_index_array()
            start = self.batch_index * self.batch_size % self.n if self.n else 0
            self.batch_index = self.batch_index + 1 if self.n > start + self.batch_size else 0
            self.total_batches_seen += 1
            yield self.index_array[start:start + self.batch_size]

    def __iter__(self):
        return self

    def __next__(self):
        return self._batch(next(self._order))

    def _batch(self, index_array):
        gen = self.image_data_generator
        batch = np.zeros((len(index_array),) + self.x.shape[1:], dtype=self.dtype)
        for i, j in enumerate(index_array):
            image = self.x[j]
            params = gen.get_random_transform(image.shape)
            batch[i] = gen.standardize(gen.apply_transform(image.astype(self.dtype), params))
        inputs = batch if not self.x_misc else [batch] + [v[index_array] for v in self.x_misc]
        if self.y is None:
            return inputs
        out = (inputs, self.y[index_array])
        if self.sample_weight is not None:
            out += (self.sample_weight[index_array],)
        return out
