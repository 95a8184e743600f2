"""One model shared by Python threads (issue 14): calls into one model are serialised, so
concurrent predict / fit / evaluate / train_on_batch give the single-threaded results and never
crash. Each part runs tests/thread_stress.py in a subprocess: a crash (a negative return code)
fails the test instead of killing pytest."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@pytest.mark.parametrize("part", ["same", "growing", "fit", "open"])
def test_threads_sharing_a_model(part):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    r = subprocess.run([sys.executable, os.path.join(HERE, "thread_stress.py"), part], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0, f"return code {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}"
    assert f"OK {part}" in r.stdout
