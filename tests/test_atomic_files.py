"""Files seqc writes for the user are replaced atomically: a save that fails or is killed leaves
the previous file whole (fileio.atomic_write: temporary file, fsync, rename)."""
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from seqc import fileio
from seqc.runtime import callbacks
from seqc.runtime.model import read_weights, write_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Boom(Exception):
    """The failure injected into a save, to show the old file survives."""


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(Boom):
        with fileio.atomic_write(path, "w") as f:
            f.write("half of the new")
            raise Boom
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_missing_directory_is_named(tmp_path):
    """As in Keras no directory is created; the error names the user's path, not a temporary file."""
    from seqc import keras
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(FileNotFoundError, match=r"no such directory .*missing.*w\.weights\.h5"):
        model.save_weights(tmp_path / "missing" / "w.weights.h5")
    assert os.listdir(tmp_path) == []


def test_new_file_mode_follows_the_umask_and_symlink_target_is_replaced(tmp_path):
    old = os.umask(0o027)
    try:
        with fileio.atomic_write(tmp_path / "new.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o640
    target = tmp_path / "target.txt"
    target.write_text("old")
    os.symlink(target, tmp_path / "link.txt")
    with fileio.atomic_write(tmp_path / "link.txt", "w") as f:
        f.write("new")
    assert os.path.islink(tmp_path / "link.txt") and target.read_text() == "new"


def test_devices_are_written_in_place():
    with fileio.atomic_write(os.devnull, "w") as f:
        f.write("discarded")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_failed_save_weights_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    write_weights(path, [np.ones((3, 2), np.float32)], ["a"])

    def savez_then_fail(f, **arrays):
        f.write(b"PK\x03\x04 partial zip")
        raise Boom

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(Boom):
        write_weights(path, [np.zeros((3, 2), np.float32)], ["a"])
    monkeypatch.undo()
    np.testing.assert_array_equal(read_weights(path)[0], np.ones((3, 2)))
    assert os.listdir(tmp_path) == ["w.npz"]


def test_model_save_weights_is_atomic(tmp_path, monkeypatch):
    """The runtime model's save_weights (what save and ModelCheckpoint call) goes through atomic_write."""
    from seqc.keras.layers import Dense
    from seqc.keras.models import Sequential
    m = Sequential([Dense(3, input_dim=2)])
    m.compile("sgd", "mse")
    path = tmp_path / "m.weights.npz"
    m.save_weights(path)
    before = read_weights(path)
    m.set_weights([w + 1 for w in m.get_weights()])
    monkeypatch.setattr(np, "savez", lambda f, **a: (f.write(b"PK partial"), (_ for _ in ()).throw(Boom)))
    with pytest.raises(Boom):
        m.save_weights(path)
    monkeypatch.undo()
    for a, b in zip(read_weights(path), before):
        np.testing.assert_array_equal(a, b)


def test_csv_logger_file_is_whole_after_every_epoch(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n0,9\n")
    logger = callbacks.CSVLogger(str(path), append=True)
    logger.on_train_begin()
    assert path.read_text() == "epoch,loss\n0,9\n"
    seen = []
    for epoch in range(3):
        logger.on_epoch_end(epoch, {"loss": 0.5 / (epoch + 1)})
        seen.append(path.read_bytes())
    logger.on_train_end()
    assert seen[-1] == path.read_bytes()
    assert path.read_text().splitlines() == ["epoch,loss", "0,9", "0,0.5,NA", "1,0.25,NA",
                                             "2,0.16666666666666666,NA"]
    for k, snapshot in enumerate(seen):        # each epoch's file: the old rows plus k + 1 whole rows
        assert snapshot.endswith(b"\r\n") and snapshot.count(b"\n") == 2 + k + 1
    fresh = callbacks.CSVLogger(str(path))
    fresh.on_train_begin()
    assert path.read_text() == ""               # as Keras: a new log starts empty
    fresh.on_epoch_end(0, {"loss": 1.0})
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,1.0,NA"]


SAVER = """
    import sys, numpy as np
    from seqc.runtime.model import write_weights
    path = sys.argv[1]
    arrays = [np.empty((4000, 4000), np.float32), np.empty(4000, np.float32)]
    version = 1
    while True:
        for a in arrays:
            a.fill(version)
        write_weights(path, arrays, ["kernel", "bias"])
        print(version, flush=True)
        version += 1
"""


def test_killed_saves_leave_a_loadable_file(tmp_path):
    """A process saving 64 MB of weights in a loop, SIGKILLed at random moments: each time the
    file on disk is a whole save (all arrays from one version, no later than the last begun)."""
    path = tmp_path / "model.weights.npz"
    write_weights(path, [np.zeros((4000, 4000), np.float32), np.zeros(4000, np.float32)], ["kernel", "bias"])
    rng = random.Random(0)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    deadline = time.monotonic() + 25
    kills = 0
    while kills < 10 and time.monotonic() < deadline:
        p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SAVER), str(path)], stdout=subprocess.PIPE,
                             env=env, text=True)
        p.stdout.readline()             # the first save done: the next one is under way
        time.sleep(rng.uniform(0.0, 0.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        done = p.stdout.read().split()
        p.stdout.close()
        kills += 1
        kernel, bias = read_weights(path)
        assert kernel.shape == (4000, 4000) and bias.shape == (4000,)
        version = bias[0]
        assert (bias == version).all() and (kernel == version).all()
        # the last save reported whole, or the one after it (finished but not yet reported)
        last = int(done[-1]) if done else 1
        assert last <= version <= last + 1, (version, done)
    assert kills >= 5
