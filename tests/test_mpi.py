"""Data-parallel training under mpirun (seqc.distributed, issue 12).

A script trains an MLP from fixed weights under `mpirun -n 2` and `mpirun -n 3`; every rank's
History, evaluate, predict and final weights must equal one process's (to float rounding) for
global batches the ranks divide and ones they do not (including a last batch smaller than the
number of ranks, which leaves a rank without rows); with shuffling on, every rank must hold
exactly the same weights. Only rank 0 prints and writes files; without mpi4py mpirun gives one
line naming the extra; a failing rank ends the job instead of hanging it.

These tests need mpi4py (the `seqc[mpi]` extra) and its mpirun (next to sys.executable, as the
Open MPI wheel installs it, or on PATH); they are skipped only when mpi4py is not importable.
"""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 90       # a hung job fails the test instead of the run

HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None     # found, not imported
needs_mpi = pytest.mark.skipif(not HAVE_MPI4PY, reason="mpi4py is not installed (pip install '.[mpi]')")


def _launcher():
    """[mpirun, flags...] for this Python's MPI: Open MPI needs --allow-run-as-root (as root)
    and --oversubscribe (more ranks than cores)."""
    here = os.path.dirname(sys.executable)
    for name in ("mpirun", "mpiexec"):
        path = os.path.join(here, name)
        if os.access(path, os.X_OK):
            break
        path = shutil.which(name)
        if path:
            break
    else:
        pytest.fail("mpi4py is installed but no mpirun/mpiexec was found next to sys.executable or on PATH")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    text = version.stdout + version.stderr
    open_mpi = "Open MPI" in text or "prte" in text.lower() or "open-mpi" in text.lower()
    return [path, "--allow-run-as-root", "--oversubscribe"] if open_mpi else [path]


def _env(cache, extra_path=()):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*extra_path, ROOT] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["SEQC_CACHE_DIR"] = str(cache)
    env.pop("OMP_NUM_THREADS", None)       # seqc.distributed's default: cores / ranks on the host
    return env


def _run(cmd, env, cwd):
    """Run a job in its own process group; on a timeout kill the group and fail."""
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish in {TIMEOUT} s (a hang)")
    return p.returncode, out, err


def _seqc_run(launcher, n, script, args, env, cwd):
    cmd = [sys.executable, "-m", "seqc", "run", str(script), *map(str, args)]
    if n:
        cmd = [*launcher, "-n", str(n), *cmd]
    return _run(cmd, env, cwd)


