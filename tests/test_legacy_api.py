"""What older public scripts spell differently: Keras 1 layer arguments and classes, Keras 2
module paths and generator methods, and fit / evaluate / predict on generators and PyDatasets
(which must train exactly as the same batches given as arrays)."""
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from seqc import keras
from seqc.keras import layers as L

ROOT = Path(__file__).resolve().parent.parent


def quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


@pytest.mark.parametrize("old, new", [
    (lambda: L.Dense(output_dim=3, init="he_normal", bias=False), lambda: L.Dense(3, kernel_initializer="he_normal",
                                                                                 use_bias=False)),
    (lambda: L.Convolution2D(8, 3, 5, border_mode="same", subsample=(2, 2), dim_ordering="tf"),
     lambda: L.Conv2D(8, (3, 5), padding="same", strides=(2, 2), data_format="channels_last")),
    (lambda: L.Convolution1D(nb_filter=4, filter_length=3, subsample_length=1, border_mode="valid"),
     lambda: L.Conv1D(4, 3, strides=1, padding="valid")),
    (lambda: L.MaxPooling1D(pool_length=3, stride=1), lambda: L.MaxPooling1D(pool_size=3, strides=1)),
    (lambda: L.Dropout(p=0.25), lambda: L.Dropout(0.25)),
    (lambda: L.LSTM(output_dim=4, inner_init="orthogonal", inner_activation="hard_sigmoid", dropout_W=0.1,
                    dropout_U=0.2, consume_less="gpu"),
     lambda: L.LSTM(4, recurrent_initializer="orthogonal", recurrent_activation="hard_sigmoid", dropout=0.1,
                    recurrent_dropout=0.2)),
    (lambda: L.Embedding(10, 3, dropout=0.2, init="uniform"), lambda: L.Embedding(10, 3)),
])
def test_keras1_arguments_mean_their_keras3_names(old, new):
    with pytest.warns(UserWarning):
        a = old()
    assert a.config() == new().config()


def test_keras1_conflicts_and_bad_values():
    with pytest.raises(TypeError, match="both"):
        quiet(L.Dense, 3, units=3, output_dim=4) if False else quiet(L.Dense, output_dim=4, units=3)
    with pytest.raises(ValueError, match="dim_ordering"):
        quiet(L.Conv2D, 3, 3, dim_ordering="xy")
    with pytest.raises(TypeError, match="unexpected keyword"):
        L.Dense(3, nb_filter=2)             # a Keras 1 name of another layer is still unknown here


def test_user_layer_arguments_are_not_renamed():
    class Mine(keras.layers.Layer):
        def __init__(self, init=1.0, **kwargs):
            super().__init__(**kwargs)
            self.init_value = init
    assert Mine(init=3.0).init_value == 3.0


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((100, 6)).astype(np.float32)
    return x, (x.sum(1, keepdims=True) > 3).astype(np.float32)


def _model():
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input(shape=(6,)), L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid")])
    m.compile(keras.optimizers.SGD(learning_rate=0.1), "binary_crossentropy", metrics=["accuracy"])
    return m


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, size):
        super().__init__()
        self.x, self.y, self.size, self.ends = x, y, size, 0

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, i):
        return self.x[i * self.size:(i + 1) * self.size], self.y[i * self.size:(i + 1) * self.size]

    def on_epoch_end(self):
        self.ends += 1


