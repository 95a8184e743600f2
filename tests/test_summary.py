"""model.summary()'s parameter lines against real Keras 3 (tests/golden/make_summary_goldens.py):
once the optimizer is built (the first training step), Keras counts its variables in an
'Optimizer params' line and in the total, for every optimizer seqc has."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from seqc import keras

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from summary_cases import optimizer, params_lines  # noqa: E402

GOLDEN = json.loads((Path(__file__).parent / "golden" / "summary_params.json").read_text())
CASES = sorted(k for k in GOLDEN if not k.startswith("_"))


@pytest.mark.parametrize("case", CASES)
def test_summary_counts_the_built_optimizer_as_keras(case):
    want = GOLDEN[case]
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
    model.compile(optimizer=optimizer(keras, *want["optimizer"]), loss="mse")
    assert params_lines(model) == want["before"]
    model.train_on_batch(np.ones((2, 7), np.float32), np.ones((2, 3), np.float32))
    assert params_lines(model) == want["after"]


def test_loaded_model_counts_the_optimizer_it_was_saved_with(tmp_path):
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
    model.compile(optimizer="nadam", loss="mse")
    model.train_on_batch(np.ones((2, 7), np.float32), np.ones((2, 3), np.float32))
    model.save(tmp_path / "m.keras")
    assert params_lines(keras.models.load_model(tmp_path / "m.keras")) == GOLDEN["nadam"]["after"]
