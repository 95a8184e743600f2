"""For the few tests about thread counts: under pytest-xdist each worker runs one OpenMP thread
(tests/conftest.py), and OpenMP fixes its thread limit when it starts, so such a test runs
itself again in a child pytest with OMP_NUM_THREADS=2."""
import os
import subprocess
import sys


def rerun_with_two_threads(request):
    """True when this process cannot run 2 threads and the test was re-run in a child (which
    passed, or this raises); False when the caller should run the test itself."""
    if os.environ.get("OMP_NUM_THREADS") not in ("1",) or os.environ.get("SEQC_TWO_THREADS_CHILD"):
        return False
    env = dict(os.environ, OMP_NUM_THREADS="2", SEQC_TWO_THREADS_CHILD="1")
    env.pop("PYTEST_XDIST_WORKER", None)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                        f"{request.node.fspath}::{request.node.name}"], capture_output=True, text=True, env=env,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    return True
