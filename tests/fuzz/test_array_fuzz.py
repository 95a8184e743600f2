"""The array fuzzer (array_cases.py) in subprocesses: every malformed input to fit / evaluate /
predict / *_on_batch of an MLP, a convnet and an Embedding+LSTM is a ValueError/TypeError or
a correct result; never another exception, never a crash of the process.

Bounded by default; SEQC_FUZZ_LONG=1 runs >= 2,000 cases (4 processes x 600)."""
import json
import os
import subprocess
import sys

import pytest

from fuzz_summary import LONG, record

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

pytestmark = pytest.mark.fuzz
pytest.importorskip("hypothesis")

SEEDS = [11, 12, 13, 14] if LONG else [11]
EXAMPLES = 600 if LONG else 120


@pytest.mark.parametrize("seed", SEEDS)
def test_malformed_arrays_are_clean_errors_or_correct(seed):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.setdefault("OMP_NUM_THREADS", "2")
    try:
        r = subprocess.run([sys.executable, os.path.join(HERE, "array_cases.py"), "--examples", str(EXAMPLES),
                            "--seed", str(seed)], env=env, capture_output=True, text=True, errors="replace",
                           timeout=3600 if LONG else 600)
    except subprocess.TimeoutExpired as e:
        record("arrays", {"hangs": 1})
        last = [l for l in (e.stdout or b"").decode(errors="replace").splitlines() if l.startswith("CASE ")][-1:]
        pytest.fail(f"the array fuzzer hung; last case: {last}")
    cases = [l for l in r.stdout.splitlines() if l.startswith("CASE ")]
    summary = [json.loads(l[len("SUMMARY "):]) for l in r.stdout.splitlines() if l.startswith("SUMMARY ")]
    counts = summary[-1] if summary else {}
    if r.returncode < 0:
        record("arrays", {**counts, "crashes": 1})
        pytest.fail(f"the process died with signal {-r.returncode} on {cases[-1] if cases else '?'}\n"
                    f"{r.stderr[-3000:]}")
    record("arrays", {**counts, "failures": int(r.returncode != 0)})
    # hypothesis prints the (shrunk) falsifying case and the error
    assert r.returncode == 0, f"{r.stderr[-6000:]}"
    assert sum(counts.values()) >= EXAMPLES * 0.9, counts    # the cases really ran
