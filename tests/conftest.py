"""Test session setup: a private build cache, -O1 builds and a bounded OpenMP thread count.

SEQC_CACHE_DIR is pointed at a fresh temporary directory (removed at the end of the session)
only when the caller has not chosen one: set it yourself to reuse compiled models between
runs. OMP_NUM_THREADS gets a default only when it is unset; an explicit value is kept.
"""
import os
import shutil
import tempfile

_OWN_CACHE = None
if not os.environ.get("SEQC_CACHE_DIR"):
    _OWN_CACHE = tempfile.mkdtemp(prefix="seqc-test-cache-")
    os.environ["SEQC_CACHE_DIR"] = _OWN_CACHE

# The suite compiles its few thousand small models at -O1: a third of -O3's compile time, which
# is most of the suite's. tests/test_release_build.py builds the tutorial models with the
# shipping flags (-O3) and checks them against the goldens. An explicit SEQC_OPT is kept.
os.environ.setdefault("SEQC_OPT", "-O1")

if not os.environ.get("OMP_NUM_THREADS") or os.environ.get("SEQC_TEST_OMP_DEFAULT"):
    # two threads in one process; one each when pytest-xdist runs two worker processes (the
    # README's command: `-n 2` in pyproject.toml), so that two workers share the two cores
    os.environ["SEQC_TEST_OMP_DEFAULT"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2"


def pytest_terminal_summary(terminalreporter):
    """After the tests: how far seqc is from the Keras goldens (when those tests ran)."""
    import sys
    for name in ("test_golden", "test_convx_golden", "test_user_layers"):
        module = sys.modules.get(name) or sys.modules.get("tests." + name)
        text = module.golden_summary() if module is not None else ""
        if text:
            terminalreporter.write_line(text)


def pytest_unconfigure(config):
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