TRAIN = textwrap.dedent('''
    import json, sys
    import numpy as np
    import keras
    from keras.layers import Dense
    from keras.callbacks import CSVLogger, LambdaCallback
    from seqc import distributed

    out = sys.argv[1]
    world = distributed.current()
    rank = world.rank if world else 0
    r = np.random.default_rng(0)
    x = r.normal(size=(50, 6)).astype("float32")
    y = keras.utils.to_categorical(r.integers(0, 3, size=50), 3)
    xv = r.normal(size=(9, 6)).astype("float32")
    yv = keras.utils.to_categorical(r.integers(0, 3, size=9), 3)
    model = keras.Sequential([Dense(8, activation="relu", input_dim=6), Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    w0 = [r.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()]
    res = {"size": world.size if world else 1, "threads": model._rt().engine.get_threads()}
    # 50 rows: batches of 6 (2 and 3 divide it; last batch 2 rows), 7 (last batch 1 row), 8
    for bs in (6, 7, 8):
        model.set_weights(w0)
        h = model.fit(x, y, batch_size=bs, epochs=2, shuffle=False, validation_data=(xv, yv),
                      verbose=2 if bs == 6 else 0,
                      callbacks=[CSVLogger(f"{out}.log{rank}.csv"),
                                 LambdaCallback(on_epoch_end=lambda e, logs: print("callback prints", e))]
                      if bs == 6 else None)
        res[f"history{bs}"] = h.history
        res[f"evaluate{bs}"] = model.evaluate(x, y, batch_size=bs, verbose=0)
        res[f"predict{bs}"] = model.predict(x, batch_size=bs, verbose=0).tolist()
        res[f"weights{bs}"] = [w.tolist() for w in model.get_weights()]
    keras.utils.set_random_seed(5)
    model.set_weights(w0)
    h = model.fit(x, y, batch_size=7, epochs=2, shuffle=True, verbose=0)
    res["shuffled_history"] = h.history
    res["shuffled_weights"] = [w.tolist() for w in model.get_weights()]
    res["train_on_batch"] = model.train_on_batch(x[:5], y[:5])
    res["after_train_on_batch"] = [w.tolist() for w in model.get_weights()]
    model.save_weights(f"{out}.saved{rank}.weights.h5")
    with open(f"{out}.{rank}.json", "w") as f:
        json.dump(res, f)
''')


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A build cache for these tests, fresh: the ranks of the first job compile concurrently."""
    return tmp_path_factory.mktemp("mpi-cache")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cache):
    """mpirun -n 2, one process, then mpirun -n 3, of the training script."""
    d = tmp_path_factory.mktemp("mpi")
    script = d / "train_mlp.py"
    script.write_text(TRAIN)
    env = _env(cache)
    launcher = _launcher()
    results = {}
    for n in (2, 3, 0):
        rc, out, err = _seqc_run(launcher, n, script, [d / f"n{n}"], env, d)
        assert rc == 0, f"mpirun -n {n}: exit {rc}\n{out}\n{err}"
        ranks = [json.loads((d / f"n{n}.{r}.json").read_text()) for r in range(max(n, 1))]
        results[n] = {"ranks": ranks, "stdout": out, "dir": d}
    return results


def _flat(weights):
    return np.concatenate([np.ravel(np.array(w, np.float64)) for w in weights])


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=2e-5, atol=2e-6)


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("bs", [6, 7, 8])
def test_fit_evaluate_predict_match_one_process(runs, n, bs):
    single = runs[0]["ranks"][0]
    for r, res in enumerate(runs[n]["ranks"]):
        assert res["size"] == n
        h, h1 = res[f"history{bs}"], single[f"history{bs}"]
        assert sorted(h) == sorted(h1) == ["accuracy", "loss", "val_accuracy", "val_loss"]
        for k in h1:
            _close(h[k], h1[k])
        _close(res[f"evaluate{bs}"], single[f"evaluate{bs}"])
        _close(res[f"predict{bs}"], single[f"predict{bs}"])
        _close(_flat(res[f"weights{bs}"]), _flat(single[f"weights{bs}"]))


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_shuffled_training_identical_on_every_rank(runs, n):
    ranks = runs[n]["ranks"]
    for res in ranks[1:]:
        for key in ("shuffled_weights", "after_train_on_batch"):
            assert np.array_equal(_flat(res[key]), _flat(ranks[0][key])), key
        assert res["shuffled_history"] == ranks[0]["shuffled_history"]
    single = runs[0]["ranks"][0]
    # rank 0 draws the permutation as one process does: the same training, to rounding
    _close(_flat(ranks[0]["shuffled_weights"]), _flat(single["shuffled_weights"]))
    _close(ranks[0]["train_on_batch"], single["train_on_batch"])
    _close(_flat(ranks[0]["after_train_on_batch"]), _flat(single["after_train_on_batch"]))


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_rank_zero_alone_prints_and_writes(runs, n):
    single_out, out, d = runs[0]["stdout"], runs[n]["stdout"], runs[n]["dir"]
    assert single_out.count("Epoch 1/2") == 1 and single_out.count("Epoch 2/2") == 1
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1, out
    assert out.count("val_loss") == single_out.count("val_loss") == 2
    assert out.count("callback prints") == single_out.count("callback prints") == 2
    assert (d / f"n{n}.saved0.weights.h5").exists() and (d / f"n{n}.log0.csv").exists()
    for r in range(1, n):
        assert not (d / f"n{n}.saved{r}.weights.h5").exists()
        assert not (d / f"n{n}.log{r}.csv").exists()
    log, single_log = ((d / f"n{k}.log0.csv").read_text().splitlines() for k in (n, 0))
    assert log[0] == single_log[0] and len(log) == len(single_log) == 3


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_threads_default_to_cores_per_rank(runs, n):
    expected = max(1, (os.cpu_count() or 1) // n)
    assert [res["threads"] for res in runs[n]["ranks"]] == [expected] * n


@needs_mpi
def test_without_mpi4py_one_line_names_the_extra(tmp_path, cache):
    blocker = tmp_path / "blocker" / "mpi4py"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError(\"No module named 'mpi4py'\")\n")
    script = tmp_path / "s.py"
    script.write_text("import keras\nprint('the script ran')\n")
    rc, out, err = _seqc_run(_launcher(), 2, script, [], _env(cache, [str(tmp_path / "blocker")]),
                             tmp_path)
    assert rc != 0
    lines = [line for line in (out + err).splitlines() if "seqc[mpi]" in line]
    assert lines == ["seqc: started by mpirun but mpi4py is not installed: pip install 'seqc[mpi]'"], out + err
    assert "Traceback" not in out + err and "the script ran" not in out


FAIL = textwrap.dedent('''
    import sys
    import numpy as np
    import keras
    from keras.layers import Dense
    from seqc import distributed

    rank = distributed.current().rank
    model = keras.Sequential([Dense(3, input_dim=4)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((20, 4), np.float32)
    if rank == 1:
        if sys.argv[1] == "exception":
            raise RuntimeError("rank 1 breaks down")
        if sys.argv[1] == "user_error":
            model.fit(np.zeros((20, 7)), np.zeros((20, 3)), verbose=0)   # a user error on this rank alone
        x = np.zeros((21, 4), np.float32)                  # different data on this rank
    model.fit(x, np.zeros((len(x), 3)), epochs=1000, verbose=0)   # rank 0 waits for rank 1 in here
    print("rank", rank, "finished")
''')


@needs_mpi
@pytest.mark.parametrize("how", ["exception", "user_error", "different_data"])
def test_a_failing_rank_ends_the_job(tmp_path, cache, how):
    script = tmp_path / "fail.py"
    script.write_text(FAIL)
    rc, out, err = _seqc_run(_launcher(), 2, script, [how], _env(cache), tmp_path)
    assert rc != 0
    assert "finished" not in out
    if how == "exception":
        assert "RuntimeError: rank 1 breaks down" in err
    elif how == "user_error":
        assert "fail.py:16: Input x has shape (20, 7)" in err, err
    else:
        assert ("fail.py:18: fit under mpirun: every rank must pass the same data; got rows=20 on rank 0 but 21 on "
                "rank 1") in err, err


# ---- without MPI: the pieces of a data-parallel step, in one process -------------------------
def _small_model():
    import seqc.keras as keras
    from seqc.keras.layers import Dense
    model = keras.Sequential([Dense(5, activation="tanh", input_dim=4), Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    r = np.random.default_rng(3)
    model.set_weights([r.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    x = r.normal(size=(8, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[r.integers(0, 3, size=8)]
    return model, x, y


def test_shard_gradients_sum_to_the_batch_gradient():
    """seqc_shard_gradients on shards of 3 and 5 rows, weighted 3/8 and 5/8, sums to the
    gradient, loss and accuracy of the batch of 8; the update from that sum is train_on_batch's;
    a shard without rows contributes zeros."""
    model, x, y = _small_model()
    reference, _, _ = _small_model()
    engine = model._rt(x).engine
    loss, grad = engine.gradients(x, y, training=True)
    loss_acc = reference.test_on_batch(x, y)
    rows = np.arange(8, dtype=np.int32)
    total = np.zeros(engine.n_params + 2, np.float64)
    for lo, hi in ((0, 3), (3, 8)):
        engine.shard_gradients(x, y, rows[lo:hi], (hi - lo) / 8)
        total += engine.reduce_buffer()
    np.testing.assert_allclose(total[:engine.n_params], grad, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(total[engine.n_params:], loss_acc, rtol=1e-6, atol=1e-7)
    assert abs(total[engine.n_params] - loss) < 1e-6
    engine.reduce_buffer()[:] = total
    engine.apply_gradients()
    reference.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    engine.shard_gradients(x, y, rows[:0], 0.0)
    assert not engine.reduce_buffer().any()


def test_shards_cover_the_batch_contiguously():
    from seqc.distributed import World

    class Comm:
        def __init__(self, rank, size):
            self.rank, self.size = rank, size

        def Get_rank(self):
            return self.rank

        def Get_size(self):
            return self.size

    for size in (1, 2, 3, 8):
        for n in (0, 1, 2, 5, 6, 7, 128):
            shards = [World(Comm(r, size), None).shard(n) for r in range(size)]
            assert shards[0][0] == 0 and shards[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(shards, shards[1:]))
            sizes = [hi - lo for lo, hi in shards]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_one_process_imports_no_mpi():
    model, x, y = _small_model()
    model.fit(x, y, epochs=1, verbose=0)
    from seqc import distributed
    assert distributed.current() is None and "mpi4py" not in sys.modules


def test_stateful_model_refuses_data_parallel_fit(monkeypatch):
    """Under mpirun a stateful model's fit is a clear error (its state belongs to one rank's
    samples); its predict runs whole on each rank. (The world is faked: no collective runs.)"""
    import seqc.keras as keras
    from seqc import distributed
    from seqc.keras.layers import Dense, SimpleRNN
    model = keras.Sequential([SimpleRNN(3, stateful=True, batch_input_shape=(2, 4, 2)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((4, 4, 2), np.float32)
    expected = model.predict(x, batch_size=2, verbose=0)
    model.reset_states()
    monkeypatch.setattr(distributed, "current", lambda: object())
    with pytest.raises(ValueError, match="stateful model cannot train data-parallel under mpirun"):
        model.fit(x, np.zeros((4, 1)), batch_size=2, shuffle=False, verbose=0)
    np.testing.assert_array_equal(model.predict(x, batch_size=2, verbose=0), expected)
