#!/usr/bin/env python3
"""Check the C seqc generates on AArch64 (NEON): cross-compiled, run under qemu-user.

Run by hand (pytest does not collect it: its name does not match test_*.py):

    apt-get install gcc-aarch64-linux-gnu qemu-user libc6-arm64-cross libgomp1-arm64-cross
    PYTHONPATH=$PWD SEQC_CACHE_DIR=/tmp/cache-arm python tests/cross/check_aarch64.py [MODEL ...]
        [--sve] [--no-contract] [--threads 2] [--keep DIR] [--json OUT]

For each model below, `seqc export` writes the standalone program with the C an AArch64 host
would get: 4-float vectors (GEMM_VF 4). The arch part of the flags is emptied (SEQC_CFLAGS=""),
which on x86-64 too leaves no AVX in the target, so codegen.target_vector_floats gives 4; the
script checks the generated GEMM_VF, and that `seqc export` with CC=aarch64-linux-gnu-gcc (seqc
then probes the aarch64 compiler's target, as on an AArch64 host) writes the very same C. That
one C is then built

    arm       aarch64-linux-gnu-gcc -O3 -fopenmp (no -march: armv8-a, NEON), run by qemu-aarch64
              with OMP_NUM_THREADS=--threads
    arm-1     aarch64-linux-gnu-gcc -O3 without OpenMP, one thread
    arm-sve   (--sve) -O3 -march=armv8.2-a+sve -fopenmp: the auto-vectoriser's SVE for the loops
              the vector extension leaves to it (qemu's default cpu has SVE)
    x86       gcc -O3 -march=native -fopenmp on this host, run with --threads and with 1 thread
    arm-nc, x86-nc  (--no-contract) both with -ffp-contract=off: with no fma on either side, the
              same C should give the same bits on both (libm aside)
    arm-lib   the model library as seqc's build.py compiles it on an AArch64 host (its flags, read
              from seqc with CC=aarch64-linux-gnu-gcc, -shared): for its warnings only

and every build predicts (at the batch size of training, and at 3: Dense's path for few rows),
evaluates and trains (`train --no-shuffle --seed 11`, a few epochs) on the same small data;
the Python package of the same script (`seqc compile`, SEQC_CFLAGS="",
so the same 4-float C built for x86-64's baseline: SSE2, no FMA) gives the reference.
Predictions, the evaluate JSON, the train JSON, the trained weights and the predictions with them
are compared (max abs, max rel over nonzero references, max abs / max |reference|): arm
against x86 at the same thread count, and every build against Python, within TOL (rtol 1e-5
for predictions, 1e-4 after training, as tests/test_export.py). The builds use the Makefile's
-Wall -Wextra; any compiler warning is reported and fails the check.

What to expect (gcc 12.2, qemu 7.2, the ten models below, 2026-11): both compilers contract
a*b + c into an fma by default, but of a*b + c*d they may fuse different products (SGD's update:
aarch64's fmls fuses lr*g, x86's vfmsub mu*mom), so arm and x86 differ by an ulp here and there
(most predictions bit-identical; trained weights within ~1e-7). With --no-contract both give the
same bits in every model and mode, and the same bits as the Python package (no fma either): the
C computes the same on AArch64. (Except predict_small against Python: Dense's few-row path calls
fmaf itself where the target has a fast one, SEQC_MADD, to sum as the contracted GEMM does, so it
keeps its fma under -ffp-contract=off.)

Exit status 0 when every comparison is within tolerance and no build warned, 1 otherwise.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ["SEQC_CFLAGS"] = ""           # before seqc reads it: the portable arch part, 4-float vectors
import numpy as np                     # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from package_import import import_package   # noqa: E402
SEED = 3           # initial weights: NAME.Model(seed=SEED)
TRAIN_SEED = 11    # train --seed (dropout)
ARM_CC = "aarch64-linux-gnu-gcc"
ARM_SYSROOT = "/usr/aarch64-linux-gnu"
QEMU = "qemu-aarch64"

# rtol / atol: predictions and evaluate as tests/test_export.py checks the program against Python
TOL = {"predict": (1e-5, 1e-6), "predict_small": (1e-5, 1e-6), "evaluate": (1e-5, 1e-7),
       "train": (1e-4, 1e-6), "weights": (1e-4, 1e-6),
       "predict_trained": (1e-4, 1e-6)}

HEAD = """\
import numpy as np
import keras
from keras.models import Sequential
from keras.layers import *
from keras.optimizers import SGD
"""

# name: (script body, export/compile options, data maker (rng -> x, y), batch size, epochs,
#        the batch size of `predict_small`: few rows, Dense's row-by-row path; None: fixed batch)
MODELS = {}


def model(name, extra=(), batch=16, epochs=2, small=3):
    def deco(fn):
        MODELS[name] = (fn.__doc__, tuple(extra), fn, batch, epochs, small)
        return fn
    return deco


@model("mlp")
def _mlp(rng, n=200):
    """model = Sequential()
