"""Keras 3's legacy ImageDataGenerator (keras.preprocessing.image, SciPy resampling) on a small
batch of images, for tests/test_image_generator.py (needs scipy in the Keras environment):

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_image_goldens.py
"""
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402

CONFIGS = [
    {"rescale": 1 / 255.0, "horizontal_flip": True, "vertical_flip": True},
    {"rotation_range": 30},
    {"width_shift_range": 0.2, "height_shift_range": 0.1, "fill_mode": "constant", "cval": 0.5},
    {"shear_range": 20, "zoom_range": 0.3, "fill_mode": "reflect"},
    {"zoom_range": [0.8, 1.2], "fill_mode": "wrap", "rotation_range": 15},
    {"width_shift_range": [-2, 1, 3], "height_shift_range": 2},
    {"featurewise_center": True, "featurewise_std_normalization": True, "rotation_range": 10},
    {"samplewise_center": True, "samplewise_std_normalization": True},
    {"channel_shift_range": 0.3, "horizontal_flip": True},
    {"zca_whitening": True},
    {"data_format": "channels_first", "rotation_range": 20, "width_shift_range": 0.1},
]


def images(channels_first=False):
    x = np.random.default_rng(5).random((5, 7, 6, 3)).astype("float32")
    return x.transpose(0, 3, 1, 2).copy() if channels_first else x


def main():
    from keras.src.legacy.preprocessing.image import ImageDataGenerator
    out = {}
    y = np.arange(5)
    for k, cfg in enumerate(CONFIGS):
        x = images(cfg.get("data_format") == "channels_first")
        gen = ImageDataGenerator(**cfg)
        if any(cfg.get(f) for f in ("featurewise_center", "featurewise_std_normalization", "zca_whitening")):
            gen.fit(x, seed=1)
        it = gen.flow(x, y, batch_size=2, shuffle=True, seed=7)
        for b in range(4):
            bx, by = next(it)
            out[f"{k}/next{b}_x"], out[f"{k}/next{b}_y"] = bx, by
        it2 = gen.flow(x, y, batch_size=2, shuffle=False, seed=3)
        for b in range(len(it2)):
            bx, by = it2[b]
            out[f"{k}/item{b}_x"], out[f"{k}/item{b}_y"] = bx, by
        out[f"{k}/random_transform"] = gen.random_transform(x[0].copy(), seed=11)
    np.savez_compressed(Path(__file__).with_name("image_golden.npz"), **out)
    print(f"wrote {len(out)} arrays")


if __name__ == "__main__":
    main()
