"""keras.preprocessing.image.ImageDataGenerator against real Keras 3 (SciPy resampling;
tests/golden/make_image_goldens.py): for the same seeds, the same batches from `next()` and
from indexing, for flips, rotations, shifts, shear, zoom in every fill mode, the feature- and
sample-wise normalisations, channel shifts and ZCA whitening; and training on `flow`."""
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_image_goldens import CONFIGS, images  # noqa: E402

from seqc import keras  # noqa: E402
from seqc.keras.preprocessing.image import ImageDataGenerator  # noqa: E402

WANT = np.load(GOLDEN / "image_golden.npz")


@pytest.mark.parametrize("k", range(len(CONFIGS)), ids=[str(c) for c in CONFIGS])
def test_batches_equal_kerass(k):
    cfg = CONFIGS[k]
    x, y = images(cfg.get("data_format") == "channels_first"), np.arange(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen = ImageDataGenerator(**cfg)
    if any(cfg.get(f) for f in ("featurewise_center", "featurewise_std_normalization", "zca_whitening")):
        gen.fit(x, seed=1)
    it = gen.flow(x, y, batch_size=2, shuffle=True, seed=7)
    for b in range(4):
        bx, by = next(it)
        np.testing.assert_allclose(bx, WANT[f"{k}/next{b}_x"], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(by, WANT[f"{k}/next{b}_y"])
    it2 = gen.flow(x, y, batch_size=2, shuffle=False, seed=3)
    assert len(it2) == 3
    for b in range(3):
        bx, by = it2[b]
        np.testing.assert_allclose(bx, WANT[f"{k}/item{b}_x"], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(by, WANT[f"{k}/item{b}_y"])
    np.testing.assert_allclose(gen.random_transform(x[0].copy(), seed=11), WANT[f"{k}/random_transform"],
                               rtol=1e-5, atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="fill_mode"):
        ImageDataGenerator(fill_mode="mirror")
    with pytest.raises(ValueError, match="zoom_range"):
        ImageDataGenerator(zoom_range=[1, 2, 3])
    with pytest.raises(ValueError, match="PIL"):
        ImageDataGenerator(brightness_range=(0.5, 1.5))
    with pytest.raises(ValueError, match="PIL"):
        ImageDataGenerator().flow_from_directory("/tmp")
    with pytest.raises(ValueError, match="rank 4"):
        ImageDataGenerator().flow(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="same length"):
        ImageDataGenerator().flow(np.zeros((3, 4, 4, 1)), np.zeros(2))
    with pytest.raises(ValueError, match="validation_split"):
        ImageDataGenerator(validation_split=1.5)


def test_fit_on_flow_trains_on_augmented_batches():
    x = images()
    y = keras.utils.to_categorical(np.arange(5) % 2, 2)
    model = keras.Sequential([keras.Input(shape=(7, 6, 3)), keras.layers.Conv2D(2, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    gen = ImageDataGenerator(rotation_range=10, horizontal_flip=True, validation_split=0.4)
    h = model.fit(gen.flow(x, y, batch_size=2, subset="training", seed=1), epochs=2, verbose=0,
                  validation_data=gen.flow(x, y, batch_size=2, subset="validation"))
    assert len(h.history["loss"]) == 2 and np.isfinite(h.history["val_loss"]).all()
    h = model.fit(gen.flow(x, y, batch_size=2), steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
