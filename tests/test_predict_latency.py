"""benchmarks/predict_latency.c, the bare C timing of seqc_predict that benchmarks/run.py prints
next to the Python figures: it builds, loads a model's own library and parameters, and what it
times is that model's prediction (its first output equals Python's)."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import seqc.keras as keras
from seqc.keras.utils import set_random_seed

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    try:
        import run          # benchmarks/run.py: bench_cc, the compiler of the benchmark's C drivers
    finally:
        sys.path.pop(0)
    exe = str(tmp_path_factory.mktemp("latency") / "predict_latency")
    r = subprocess.run([run.bench_cc(), "-O2", "-Wall", "-Wextra", os.path.join(REPO, "benchmarks", "predict_latency.c"),
                        "-o", exe, "-ldl"], capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    return exe


def test_times_the_models_own_prediction(driver, tmp_path):
    set_random_seed(3)
    L = keras.layers
    m = keras.models.Sequential([L.Dense(64, activation="relu", input_dim=20), L.Dropout(0.5),
                                 L.Dense(10, activation="softmax")])
    m.compile(loss="categorical_crossentropy", optimizer="sgd")
    x = np.random.default_rng(4).random((2, 20)).astype(np.float32)
    want = m.predict_on_batch(x)
    engine = m._runtime._engine
    params, xs = tmp_path / "params.bin", tmp_path / "x.bin"
    engine.params.astype(np.float32).tofile(params)
    x.tofile(xs)
    desc = engine.desc
    r = subprocess.run([driver, engine.lib_path, str(math.prod(desc.input_shape)), str(math.prod(desc.output_shape)),
                        "2", "200", str(params), str(xs)], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr
    kv = dict(item.split("=", 1) for item in r.stdout.split())
    assert int(kv["calls"]) == 200
    assert 0 < int(kv["p10_ns"]) <= int(kv["median_ns"]) <= int(kv["p90_ns"])
    assert float(kv["out0"]) == pytest.approx(float(want[0, 0]), rel=1e-5)


def test_refuses_bad_arguments(driver, tmp_path):
    r = subprocess.run([driver, "lib.so", "20"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run([driver, str(tmp_path / "missing.so"), "20", "10", "1", "5", "p.bin"], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "missing.so" in r.stderr
