"""benchmarks/ab.py (with benchmarks/ab_step.c): two checkouts' builds of a benchmark model,
timed alternately in one process. Checked here: each side is built from its own checkout, the
harness's inputs are the Python model's weights and batch (the same loss from them), and bad
arguments fail with a message, not a traceback."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AB = os.path.join(REPO, "benchmarks", "ab.py")


def _ab(*args, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, AB, *args], capture_output=True, text=True, env=env, **kw)


@pytest.fixture(scope="module")
def copy_of_repo(tmp_path_factory):
    """A second checkout: the package and the benchmarks, copied."""
    dst = tmp_path_factory.mktemp("checkout") / "other"
    shutil.copytree(os.path.join(REPO, "seqc"), dst / "seqc", ignore=shutil.ignore_patterns("__pycache__"))
    return str(dst)


def test_two_checkouts_alternate_in_one_process(copy_of_repo):
    r = _ab(REPO, copy_of_repo, "mlp_binary", "--rounds", "2", "--steps", "3", "--threads", "1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # each side's package came from its own checkout
    assert f"A: {REPO} (seqc from {os.path.join(REPO, 'seqc')})" in lines[0]
    assert f"(seqc from {os.path.join(copy_of_repo, 'seqc')})" in lines[1]
    # each load order: both sides' mean and best, and their ratio
    for order in ("A loaded first:", "B loaded first:"):
        at = lines.index(order)
        times = {}
        for tag, line in zip("AB", lines[at + 1:at + 3]):
            assert line.strip().startswith(f"{tag}: mean"), line
            mean, best = (float(w) for w in line.replace(",", "").split() if w.replace(".", "").isdigit())
            assert 0 < best <= mean, line
            times[tag] = mean
        ratio = float(lines[at + 3].split()[-1])
        assert ratio == pytest.approx(times["B"] / times["A"], rel=2e-3)
        times[order] = ratio
    both = float(lines[-1].split()[-1])
    assert lines[-1].startswith("B / A, both load orders")
    r1, r2 = (float(lines[lines.index(o) + 3].split()[-1]) for o in ("A loaded first:", "B loaded first:"))
    assert both == pytest.approx((r1 * r2) ** 0.5, abs=1.5e-3)


def test_env_b_reaches_b_s_build_only(copy_of_repo):
    """--env-b sets a variable for B's build alone: a compiler flag that fails there fails B
    (A, built first, is untouched)."""
    r = _ab(REPO, copy_of_repo, "mlp_binary", "--rounds", "1", "--steps", "1",
            "--env-b", "SEQC_CFLAGS=-fno-such-flag-for-ab")
    assert r.returncode != 0
    assert r.stdout.startswith(f"A: {REPO}"), r.stdout
    assert f"building mlp_binary from {copy_of_repo} failed" in r.stderr


def test_the_written_weights_and_batch_are_the_python_models(tmp_path):
    """ab_step's inputs, written by ab.py's build step (weights, batch, shapes), give the loss the
    Python model gives on that batch from those weights (evaluated: no dropout draws), and
    ab_step runs on them (its C compiles warning-free)."""
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    try:
        import ab
        import run
    finally:
        sys.path.pop(0)
    out = tmp_path / "side"
    out.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ab.build_side(REPO, "mlp_softmax", str(out), env)
    batch, xn, yn, outn = (int(v) for v in (out / "shape.txt").read_text().split())
    bench = run.MODELS["mlp_softmax"]
    assert batch == bench.batch_size and outn >= 1
    x = np.fromfile(out / "x.f32", np.float32).reshape(batch, xn)
    y = np.fromfile(out / "y.f32", np.float32).reshape(batch, yn)
    params = np.fromfile(out / "params.f32", np.float32)
    assert np.ptp(x) > 0 and np.ptp(params) > 0

    import seqc.keras
    from seqc import build
    model = bench.seqc_build(seqc.keras)
    engine = model._rt(x)._engine
    assert engine.n_params == params.size
    engine._params[:] = params
    loss_py = model.evaluate(x, y, batch_size=batch, verbose=0)
    loss_py = loss_py[0] if isinstance(loss_py, list) else loss_py

    # the library ab_step loads: a copy of the build's, vouched for here by its hash (seqc loads
    # only libraries whose content it can check)
    (cached,) = (out / "cache").glob("*/libmodel.so")
    lib_path = str(out / "libmodel.so")
    assert cached.read_bytes() == (out / "libmodel.so").read_bytes()
    ffi, lib = build.ffi(), build.load(lib_path, sha256=build.file_sha256(lib_path))
    m = lib.seqc_create()
    assert lib.seqc_reserve(m, batch) == 0
    np.frombuffer(ffi.buffer(lib.seqc_params(m), 4 * params.size), np.float32)[:] = params
    res = np.zeros(outn, np.float32)
    rc = lib.seqc_evaluate(m, ffi.from_buffer("float[]", x), ffi.from_buffer("float[]", y), ffi.NULL, batch, batch,
                           ffi.from_buffer("float[]", res))
    lib.seqc_destroy(m)
    assert rc == 0
    np.testing.assert_allclose(res[0], loss_py, rtol=1e-6)

    exe = tmp_path / "ab_step"
    subprocess.run([run.bench_cc(), "-O2", "-Wall", "-Wextra", "-Werror", os.path.join(REPO, "benchmarks", "ab_step.c"),
                    "-o", str(exe), "-ldl"], check=True)
    r = subprocess.run([str(exe), str(out), str(out), "1", "1"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "B / A: mean" in r.stdout, r.stderr


@pytest.mark.parametrize("args, message", [
    (["no_such_model"], "unknown model 'no_such_model'"),
    (["mlp_binary", "--rounds", "0"], "must be at least 1"),
    (["mlp_binary", "--env-b", "SEQC_VECTOR_WIDTH"], "--env-b takes KEY=VALUE"),
])
def test_bad_arguments_are_one_line_errors(args, message):
    r = _ab(REPO, REPO, *args)
    assert r.returncode != 0
    assert message in r.stderr and "Traceback" not in r.stderr