model.add(Dense(64, activation='relu', input_dim=20))
model.add(Dropout(0.5))
model.add(Dense(37, activation='relu'))
model.add(Dropout(0.5))
model.add(Dense(10, activation='softmax'))
sgd = SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)
model.compile(loss='categorical_crossentropy', optimizer=sgd, metrics=['accuracy'])
"""
    return rng.random((n, 20)).astype(np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


@model("convnet", batch=8)
def _convnet(rng, n=48):
    """model = Sequential()
model.add(Conv2D(40, (3, 3), padding='same', activation='relu', input_shape=(10, 9, 3)))
model.add(Conv2D(20, (3, 3), padding='same', activation='relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Conv2D(12, (3, 3), activation='relu'))
model.add(Flatten())
model.add(Dense(13, activation='relu'))
model.add(Dense(5, activation='softmax'))
model.compile(loss='sparse_categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
"""
    return rng.random((n, 10, 9, 3)).astype(np.float32), rng.integers(0, 5, n).astype(np.int64)


@model("conv1d", batch=16)
def _conv1d(rng, n=96):
    """model = Sequential()
model.add(Conv1D(24, 3, activation='relu', input_shape=(30, 7)))
model.add(Conv1D(19, 5, padding='causal', activation='relu'))
model.add(MaxPooling1D(3))
model.add(Conv1D(33, 3, padding='same', strides=2, activation='tanh'))
model.add(GlobalAveragePooling1D())
model.add(Dropout(0.5))
model.add(Dense(1, activation='sigmoid'))
model.compile(loss='binary_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
"""
    return rng.random((n, 30, 7)).astype(np.float32), rng.integers(0, 2, (n, 1)).astype(np.int64)


@model("lstm", extra=("--seq-len", 12))
def _lstm(rng, n=96):
    """max_features = 50
model = Sequential()
model.add(Embedding(max_features, output_dim=16))
model.add(LSTM(13))
model.add(Dropout(0.5))
model.add(Dense(1, activation='sigmoid'))
model.compile(loss='binary_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
"""
    return rng.integers(0, 50, (n, 12)).astype(np.int32), rng.integers(0, 2, (n, 1)).astype(np.int64)


@model("stacked_lstm")
def _stacked(rng, n=96):
    """model = Sequential()
model.add(LSTM(20, return_sequences=True, input_shape=(8, 11)))
model.add(LSTM(18, return_sequences=True))
model.add(LSTM(9))
model.add(Dense(10, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
"""
    return rng.random((n, 8, 11)).astype(np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


@model("gru")
def _gru(rng, n=96):
    """model = Sequential()
model.add(GRU(21, return_sequences=True, input_shape=(9, 6)))
model.add(GRU(10, reset_after=False))
model.add(Dense(3))
model.compile(loss='mse', optimizer='adam', metrics=['mae'])
"""
    return rng.random((n, 9, 6)).astype(np.float32), rng.standard_normal((n, 3)).astype(np.float32)


# use_bias=False before BatchNormalization: a bias there has a gradient of exactly 0 in exact
# arithmetic (the normalisation removes it), so its computed gradient is rounding noise, which
# Adam scales up to steps of ~lr; its value (and the moving mean that follows it) then depends on
# the order of the sums: threads, fma, and not a meaningful comparison (seen: 1e-3 apart).
@model("batchnorm")
def _bn(rng, n=128):
    """model = Sequential()
model.add(Conv2D(12, (3, 3), padding='same', use_bias=False, input_shape=(8, 8, 2)))
model.add(BatchNormalization())
model.add(Activation('relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Flatten())
model.add(Dense(30, use_bias=False))
model.add(BatchNormalization())
model.add(Activation('relu'))
model.add(Dropout(0.5))
model.add(Dense(4, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
"""
    return rng.random((n, 8, 8, 2)).astype(np.float32), np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)]


@model("convx", batch=8)
def _convx(rng, n=40):
    """model = Sequential()
model.add(Conv2D(10, (3, 3), strides=2, padding='same', activation='relu', input_shape=(11, 10, 3)))
model.add(DepthwiseConv2D((3, 3), depth_multiplier=2, padding='same', activation='relu'))
model.add(Conv2DTranspose(9, (3, 3), strides=2, padding='same', activation='relu'))
model.add(SeparableConv2D(14, (3, 3), activation='relu'))
model.add(AveragePooling2D(pool_size=(2, 2)))
model.add(GlobalMaxPooling2D())
model.add(Dense(6, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='nadam', metrics=['accuracy'])
"""
    return rng.random((n, 11, 10, 3)).astype(np.float32), np.eye(6, dtype=np.float32)[rng.integers(0, 6, n)]


@model("bilstm_masked")
def _bilstm(rng, n=64):
    """model = Sequential()
model.add(Embedding(40, 10, mask_zero=True, input_length=11))
model.add(Bidirectional(LSTM(7, return_sequences=True)))
model.add(SimpleRNN(5))
model.add(Dense(1, activation='sigmoid'))
model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
"""
    x = rng.integers(1, 40, (n, 11)).astype(np.int32)
    for i, k in enumerate(rng.integers(0, 6, n)):      # trailing padding of 0 to 5 steps
        x[i, 11 - k:] = 0
    return x, rng.integers(0, 2, (n, 1)).astype(np.int64)


@model("stateful", batch=4, small=None)
def _stateful(rng, n=24):
    """model = Sequential()
model.add(LSTM(5, return_sequences=True, stateful=True, batch_input_shape=(4, 3, 2)))
model.add(GRU(6, stateful=True))
model.add(Dense(3, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
"""
    return rng.random((n, 3, 2)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]


# ---------------------------------------------------------------------------------------------
def run(cmd, env=None, cwd=None, timeout=1800):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    return r


def seqc_env(cross=False):
    """seqc's environment: SEQC_CFLAGS="" (x86-64's baseline, 4-float code), or cross: CC the
    aarch64 compiler, whose target seqc probes as on an AArch64 host (its -march=native is refused
    by a cross compiler, so the arch part falls back to none, as it would without -march)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), SEQC_CFLAGS="")
    if cross:
        del env["SEQC_CFLAGS"]
        env["CC"] = ARM_CC
    return env


def seqc(*args, cwd=None, cross=False):
    r = run([sys.executable, "-m", "seqc", *args], env=seqc_env(cross), cwd=cwd)
    if r.returncode != 0:
        raise SystemExit(f"seqc {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r


def arm_library_flags():
    """The flags seqc's build.py would compile a model library with, the compiler being aarch64's."""
    r = run([sys.executable, "-c", "import json; from seqc import build; print(json.dumps(build.default_flags()))"],
            env=seqc_env(cross=True))
    if r.returncode != 0:
        raise SystemExit(f"cannot read seqc's flags for {ARM_CC}:\n{r.stderr}")
    return json.loads(r.stdout)


def compare(a, b, rtol, atol):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        return dict(ok=False, note=f"shapes {a.shape} vs {b.shape}")
    d = np.abs(a - b)
    nz = np.abs(b) > 0
    rel = float(np.max(d[nz] / np.abs(b[nz]))) if nz.any() else 0.0
    scale = float(np.abs(b).max()) if b.size else 0.0
    return dict(ok=bool(np.all(d <= atol + rtol * np.abs(b)) and np.all(np.isfinite(a))),
                identical=bool(np.array_equal(a, b)), abs=float(d.max()) if d.size else 0.0, rel=rel,
                scaled=float(d.max()) / scale if scale else 0.0,
                differing=int(np.count_nonzero(d)), size=int(a.size))


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


class Build:
    """One build of the exported program: how it is compiled, how it runs."""

    def __init__(self, label, cc, arch, openmp, threads, emulate, cflags="-O3"):
        self.label, self.cc, self.arch, self.openmp, self.cflags = label, cc, arch, openmp, cflags
        self.threads, self.emulate = threads, emulate

    def make(self, src, dst, name):
        shutil.copytree(src, dst)
        t = time.time()
        r = run(["make", "-C", dst, f"CC={self.cc}", f"ARCH={self.arch}", f"OPENMP={self.openmp}",
                 f"CFLAGS={self.cflags}"],
                env={"PATH": "/usr/bin:/bin"})
        self.compile_seconds = time.time() - t
        self.exe = os.path.join(dst, name)
        self.log = r.stdout + r.stderr
        if r.returncode != 0:
            raise SystemExit(f"{self.label}: make failed:\n{self.log}")
        self.warnings = [line for line in r.stderr.splitlines() if "warning" in line.lower()]
        return self

    def __call__(self, work, *args, threads=None):
        env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": str(threads or self.threads),
               "OMP_WAIT_POLICY": "passive"}
        cmd = [QEMU, "-L", ARM_SYSROOT, self.exe] if self.emulate else [self.exe]
        r = run(cmd + list(args), env=env, cwd=work)
        if r.returncode != 0:
            raise SystemExit(f"{self.label}: {' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr}")
        return r


def check_model(name, tmp, opts):
    script, extra, make_data, batch, epochs, small = MODELS[name]
    d = os.path.join(tmp, name)
    os.makedirs(d)
    path = os.path.join(d, f"{name}.py")
    with open(path, "w") as f:
        f.write(HEAD + script)
    export = os.path.join(d, "export")
    seqc("export", path, "-o", export, "--name", name, "--seed", SEED, *extra)
    c_text = open(os.path.join(export, f"{name}.c")).read()
    vf = [line.split()[2] for line in c_text.splitlines() if line.startswith("#define GEMM_VF ")]
    if vf and vf != ["4"]:
        raise SystemExit(f"{name}: the generated C has GEMM_VF {vf}, not 4: SEQC_CFLAGS='' did not give NEON's width")
    # the C seqc generates when its compiler is aarch64's (what an AArch64 host gets) is this same C
    cross = os.path.join(d, "export-cross")
    seqc("export", path, "-o", cross, "--name", name, "--seed", SEED, *extra, cross=True)
    same_c = all(open(os.path.join(cross, f)).read() == open(os.path.join(export, f)).read()
                 for f in (f"{name}.c", f"{name}.h", "main.c"))
    if not same_c:
        raise SystemExit(f"{name}: the C generated for {ARM_CC} differs from the SEQC_CFLAGS='' C")
    # the model library as seqc's build.py would compile it on an AArch64 host (warnings only)
    flags = opts.lib_flags
    t = time.time()
    r = run([ARM_CC, *flags, "-shared", "-o", os.path.join(d, f"lib{name}.so"), os.path.join(export, f"{name}.c"),
             "-lm"])
    if r.returncode != 0:
        raise SystemExit(f"{name}: {ARM_CC} {' '.join(flags)} -shared failed:\n{r.stderr}")
    lib_warnings = [line for line in r.stderr.splitlines() if "warning" in line.lower()]
    lib_seconds = time.time() - t
    seqc("compile", path, "-o", os.path.join(d, "pkg"), "--name", name, *extra)
    pkg = import_package(os.path.join(d, "pkg"), name)

    builds = [Build("arm", ARM_CC, "", "-fopenmp", opts.threads, True),
              Build("arm-1", ARM_CC, "", "", 1, True),
              Build("x86", "gcc", "-march=native", "-fopenmp", opts.threads, False)]
    if opts.sve:
        builds.insert(2, Build("arm-sve", ARM_CC, "-march=armv8.2-a+sve", "-fopenmp", opts.threads, True))
    if opts.no_contract:
        nc = "-O3 -ffp-contract=off"
        builds[-1:-1] = [Build("arm-nc", ARM_CC, "", "-fopenmp", opts.threads, True, nc),
                         Build("x86-nc", "gcc", "-march=native", "-fopenmp", opts.threads, False, nc)]
    for b in builds:
        b.make(export, os.path.join(d, b.label), name)

    rng = np.random.default_rng(1)
    x, y = make_data(rng)
    work = os.path.join(d, "work")
    os.makedirs(work)
    xp, yp = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
    np.save(xp, x)
    np.save(yp, y)
    wbin = os.path.join(export, "weights.bin")

    def outputs(b, threads=None):
        tag = f"{b.label}-t{threads or b.threads}"
        o = {}
        b(work, "predict", xp, f"p-{tag}.npy", "--weights", wbin, "--batch-size", batch, threads=threads)
        o["predict"] = np.load(os.path.join(work, f"p-{tag}.npy"))
        if small:
            b(work, "predict", xp, f"ps-{tag}.npy", "--weights", wbin, "--batch-size", small, threads=threads)
            o["predict_small"] = np.load(os.path.join(work, f"ps-{tag}.npy"))
        o["evaluate"] = last_json(b(work, "evaluate", xp, yp, "--weights", wbin, "--batch-size", batch,
                                    threads=threads).stdout)
        r = b(work, "train", xp, yp, "--epochs", epochs, "--batch-size", batch, "--no-shuffle", "--seed",
              TRAIN_SEED, "--weights", wbin, "--save", f"w-{tag}.bin", threads=threads)
        o["train"] = last_json(r.stdout)
        o["weights"] = np.fromfile(os.path.join(work, f"w-{tag}.bin"), "<f4")
        b(work, "predict", xp, f"pt-{tag}.npy", "--weights", f"w-{tag}.bin", "--batch-size", batch, threads=threads)
        o["predict_trained"] = np.load(os.path.join(work, f"pt-{tag}.npy"))
        return o

    results = {}
    t = time.time()
    for b in builds:
        results[f"{b.label}(t{b.threads})"] = outputs(b)
    x86 = builds[-1]
    results["x86(t1)"] = outputs(x86, threads=1)
    run_seconds = time.time() - t

    # the Python package: Model(seed=SEED), fit(shuffle=False) with the same dropout seed
    # (each run of the program starts from zero states: a stateful model's are reset between calls)
    from seqc.export import read_weights
    m = pkg.Model(seed=SEED)
    py = {"predict": m.predict(x, batch_size=batch, verbose=0)}
    if small:
        py["predict_small"] = m.predict(x, batch_size=small, verbose=0)
    m.reset_states()
    py["evaluate"] = m.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)
    m = pkg.Model(seed=SEED)
    (m.engine if hasattr(m, "engine") else m._rt(x).engine).set_seed(TRAIN_SEED)
    hist = m.fit(x, y, epochs=epochs, batch_size=batch, shuffle=False, verbose=0).history
    py["train"] = {k: v[-1] for k, v in hist.items()}
    py["weights"] = np.concatenate([w.ravel() for w in m.get_weights()])
    m.reset_states()
    py["predict_trained"] = m.predict(x, batch_size=batch, verbose=0)
    fresh = pkg.Model(seed=SEED)
    read_weights(fresh, os.path.join(work, f"w-x86-t{opts.threads}.bin"))
    assert np.allclose(fresh.predict(x, batch_size=batch, verbose=0), results[f"x86(t{opts.threads})"]["predict_trained"],
                       rtol=1e-5, atol=1e-6)
    results["python"] = py

    pairs = [(f"arm(t{opts.threads})", f"x86(t{opts.threads})"), ("arm-1(t1)", "x86(t1)")]
    if opts.sve:
        pairs.append((f"arm-sve(t{opts.threads})", f"arm(t{opts.threads})"))
    if opts.no_contract:
        pairs.append((f"arm-nc(t{opts.threads})", f"x86-nc(t{opts.threads})"))
    pairs += [(k, "python") for k in results if k != "python"]
    rows = []
    for a, b in pairs:
        for what in ("predict", "predict_small", "evaluate", "train", "weights", "predict_trained"):
            if what not in results[b]:
                continue
            va, vb = results[a][what], results[b][what]
            if isinstance(vb, dict):
                if sorted(va) != sorted(vb):
                    rows.append(dict(a=a, b=b, what=what, ok=False, note=f"keys {sorted(va)} vs {sorted(vb)}"))
                    continue
                keys = sorted(vb)
                va, vb = [va[k] for k in keys], [vb[k] for k in keys]
            rows.append(dict(a=a, b=b, what=what, **compare(va, vb, *TOL[what])))
    built = {b.label: dict(warnings=b.warnings, seconds=round(b.compile_seconds, 1)) for b in builds}
    built["arm-lib"] = dict(warnings=lib_warnings, seconds=round(lib_seconds, 1))
    return dict(model=name, gemm_vf=vf, same_c_for_aarch64_cc=same_c, builds=built,
                run_seconds=round(run_seconds, 1), rows=rows, gcc_cmd=builds[0].log.splitlines()[1:2])


def tool_versions():
    out = {}
    for tool, args in ((ARM_CC, ["--version"]), (QEMU, ["--version"]), ("gcc", ["--version"])):
        try:
            out[tool] = run([tool, *args]).stdout.splitlines()[0]
        except (OSError, IndexError):
            out[tool] = "missing"
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", default=[], help=f"models to check (default: all of {', '.join(MODELS)})")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the OpenMP runs (default 2)")
    p.add_argument("--sve", action="store_true", help="also an -march=armv8.2-a+sve build")
    p.add_argument("--no-contract", action="store_true",
                   help="also arm and x86 builds with -ffp-contract=off (no fma), compared with each other")
    p.add_argument("--keep", help="work in this directory and keep it")
    p.add_argument("--json", help="write the results here")
    opts = p.parse_args(argv)
    for name in opts.models:
        if name not in MODELS:
            p.error(f"unknown model {name!r} (one of {', '.join(MODELS)})")
    versions = tool_versions()
    for tool, v in versions.items():
        print(f"{tool}: {v}")
    if "missing" in versions.values():
        print("missing tools: apt-get install gcc-aarch64-linux-gnu qemu-user libc6-arm64-cross libgomp1-arm64-cross")
        return 2
    opts.lib_flags = arm_library_flags()
    print(f"seqc's library flags for {ARM_CC}: {' '.join(opts.lib_flags)}")
    tmp = opts.keep or tempfile.mkdtemp(prefix="seqc-aarch64-")
    os.makedirs(tmp, exist_ok=True)
    report, ok = dict(tools=versions, models=[]), True
    try:
        for name in opts.models or list(MODELS):
            res = check_model(name, tmp, opts)
            report["models"].append(res)
            print(f"\n== {name}: GEMM_VF {res['gemm_vf'][0] if res['gemm_vf'] else '-'}; builds "
                  + ", ".join(f"{k} {v['seconds']}s" for k, v in res["builds"].items())
                  + f"; runs {res['run_seconds']}s")
            for k, v in res["builds"].items():
                for w in v["warnings"]:
                    print(f"  WARNING {k}: {w}")
                    ok = False
            print(f"  {'a':<14} {'b':<10} {'what':<16} {'ok':<4} {'same':<5} {'max abs':>10} {'max rel':>10} "
                  f"{'abs/max|b|':>10} differing")
            for r in res["rows"]:
                ok &= r["ok"]
                if "note" in r:
                    print(f"  {r['a']:<14} {r['b']:<10} {r['what']:<16} FAIL {r['note']}")
                    continue
                print(f"  {r['a']:<14} {r['b']:<10} {r['what']:<16} {'ok' if r['ok'] else 'FAIL':<4} "
                      f"{'yes' if r['identical'] else 'no':<5} {r['abs']:10.3g} {r['rel']:10.3g} {r['scaled']:10.3g} "
                      f"{r['differing']}/{r['size']}")
            sys.stdout.flush()
    finally:
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump(report, f, indent=1)
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\nall within tolerance, no warnings" if ok else "\nFAILED: see the rows marked FAIL / WARNING")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
