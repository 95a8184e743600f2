"""Keras 3's keras.datasets on the fake files of fake_datasets.py (their hashes cannot match
Keras's, so its hash check is switched off here, as the test does for seqc):

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_dataset_goldens.py

Writes tests/golden/datasets_golden.npz: every case's arrays, flattened."""
import importlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fake_datasets  # noqa: E402

home = tempfile.mkdtemp(prefix="keras-home-")
os.environ["KERAS_HOME"] = home
os.environ.setdefault("KERAS_BACKEND", "torch")
fake_datasets.make(home)

from keras.src.utils import file_utils  # noqa: E402

file_utils.validate_file = lambda *a, **k: True
out = {}
for case, module, kwargs in fake_datasets.CASES:
    mod = importlib.import_module(f"keras.datasets.{module}")
    for key, value in fake_datasets.flatten(mod.load_data(**kwargs)).items():
        out[f"{case}/{key}"] = value
import keras  # noqa: E402

out["imdb_word_index/the"] = np.array(keras.datasets.imdb.get_word_index()["the"])
out["reuters_labels"] = np.array(keras.datasets.reuters.get_label_names())
np.savez_compressed(HERE / "datasets_golden.npz", **out)
print(f"wrote {len(out)} arrays to {HERE / 'datasets_golden.npz'}")
