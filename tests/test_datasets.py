"""keras.datasets and keras.utils.get_file: seqc reads the files Keras caches exactly as Keras
3 does. tests/golden/fake_datasets.py writes small files in the real formats into a temporary
KERAS_HOME; tests/golden/datasets_golden.npz holds what real Keras 3 loaded from the same files
(tests/golden/make_dataset_goldens.py)."""
import importlib
import io
import os
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
import fake_datasets  # noqa: E402

from seqc.keras import files  # noqa: E402

WANT = np.load(GOLDEN / "datasets_golden.npz")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    fake_datasets.make(str(tmp_path))
    monkeypatch.setattr(files, "validate_file", lambda *a, **k: True)   # fake files: no real hashes
    return tmp_path


@pytest.mark.parametrize("case, module, kwargs", fake_datasets.CASES, ids=[c[0] for c in fake_datasets.CASES])
def test_load_data_equals_keras(home, case, module, kwargs):
    mod = importlib.import_module(f"seqc.keras.datasets.{module}")
    got = fake_datasets.flatten(mod.load_data(**kwargs))
    want = {k.split("/", 1)[1]: WANT[k] for k in WANT.files if k.startswith(case + "/")}
    assert set(got) == set(want)
    for key in want:
        assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape, key
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_word_index_and_labels(home):
    from seqc.keras.datasets import imdb, reuters
    assert imdb.get_word_index()["the"] == int(WANT["imdb_word_index/the"])
    assert list(reuters.get_label_names()) == list(WANT["reuters_labels"])


def test_bad_arguments(home):
    from seqc.keras.datasets import boston_housing, cifar100, imdb
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data(label_mode="medium")
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(test_split=1.0)
    with pytest.raises(ValueError, match="Increase maxlen"):
        imdb.load_data(maxlen=1)


def test_missing_file_offline_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(*a, **k):
        raise OSError("network unreachable")
    monkeypatch.setattr(files.urllib.request, "urlopen", offline)
    from seqc.keras.datasets import mnist
    with pytest.raises(files.DownloadError) as e:
        mnist.load_data()
    msg = str(e.value)
    assert "\n" not in msg and "mnist.npz" in msg and str(tmp_path / "datasets") in msg
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in msg
    assert not list((tmp_path / "datasets").iterdir())         # no partial file left


def test_get_file_cache_hash_and_extraction(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    served = {"n": 0}
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in (("pkg/a.txt", b"alpha"), ("../evil.txt", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    payload = archive.getvalue()

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def urlopen(url, timeout=None):
        served["n"] += 1
        return Response(payload)
    monkeypatch.setattr(files.urllib.request, "urlopen", urlopen)
    path = files.get_file("pkg.tar.gz", origin="https://example.invalid/pkg.tar.gz", extract=True)
    assert path == str(tmp_path / "datasets" / "pkg_extracted")
    assert (Path(path) / "pkg" / "a.txt").read_bytes() == b"alpha"
    assert not (tmp_path / "datasets" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    files.get_file("pkg.tar.gz", origin="https://example.invalid/pkg.tar.gz", extract=True)
    assert served["n"] == 1                                           # cached
    import hashlib
    good = hashlib.sha256(payload).hexdigest()
    files.get_file("pkg.tar.gz", origin="https://example.invalid/pkg.tar.gz", file_hash=good)
    assert served["n"] == 1
    with pytest.raises(ValueError, match="corrupted"):
        files.get_file("pkg.tar.gz", origin="https://example.invalid/pkg.tar.gz", file_hash="0" * 64)
    assert served["n"] == 2
    with pytest.raises(ValueError, match="Paths are no longer accepted"):
        files.get_file(os.path.join("a", "b.txt"), origin="https://example.invalid/b.txt")
    with pytest.raises(ValueError, match="origin"):
        files.get_file("b.txt")
