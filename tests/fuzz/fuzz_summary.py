"""The fuzzers' counts of one test run, printed by conftest.py at the end (the long mode's record)."""
import os

LONG = bool(os.environ.get("SEQC_FUZZ_LONG"))
COUNTS = {}


def record(fuzzer, counts):
    total = COUNTS.setdefault(fuzzer, {})
    for k, v in counts.items():
        total[k] = total.get(k, 0) + v
