"""Denormals are flushed to zero on every thread of the team, not only on the calling one.

OpenMP threads inherit the floating-point control state of the thread that starts them. seqc
sets flush-to-zero on the calling thread at each entry point (and puts the caller's
setting back when it returns: the second test); threads libgomp started earlier,
for another library's parallel region, would keep computing denormals (slowly: ~100x per
operation on x86), and a sample's result would depend on which thread computed it. Here a C
library with an OpenMP region of its own starts the threads first, in a fresh process; then a
model whose output is denormal (2 x 1e-20 * 1e-20) predicts two samples, one per thread: both
are 0.
"""
import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CC = os.environ.get("CC", "gcc")


def test_threads_started_by_another_library_flush_denormals(tmp_path):
    src = tmp_path / "other.c"
    src.write_text("#include <omp.h>\nint other_region(void) { int n = 0;\n"
                   "#pragma omp parallel num_threads(2) reduction(+ : n)\n n += 1;\n return n; }\n")
    lib = tmp_path / "libother.so"
    subprocess.run([CC, "-O1", "-fopenmp", "-shared", "-fPIC", str(src), "-o", str(lib)], check=True)
    script = textwrap.dedent(f"""
        import ctypes, numpy as np
        other = ctypes.CDLL({str(lib)!r})
        assert other.other_region() == 2          # libgomp's threads exist now, without flush-to-zero
        from seqc import keras
        from seqc.keras.layers import Conv1D
        m = keras.Sequential([keras.Input((2, 1)), Conv1D(1, 2, use_bias=False)])   # a sample per thread
        m.compile(optimizer="sgd", loss="mse")
        m.set_weights([np.full((2, 1, 1), 1e-20, np.float32)])
        y = m.predict(np.full((2, 2, 1), 1e-20, np.float32), batch_size=2, verbose=0)
        # the bits: converting a denormal float32 to a Python float on this thread (flushed) reads 0
        print(repr(y.view(np.uint32).ravel().tolist()))
    """)
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               SEQC_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[0, 0]", r.stdout


def test_the_callers_own_arithmetic_keeps_its_denormals(tmp_path):
    """Flush-to-zero is seqc's setting only while it computes: each entry point puts the calling
    thread's back before it returns. Else a user's numpy arithmetic after model.fit would
    silently flush denormals to 0 (1e-38 * 1e-3 == 0). Each call below is followed by that
    product, in a fresh process; the models' own outputs are still flushed inside seqc."""
    script = textwrap.dedent("""
        import numpy as np
        from seqc import keras
        from seqc.keras.layers import Conv1D, Dense, Embedding, Flatten

        def denormal_ok(where):
            v = np.float32(1e-38) * np.float32(1e-3)     # 1e-41: a denormal float32, not 0
            assert v != 0, where + ": the calling thread flushes denormals after seqc returned"

        denormal_ok("before")
        m = keras.Sequential([keras.Input((2, 1)), Conv1D(1, 2, use_bias=False)])
        m.compile(optimizer="adam", loss="mse")
        m.set_weights([np.full((2, 1, 1), 1e-20, np.float32)])
        x = np.full((2, 2, 1), 1e-20, np.float32)
        y = m.predict(x, batch_size=2, verbose=0)
        assert not y.any(), y                            # inside seqc the product 2e-40 is flushed
        denormal_ok("predict")
        m.predict_on_batch(x); denormal_ok("predict_on_batch")
        m(x); denormal_ok("model(x)")
        m.fit(x, np.zeros((2, 1, 1), np.float32), epochs=2, verbose=0); denormal_ok("fit")
        m.evaluate(x, np.zeros((2, 1, 1), np.float32), verbose=0); denormal_ok("evaluate")
        m.train_on_batch(x, np.zeros((2, 1, 1), np.float32)); denormal_ok("train_on_batch")
        m.test_on_batch(x, np.zeros((2, 1, 1), np.float32)); denormal_ok("test_on_batch")
        # a row-sparse Embedding: get_weights brings the rows up to date in C (seqc_sync)
        e = keras.Sequential([keras.Input((3,)), Embedding(50, 4), Flatten(), Dense(1)])
        e.compile(optimizer="adam", loss="mse")
        e.fit(np.array([[1, 2, 3], [4, 5, 6]]), np.ones((2, 1), np.float32), verbose=0); denormal_ok("fit, sparse")
        e.get_weights(); denormal_ok("get_weights, sparse")
        print("ok")
    """)
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               SEQC_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok", r.stdout