def test_pydataset_and_generator_train_as_the_same_arrays():
    x, y = _data()
    ref = _model()
    h_ref = ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ds = Batches(x, y, 16)
    m = _model()
    h = m.fit(ds, epochs=2, shuffle=False, verbose=0)
    assert ds.ends == 2
    np.testing.assert_allclose(h.history["loss"], h_ref.history["loss"], rtol=1e-6)
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    def forever():
        while True:
            for i in range(0, 100, 16):
                yield x[i:i + 16], y[i:i + 16]
    g = _model()
    h = quiet(g.fit_generator, forever(), 7, 2, 0)        # Keras 2's positional order
    np.testing.assert_allclose(h.history["loss"], h_ref.history["loss"], rtol=1e-6)
    assert g.evaluate(ds, verbose=0) == pytest.approx(ref.evaluate(x, y, batch_size=16, verbose=0), rel=1e-6)
    assert quiet(g.evaluate_generator, forever(), steps=7) == pytest.approx(g.evaluate(ds, verbose=0), rel=1e-6)
    np.testing.assert_allclose(g.predict(ds, verbose=0), ref.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(quiet(g.predict_generator, (x[i:i + 10] for i in range(0, 100, 10))),
                               ref.predict(x, verbose=0), rtol=1e-6)


def test_generator_fit_with_validation_and_nb_epoch():
    x, y = _data()
    m = _model()
    with pytest.warns(UserWarning, match="nb_epoch"):
        h = m.fit(Batches(x, y, 32), nb_epoch=2, validation_data=Batches(x[:40], y[:40], 20), verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"} and len(h.history["loss"]) == 2
    assert h.history["val_loss"][-1] == pytest.approx(m.evaluate(x[:40], y[:40], verbose=0)[0], rel=1e-6)


def test_a_generator_that_runs_out_stops_training_with_kerass_warning():
    x, y = _data()
    m = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        h = m.fit((b for b in [(x[:16], y[:16])] * 3), epochs=3, verbose=0)
    assert len(h.history["loss"]) == 1


def test_generator_argument_errors():
    x, y = _data()
    m = _model()
    with pytest.raises(ValueError, match="`y` is not accepted"):
        m.fit(Batches(x, y, 16), y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        m.fit(Batches(x, y, 16), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="needs labels"):
        m.fit((x[i:i + 10] for i in range(0, 100, 10)), verbose=0)
    with pytest.raises(ValueError, match="no batches"):
        m.fit(iter([]), verbose=0)
    with pytest.raises(ValueError, match="Input x has shape"):
        m.fit(iter([(x[:, :3], y)]), verbose=0)
    with pytest.raises(TypeError, match="both"):
        quiet(m.fit_generator, Batches(x, y, 16), samples_per_epoch=100, steps_per_epoch=3)


def test_predict_classes_and_proba():
    x, _ = _data()
    m = _model()
    p = m.predict(x, verbose=0)
    np.testing.assert_array_equal(m.predict_classes(x), (p > 0.5).astype("int32"))
    np.testing.assert_array_equal(m.predict_proba(x), p)
    soft = keras.Sequential([keras.Input(shape=(6,)), L.Dense(3, activation="softmax")])
    np.testing.assert_array_equal(soft.predict_classes(x), soft.predict(x, verbose=0).argmax(-1))


KERAS1_SCRIPT = '''\
from keras.models import Sequential
from keras.layers.core import Dense, Dropout, Flatten
from keras.layers.convolutional import Convolution2D, MaxPooling2D
from keras.utils import np_utils
from keras import backend as K
assert K.image_data_format() == "channels_last"
model = Sequential()
model.add(Convolution2D(4, 3, 3, border_mode="valid", input_shape=(8, 8, 1)))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dropout(p=0.5))
model.add(Dense(output_dim=3, init="glorot_uniform", activation="softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adadelta" if False else "sgd", metrics=["accuracy"])
'''


def test_keras1_script_in_both_front_ends(tmp_path):
    script = tmp_path / "keras1.py"
    script.write_text(KERAS1_SCRIPT + "import numpy as np\nx = np.random.rand(20, 8, 8, 1)\n"
                      "y = np_utils.to_categorical(np.random.randint(3, size=20), 3)\n"
                      "model.fit(x, y, nb_epoch=1, batch_size=10, verbose=2)\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "seqc", *a], capture_output=True, text=True, cwd=ROOT)
    out = run("summary", str(script))
    assert out.returncode == 0, out.stderr
    assert "(None, 6, 6, 4)" in out.stdout and "(None, 3)" in out.stdout
    out = run("run", str(script))
    assert out.returncode == 0, out.stderr
    assert "loss:" in out.stdout and "nb_epoch" in out.stderr


def test_steps_per_epoch_on_arrays_continues_the_pass_as_keras():
    """Keras 3: with steps_per_epoch < batches per pass, each epoch takes the next batches of the
    same pass, and an epoch that reaches the end of the pass stops there with the ran-out-of-data
    warning. So 2 epochs of 4 steps over 7 batches (shuffle off) train batches 1-4, then 5-7;
    a third epoch starts a new pass."""
    x, y = _data()
    ref = _model()
    ref.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    m = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        h = m.fit(x, y, batch_size=16, epochs=2, steps_per_epoch=4, shuffle=False, verbose=0)
    assert len(h.history["loss"]) == 2
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    m = _model()
    h = m.fit(x, y, batch_size=16, epochs=3, steps_per_epoch=3, shuffle=False, verbose=0, validation_split=0.2)
    assert len(h.history["loss"]) == 3 and len(h.history["val_loss"]) == 3


def test_keras2_data_utils_module_in_both_front_ends(tmp_path):
    """Keras 2 scripts import get_file from `keras.utils.data_utils` (examples/lstm_text_generation.py):
    the same function as keras.utils.get_file, in `seqc run` and in the static front end."""
    from seqc.frontend.keras_paths import keras_subpath
    assert keras_subpath("keras.utils.data_utils") == ("utils",)
    assert keras_subpath("tensorflow.keras.utils.data_utils") == ("utils",)
    script = tmp_path / "data_utils.py"
    script.write_text("import keras\nfrom keras.utils.data_utils import get_file\nfrom keras.utils import data_utils\n"
                      "assert get_file is keras.utils.get_file and data_utils.get_file is get_file\n"
                      "from keras.models import Sequential\nfrom keras.layers import Dense\n"
                      "model = Sequential()\nmodel.add(Dense(2, input_shape=(3,)))\n"
                      "model.compile(loss='mse', optimizer='sgd')\nprint('ok')\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "seqc", *a], capture_output=True, text=True, cwd=ROOT)
    out = run("run", str(script))
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
    out = run("summary", str(script))
    assert out.returncode == 0 and "(None, 2)" in out.stdout, out.stderr


def test_keras1_samples_per_epoch_counts_batches_of_the_generator():
    """Keras 2's conversion: steps_per_epoch = samples_per_epoch // the generator's batch_size."""
    x, y = _data()
    m = _model()

    class Counted(Batches):
        batch_size, served = 16, 0

        def __getitem__(self, i):
            self.served += 1
            return super().__getitem__(i)
    ds = Counted(x, y, 16)
    with pytest.warns(UserWarning, match="samples_per_epoch"):
        h = m.fit_generator(ds, samples_per_epoch=48, nb_epoch=2, verbose=0)
    assert len(h.history["loss"]) == 2
    assert ds.served == 2 * 3 + 1          # 3 batches an epoch (and the first one read once to build)
