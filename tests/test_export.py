"""`seqc export`: the standalone C program, built with make and run in a clean environment
(`env -i PATH=/usr/bin:/bin`: no Python, no PYTHONPATH), against the Python package of the same
script (`seqc compile`, `NAME.Model(seed=S)`).

Three models, each exported, built and compiled once per module: the tutorial's MLP (dropout),
a small convnet of the tutorial's VGG structure (no metrics, as there; sparse integer labels), and a small
Embedding + LSTM classifier whose sequence length is open (--seq-len), plus a stateful LSTM."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from package_import import import_package

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}
SEED = 3

pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                                reason="needs make and cc")

CONVNET = """\
import numpy as np
import keras
from keras.models import Sequential
from keras.layers import Dense, Dropout, Flatten
from keras.layers import Conv2D, MaxPooling2D
from keras.optimizers import SGD

model = Sequential()
model.add(Conv2D(4, (3, 3), activation='relu', input_shape=(10, 10, 3)))
model.add(Conv2D(4, (3, 3), activation='relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Flatten())
model.add(Dense(16, activation='relu'))
model.add(Dropout(0.5))
model.add(Dense(5, activation='softmax'))

sgd = SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)
model.compile(loss='sparse_categorical_crossentropy', optimizer=sgd)
"""

LSTM = """\
max_features = 50
from keras.models import Sequential
from keras.layers import Dense, Dropout
from keras.layers import Embedding
from keras.layers import LSTM

model = Sequential()
model.add(Embedding(max_features, output_dim=8))
model.add(LSTM(6))
model.add(Dropout(0.5))
model.add(Dense(1, activation='sigmoid'))

model.compile(loss='binary_crossentropy',
              optimizer='rmsprop',
              metrics=['accuracy'])
"""

STATEFUL = """\
from keras.models import Sequential
from keras.layers import LSTM, Dense
batch_size = 4
model = Sequential()
model.add(LSTM(5, return_sequences=True, stateful=True, batch_input_shape=(batch_size, 3, 2)))
model.add(LSTM(5, stateful=True))
model.add(Dense(3, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
"""


def seqc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "seqc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


class Exported:
    """An exported, built program and the Python package of the same script."""

    def __init__(self, tmp, script, name, extra=()):
        self.dir = tmp / "export"
        self.name = name
        self.exe = str(self.dir / name)
        r = seqc("export", script, "-o", self.dir, "--name", name, "--seed", SEED, *extra)
        assert r.returncode == 0, r.stderr
        self.export_stdout = r.stdout
        self.make = subprocess.run(["make", "-C", str(self.dir)], capture_output=True, text=True, env=CLEAN_ENV,
                                   timeout=600)
        assert self.make.returncode == 0, self.make.stderr
        r = seqc("compile", script, "-o", tmp / "pkg", "--name", name, *extra)
        assert r.returncode == 0, r.stderr
        self.pkg = import_package(tmp / "pkg", name)
        self.work = tmp / "work"
        self.work.mkdir()

    def model(self):
        """A fresh package model with the exported program's initial weights."""
        return self.pkg.Model(seed=SEED)

    def run(self, *args):
        return subprocess.run([self.exe, *map(str, args)], capture_output=True, text=True, env=CLEAN_ENV,
                              cwd=self.work, timeout=600)

    def save(self, fname, arr, **kw):
        path = self.work / fname
        np.save(path, arr, **kw)
        return path


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    return Exported(tmp_path_factory.mktemp("mlp"), os.path.join(EXAMPLES, "mlp_softmax.py"), "mlp")


@pytest.fixture(scope="module")
def convnet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("convnet")
    (tmp / "convnet.py").write_text(CONVNET)
    return Exported(tmp, tmp / "convnet.py", "convnet")


@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lstm")
    (tmp / "lstm.py").write_text(LSTM)
    return Exported(tmp, tmp / "lstm.py", "lstm", ("--seq-len", 7))


@pytest.fixture(scope="module")
def stateful(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stateful")
    (tmp / "stateful.py").write_text(STATEFUL)
    return Exported(tmp, tmp / "stateful.py", "stateful")


def data_mlp(rng, n=70):
    return rng.random((n, 20)), np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


def data_convnet(rng, n=30):
    return rng.random((n, 10, 10, 3)).astype(np.float32), rng.integers(0, 5, n).astype(np.int64)


def data_lstm(rng, n=40):
    return rng.integers(0, 50, (n, 7)).astype(np.int32), rng.integers(0, 2, (n, 1)).astype(np.int64)


def data_stateful(rng, n=12):
    return rng.random((n, 3, 2)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]


CASES = [("mlp", data_mlp, 16), ("convnet", data_convnet, 8), ("lstm", data_lstm, 16), ("stateful", data_stateful, 4)]


def want_shape(ex, n):
    return (n,) + tuple(ex.model().output_shape[1:])


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def flat(weights):
    return np.concatenate([w.ravel() for w in weights])


@pytest.mark.parametrize("case,make_data,batch", CASES, ids=[c[0] for c in CASES])
def test_program_matches_python(request, case, make_data, batch):
    ex = request.getfixturevalue(case)
    rng = np.random.default_rng(1)
    x, y = make_data(rng)
    xp, yp = ex.save("x.npy", x), ex.save("y.npy", y)
    # weights.bin: the package's Model(seed=SEED) initial weights, float32 little-endian, concatenated
    assert np.array_equal(np.fromfile(ex.dir / "weights.bin", "<f4"), flat(ex.model().get_weights()))

    r = ex.run("predict", xp, "p.npy", "--batch-size", batch)
    assert r.returncode == 0, r.stderr
    out = np.load(ex.work / "p.npy")
    assert out.dtype == np.float32 and out.shape == want_shape(ex, len(x))
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(ex.work / "p.npy").st_mode & 0o777 == 0o666 & ~umask
    want = ex.model().predict(x, batch_size=batch, verbose=0)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)

    r = ex.run("evaluate", xp, yp, "--batch-size", batch)
    assert r.returncode == 0, r.stderr
    got = last_json(r.stdout)
    want = ex.model().evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)
    assert sorted(got) == sorted(want)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-5, abs=1e-7), k
    assert " - loss: " in r.stdout and r.stdout.splitlines()[0].startswith(f"{-(-len(x) // batch)}/")

    # train --no-shuffle: Python's fit(shuffle=False) with the same dropout seed
    r = ex.run("train", xp, yp, "--epochs", 2, "--batch-size", batch, "--no-shuffle", "--seed", 11,
               "--save", "w.bin")
    assert r.returncode == 0, r.stderr
    model = ex.model()
    # the dropout seed (an open-length package's model binds its runtime at the first input)
    (model.engine if hasattr(model, "engine") else model._rt(x).engine).set_seed(11)
    hist = model.fit(x, y, epochs=2, batch_size=batch, shuffle=False, verbose=0).history
    got = last_json(r.stdout)
    assert sorted(got) == sorted(hist)
    for k in hist:
        assert got[k] == pytest.approx(hist[k][-1], rel=1e-4, abs=1e-6), k
    lines = r.stdout.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    steps = -(-len(x) // batch)
    assert lines[1].startswith(f"{steps}/{steps} - ") and " - loss: " in lines[1]
    trained = np.fromfile(ex.work / "w.bin", "<f4")
    np.testing.assert_allclose(trained, flat(model.get_weights()), rtol=1e-4, atol=1e-6)
    assert not np.array_equal(trained, np.fromfile(ex.dir / "weights.bin", "<f4"))

    # --weights: predicting with the trained weights equals the trained Python model
    r = ex.run("predict", xp, "p2.npy", "--weights", "w.bin", "--batch-size", batch)
    assert r.returncode == 0, r.stderr
    fresh = ex.model()
    from seqc.export import read_weights
    read_weights(fresh, ex.work / "w.bin")
    np.testing.assert_allclose(np.load(ex.work / "p2.npy"), fresh.predict(x, batch_size=batch, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_shuffled_training_is_reproducible(convnet):
    rng = np.random.default_rng(2)
    x, y = data_convnet(rng)
    xp, yp = convnet.save("xs.npy", x), convnet.save("ys.npy", y)
    outs = []
    for seed, save in ((5, "a.bin"), (5, "b.bin"), (6, "c.bin")):
        r = convnet.run("train", xp, yp, "--epochs", 2, "--batch-size", 8, "--seed", seed, "--save", save)
        assert r.returncode == 0, r.stderr
        outs.append(np.fromfile(convnet.work / save, "<f4"))
    r = convnet.run("train", xp, yp, "--epochs", 2, "--batch-size", 8, "--seed", 5, "--no-shuffle", "--save", "d.bin")
    assert np.array_equal(outs[0], outs[1])            # the same seed, the same run
    assert not np.array_equal(outs[0], outs[2])        # another seed, another order
    assert not np.array_equal(outs[0], np.fromfile(convnet.work / "d.bin", "<f4"))


def test_build_is_clean(mlp, convnet, lstm):
    for ex in (mlp, convnet, lstm):
        assert "-Wall -Wextra" in ex.make.stdout
        assert "warning" not in (ex.make.stdout + ex.make.stderr).lower(), ex.make.stderr
        files = sorted(os.listdir(ex.dir))
        for f in ("Makefile", "README.md", "main.c", f"{ex.name}.c", f"{ex.name}.h", "weights.bin", ex.name):
            assert f in files
        for f in ("main.c", f"{ex.name}.c", f"{ex.name}.h"):
            assert "Python.h" not in (ex.dir / f).read_text()
        if shutil.which("ldd"):
            r = subprocess.run(["ldd", ex.exe], capture_output=True, text=True)
            assert r.returncode == 0 and "libc" in r.stdout
            assert "python" not in r.stdout.lower(), r.stdout
        # weights.bin is exactly 4 x count_params
        assert os.path.getsize(ex.dir / "weights.bin") == 4 * sum(w.size for w in ex.model().get_weights())


def test_portable_build_without_openmp(lstm, tmp_path):
    """`make ARCH= OPENMP=`: no -march, no OpenMP, still warning-free, and the same predictions."""
    d = tmp_path / "copy"
    shutil.copytree(lstm.dir, d, ignore=shutil.ignore_patterns(lstm.name))
    r = subprocess.run(["make", "-C", str(d), "ARCH=", "OPENMP="], capture_output=True, text=True, env=CLEAN_ENV)
    assert r.returncode == 0, r.stderr
    assert "-march" not in r.stdout and "-fopenmp" not in r.stdout
    assert "warning" not in (r.stdout + r.stderr).lower(), r.stderr
    x, _ = data_lstm(np.random.default_rng(4), 9)
    xp = lstm.save("xp.npy", x)
    outs = []
    for exe in (lstm.exe, str(d / lstm.name)):
        r = subprocess.run([exe, "predict", str(xp), str(tmp_path / "o.npy"), "--weights", str(lstm.dir / "weights.bin")],
                           capture_output=True, text=True, env=CLEAN_ENV)
        assert r.returncode == 0, r.stderr
        outs.append(np.load(tmp_path / "o.npy"))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)


AARCH64_CC, QEMU = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")


@pytest.mark.skipif(AARCH64_CC is None or QEMU is None,
                    reason="needs aarch64-linux-gnu-gcc and qemu-aarch64 (Debian: gcc-aarch64-linux-gnu qemu-user)")
@pytest.mark.parametrize("case,make_data,batch", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_aarch64_build_trains_as_this_host_does(request, case, make_data, batch, tmp_path):
    """The exported program cross-built for AArch64 (NEON: the GEMM's 4-float vectors and 6-row
    tile), warning-free under -Werror, trained under qemu with 2 OpenMP threads: the same
    history and weights as this host's build, within float rounding (the sums run in the same
    order at every width, by design, so they have matched exactly)."""
    ex = request.getfixturevalue(case)
    d = tmp_path / "arm"
    shutil.copytree(ex.dir, d, ignore=shutil.ignore_patterns(ex.name))
    r = subprocess.run(["make", "-C", str(d), f"CC={AARCH64_CC}", "ARCH=-march=armv8-a",
                        "WARN=-Wall -Wextra -Werror"], capture_output=True, text=True, env=CLEAN_ENV, timeout=600)
    assert r.returncode == 0, r.stderr
    rng = np.random.default_rng(5)
    x, y = make_data(rng)
    xp, yp = ex.save("xa.npy", x), ex.save("ya.npy", y)
    results = []
    arm_env = dict(CLEAN_ENV, QEMU_LD_PREFIX="/usr/aarch64-linux-gnu", OMP_NUM_THREADS="2")
    for command, env in (([ex.exe], CLEAN_ENV), ([QEMU, str(d / ex.name)], arm_env)):
        out = tmp_path / f"w{len(results)}.bin"
        r = subprocess.run([*command, "train", str(xp), str(yp), "--epochs", "2", "--batch-size", str(batch),
                            "--seed", "4", "--save", str(out)], capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr
        results.append((last_json(r.stdout), np.fromfile(out, "<f4")))
    (h0, w0), (h1, w1) = results
    assert sorted(h0) == sorted(h1)
    for k in h0:
        assert h1[k] == pytest.approx(h0[k], rel=1e-5, abs=1e-7), k
    np.testing.assert_allclose(w1, w0, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(w0, np.fromfile(ex.dir / "weights.bin", "<f4"))


def test_makefile_arch_falls_back_when_native_is_refused(tmp_path):
    """The Makefile's default ARCH is probed as build.py probes it: -march=native, else
    -mcpu=native (clang before 15 on AArch64 refuses -march=native), else none (a cross
    compiler refuses both); `make ARCH=...` is kept as given."""
    out = tmp_path / "exp"
    r = seqc("export", os.path.join(EXAMPLES, "mlp_softmax.py"), "-o", out, "--seed", 0)
    assert r.returncode == 0, r.stderr
    cases = [((), "-march=native"), (("-march=native",), "-mcpu=native"), (("-march=native", "-mcpu=native"), None)]
    for n, (refused, want) in enumerate(cases):
        fake = tmp_path / f"cc{n}"        # cc, refusing some flags as the compilers above do
        refuse = (f'    case "$a" in {"|".join(refused)}) echo "error: unknown value" >&2; exit 1;; esac\n'
                  if refused else "")
        fake.write_text(f'#!/bin/sh\nfor a in "$@"; do\n{refuse}    :\ndone\nexec cc "$@"\n')
        fake.chmod(0o755)
        for extra, expect in (((), want), (("ARCH=-O2",), "-O2")):
            r = subprocess.run(["make", "-n", "-C", str(out), f"CC={fake}", *extra], capture_output=True, text=True,
                               env=CLEAN_ENV)
            assert r.returncode == 0, r.stderr
            line = next(c for c in r.stdout.splitlines() if " -o mlp_softmax " in c)
            assert ("native" not in line) if expect is None else (f" {expect} " in line), (refused, extra, line)
            if extra:
                assert "native" not in line
    # an ARCH in the environment (cross-build setups export ARCH=arm64) is not a flag: ignored
    r = subprocess.run(["make", "-n", "-C", str(out)], capture_output=True, text=True, env=dict(CLEAN_ENV, ARCH="arm64"))
    assert r.returncode == 0, r.stderr
    line = next(c for c in r.stdout.splitlines() if " -o mlp_softmax " in c)
    assert "arm64" not in line and " -march=native " in line, line


def test_npy_versions_and_dtypes(mlp):
    rng = np.random.default_rng(3)
    x, y = data_mlp(rng, 10)
    want = mlp.model().predict(x.astype(np.float32), verbose=0)
    for version in ((1, 0), (2, 0), (3, 0)):
        path = mlp.work / f"x{version[0]}.npy"
        with open(path, "wb") as f:
            np.lib.format.write_array(f, np.ascontiguousarray(x), version=version)
        r = mlp.run("predict", path, "o.npy")
        assert r.returncode == 0, r.stderr
        np.testing.assert_allclose(np.load(mlp.work / "o.npy"), want, rtol=1e-5, atol=1e-6)
    # integer x and labels are converted; (n,) labels of a one-value-per-row loss are (n, 1)
    xi = rng.integers(0, 3, (10, 20))
    for dt in (np.int32, np.int64, np.float64, np.float32):
        r = mlp.run("evaluate", mlp.save("xi.npy", xi.astype(dt)), mlp.save("yi.npy", y.astype(dt)))
        assert r.returncode == 0, r.stderr
        got = last_json(r.stdout)
        assert got["loss"] == pytest.approx(mlp.model().evaluate(xi, y, verbose=0)[0], rel=1e-5)


def assert_refused(ex, args, words, outputs=("out.npy", "out.bin")):
    before = set(os.listdir(ex.work))
    r = ex.run(*args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert set(os.listdir(ex.work)) == before, "an output or a temporary file was written"
    for o in outputs:
        assert not (ex.work / o).exists()


def test_bad_inputs_exit_2_and_write_nothing(mlp):
    rng = np.random.default_rng(5)
    x, y = data_mlp(rng, 12)
    xp, yp = mlp.save("x.npy", x), mlp.save("y.npy", y)
    w = mlp.dir / "weights.bin"
    train = ("--epochs", 1, "--save", "out.bin")
    for args, words in [
        (("predict", mlp.save("bad_shape.npy", x[:, :19]), "out.npy"), ["bad_shape.npy", "(12, 19)", "(n, 20)"]),
        (("predict", mlp.save("bad_rank.npy", x[0]), "out.npy"), ["bad_rank.npy", "(20,)"]),
        (("predict", mlp.save("u8.npy", x.astype(np.uint8)), "out.npy"), ["dtype", "u1"]),
        (("predict", mlp.save("i2.npy", x.astype(np.int16)), "out.npy"), ["dtype", "i2"]),
        (("predict", mlp.save("c8.npy", x.astype(np.complex64)), "out.npy"), ["dtype", "c8"]),
        (("predict", mlp.save("be.npy", x.astype(">f4")), "out.npy"), ["dtype", ">f4"]),
        (("predict", mlp.save("fo.npy", np.asfortranarray(x)), "out.npy"), ["Fortran"]),
        (("predict", "missing.npy", "out.npy"), ["missing.npy", "No such file"]),
        (("predict", mlp.save("empty.npy", x[:0]), "out.npy"), ["no samples"]),
        (("evaluate", xp, mlp.save("y_rows.npy", y[:-1])), ["different numbers of rows", "12", "11"]),
        (("evaluate", xp, mlp.save("y_shape.npy", y[:, :9])), ["y_shape.npy", "(12, 9)", "(n, 10)"]),
        (("evaluate", xp, mlp.save("y_nan.npy", np.where(np.arange(10) == 3, np.nan, y))), ["non-finite"]),
        (("train", xp, mlp.save("y_inf.npy", np.where(np.arange(10) == 3, np.inf, y)), *train), ["non-finite"]),
        (("train", xp, mlp.save("y_rows2.npy", y[:-1]), *train), ["different numbers of rows"]),
        (("predict", xp, "out.npy", "--bogus"), ["unknown option", "--bogus"]),
        (("predict", xp, "out.npy", "--batch-size", "0"), ["--batch-size"]),
        (("predict", xp, "out.npy", "--batch-size"), ["--batch-size", "needs a value"]),
        (("predict", xp), ["predict needs"]),
        (("frobnicate", xp, "out.npy"), ["unknown command"]),
        (("predict", xp, "out.npy", "--epochs", "2"), ["unknown option", "--epochs"]),
        (("train", xp, yp, "--save", "out.bin"), ["--epochs"]),
        (("train", xp, yp, "--epochs", 1), ["--save"]),
        (("train", xp, yp, "--epochs", "x", "--save", "out.bin"), ["--epochs", "'x'"]),
        (("train", xp, yp, "--epochs", 1, "--save", "out.bin", "--weights", "nope.bin"), ["nope.bin"]),
    ]:
        assert_refused(mlp, args, words)
    # bad .npy files: garbage, a bad header, truncated data, trailing data
    (mlp.work / "garbage.npy").write_bytes(b"hello, this is not an array")
    good = (mlp.work / "x.npy").read_bytes()
    (mlp.work / "trunc.npy").write_bytes(good[:-4])
    (mlp.work / "trail.npy").write_bytes(good + b"\0\0\0\0")
    (mlp.work / "header.npy").write_bytes(good.replace(b"'shape': (", b"'shape': (x"))
    (mlp.work / "version.npy").write_bytes(good[:6] + b"\x09" + good[7:])
    for fname, words in (("garbage.npy", ["not a .npy"]), ("trunc.npy", ["truncated"]), ("trail.npy", ["beyond"]),
                         ("header.npy", ["header"]), ("version.npy", ["version"])):
        assert_refused(mlp, ("predict", fname, "out.npy"), [fname] + words)
    # weights of the wrong size: one value short, one too many, empty
    data = w.read_bytes()
    for fname, blob in (("short.bin", data[:-4]), ("long.bin", data + data[:4]), ("zero.bin", b"")):
        (mlp.work / fname).write_bytes(blob)
        assert_refused(mlp, ("predict", xp, "out.npy", "--weights", fname), [fname, str(len(data)), "bytes"])
        assert_refused(mlp, ("train", xp, yp, "--weights", fname, *train), [fname])
    # an existing output is left as it was on an error
    (mlp.work / "out.npy").write_bytes(b"old")
    r = mlp.run("predict", mlp.work / "bad_shape.npy", "out.npy")
    assert r.returncode == 2 and (mlp.work / "out.npy").read_bytes() == b"old"
    (mlp.work / "out.npy").unlink()


def test_label_and_index_validation(convnet, lstm):
    rng = np.random.default_rng(6)
    x, y = data_convnet(rng, 8)
    xp = convnet.save("x.npy", x)
    for bad, word in ((5, "[0, 5)"), (-1, "[0, 5)"), (1.5, "class index")):
        yb = y.astype(np.float64)
        yb[3] = bad
        assert_refused(convnet, ("evaluate", xp, convnet.save("yb.npy", yb)), [word])
    assert_refused(convnet, ("evaluate", xp, convnet.save("y2.npy", np.stack([y, y], 1))), ["(8, 2)"])
    xl, yl = data_lstm(rng, 6)
    yp = lstm.save("y.npy", yl)
    for bad in (50, -1):
        xb = xl.copy()
        xb[2, 3] = bad
        assert_refused(lstm, ("predict", lstm.save("xb.npy", xb), "out.npy"), ["Embedding", "input_dim 50"])
        assert_refused(lstm, ("train", lstm.save("xb.npy", xb), yp, "--epochs", 1, "--save", "out.bin"), ["index"])
    # the exported length is fixed: another length is refused
    assert_refused(lstm, ("predict", lstm.save("x8.npy", rng.integers(0, 50, (6, 8))), "out.npy"), ["(6, 8)", "(n, 7)"])


def test_stateful_needs_whole_batches(stateful):
    x, y = data_stateful(np.random.default_rng(7), 12)
    xp, yp = stateful.save("x.npy", x), stateful.save("y.npy", y)
    assert_refused(stateful, ("predict", stateful.save("x10.npy", x[:10]), "out.npy"), ["stateful", "4"])
    assert_refused(stateful, ("train", xp, yp, "--epochs", 1, "--batch-size", 8, "--save", "out.bin"), ["stateful"])
    r = stateful.run("train", xp, yp, "--epochs", 1, "--save", "w.bin")   # default: the fixed batch size
    assert r.returncode == 0, r.stderr


def test_python_weights_roundtrip(mlp, tmp_path):
    from seqc.export import read_weights, write_weights
    a, b = mlp.model(), mlp.pkg.Model(seed=SEED + 1)
    write_weights(a, tmp_path / "w.bin")
    assert (tmp_path / "w.bin").read_bytes() == (mlp.dir / "weights.bin").read_bytes()
    read_weights(b, tmp_path / "w.bin")
    assert np.array_equal(flat(a.get_weights()), flat(b.get_weights()))
    (tmp_path / "short.bin").write_bytes((tmp_path / "w.bin").read_bytes()[:-1])
    with pytest.raises(ValueError, match="6154 float32 values"):
        read_weights(b, tmp_path / "short.bin")
    # a seqc.keras model too
    from seqc.keras import layers, models
    m = models.Sequential([layers.Dense(3, input_shape=(2,))])
    write_weights(m, tmp_path / "k.bin")
    assert os.path.getsize(tmp_path / "k.bin") == 4 * 9
    m2 = models.Sequential([layers.Dense(3, input_shape=(2,))])
    read_weights(m2, tmp_path / "k.bin")
    assert np.array_equal(flat(m.get_weights()), flat(m2.get_weights()))


def test_export_of_a_keras_file_uses_the_loader(monkeypatch, tmp_path):
    """MODEL.keras / .h5: the model `seqc.keras.models.load_model` returns, with the file's weights."""
    from seqc import export as ex
    from seqc.keras import layers, models
    m = models.Sequential([layers.Dense(4, activation="relu", input_shape=(3,)), layers.Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    seen = []
    monkeypatch.setattr(models, "load_model", lambda path: seen.append(path) or m, raising=False)
    desc, files = ex.export(str(tmp_path / "saved.keras"), str(tmp_path / "out"))
    assert seen == [str(tmp_path / "saved.keras")] and "saved.c" in files
    assert np.array_equal(np.fromfile(tmp_path / "out" / "weights.bin", "<f4"), flat(m.get_weights()))
    # without the loader: a clear error
    monkeypatch.delattr(models, "load_model")
    from seqc.errors import SeqcError
    with pytest.raises(SeqcError, match="load_model"):
        ex.export(str(tmp_path / "saved.h5"), str(tmp_path / "out2"))


def test_cli_errors(tmp_path):
    r = seqc("export", os.path.join(EXAMPLES, "lstm_classifier.py"), "-o", tmp_path / "o")
    assert r.returncode == 1 and "--seq-len" in r.stderr and "Traceback" not in r.stderr
    r = seqc("export", os.path.join(EXAMPLES, "mlp_softmax.py"))
    assert r.returncode == 1 and "-o" in r.stderr
    r = seqc("export", os.path.join(EXAMPLES, "mlp_softmax.py"), "-o", tmp_path / "o", "--seq-len", "5")
    assert r.returncode == 1 and "--seq-len" in r.stderr and not (tmp_path / "o").exists()
    r = seqc("export", os.path.join(EXAMPLES, "mlp_softmax.py"), "-o", tmp_path / "o", "--name", "main")
    assert r.returncode == 1 and "--name" in r.stderr and not (tmp_path / "o").exists()


def test_default_weights_are_next_to_the_program(mlp):
    """Run through PATH from another directory: --weights defaults to DIR/weights.bin."""
    x, _ = data_mlp(np.random.default_rng(8), 5)
    xp = mlp.save("xd.npy", x)
    r = subprocess.run([mlp.name, "predict", str(xp), "od.npy"], capture_output=True, text=True, cwd=mlp.work,
                       env={"PATH": f"{mlp.dir}:/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(mlp.work / "od.npy"), mlp.model().predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["mlp.keras", "convnet.keras", "mlp_legacy.h5", "bn_convnet.keras", "bilstm.keras",
                                  "td_seq2seq.keras", "conv_kinds.keras"])
def test_export_of_files_keras_wrote(name, tmp_path):
    """MODEL a file real Keras 3 wrote (tests/golden/files): the program predicts Keras's numbers
    from the file's weights."""
    golden = os.path.join(os.path.dirname(__file__), "golden", "files")
    stem = name.split(".")[0].replace("_legacy", "")
    z = np.load(os.path.join(golden, stem + ".npz"))
    out = tmp_path / "out"
    r = seqc("export", os.path.join(golden, name), "-o", out, "--name", "saved")
    assert r.returncode == 0, r.stderr
    make = subprocess.run(["make", "-C", str(out)], capture_output=True, text=True, env=CLEAN_ENV, timeout=600)
    assert make.returncode == 0, make.stderr
    np.save(tmp_path / "x.npy", z["x"].astype(np.float32))
    r = subprocess.run([str(out / "saved"), "predict", str(tmp_path / "x.npy"), str(tmp_path / "p.npy")],
                       capture_output=True, text=True, env=CLEAN_ENV, timeout=600)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), z["pred"], rtol=1e-4, atol=1e-5)
