"""The build step: cache hits, compiler errors surfaced, flags."""
import os

import pytest

from seqc import build
from seqc.errors import BuildError
from seqc.keras.layers import Dense
from seqc.keras.models import Sequential


def _model():
    m = Sequential([Dense(5, activation="tanh", input_dim=3), Dense(2, activation="softmax")])
    m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return m


def test_unchanged_model_is_not_rebuilt(monkeypatch):
    _model()
    calls = []
    real_run = build.subprocess.run

    def spy(cmd, *a, **k):
        if "-shared" in cmd:
            calls.append(cmd)
        return real_run(cmd, *a, **k)

    monkeypatch.setattr(build.subprocess, "run", spy)
    _model()
    assert calls == []


def test_compiler_failure_is_one_line_naming_the_build_log(tmp_path, monkeypatch):
    """Generated C the compiler rejects is seqc's bug: one line pointing at the build log,
    which holds the compiler's own message; no library is left behind."""
    monkeypatch.setenv("SEQC_CACHE_DIR", str(tmp_path))
    with pytest.raises(BuildError) as e:
        build.build("broken", "int f(void) { return undefined_name; }\n", "")
    message = str(e.value)
    assert message.startswith("internal error: the C compiler rejected the generated code for broken; build log: ")
    assert "\n" not in message and "undefined_name" not in message
    log = message.rsplit("build log: ", 1)[1]
    assert "undefined_name" in open(log).read()
    assert not [f for f in os.listdir(next(tmp_path.iterdir())) if f.endswith(".so")]


def test_flags_have_optimisation_and_warnings(monkeypatch):
    monkeypatch.delenv("SEQC_OPT", raising=False)        # what ships (the suite runs at -O1)
    flags = build.default_flags()
    assert "-O3" in flags and "-Wall" in flags and "-Wextra" in flags
    monkeypatch.setenv("SEQC_OPT", "-O1")
    assert "-O1" in build.default_flags() and "-O3" not in build.default_flags()
    monkeypatch.setenv("SEQC_OPT", "-O9; rm -rf /")
    with pytest.raises(BuildError, match="SEQC_OPT"):
        build.default_flags()


def test_portable_flags_build_and_agree(monkeypatch, tmp_path):
    """A build for the generic x86-64 / plain target gives the same predictions."""
    import numpy as np
    m = _model()
    x = np.random.default_rng(0).random((7, 3))
    ref = m.predict(x, verbose=0)
    monkeypatch.setenv("SEQC_CFLAGS", "-mtune=generic")
    build.default_flags.cache_clear()
    try:
        m2 = Sequential([Dense(5, activation="tanh", input_dim=3), Dense(2, activation="softmax")])
        m2.compile("adam", "categorical_crossentropy")
        assert "-march=native" not in build.default_flags()
        m2.set_weights(m.get_weights())
        np.testing.assert_allclose(m2.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-6)
    finally:
        build.default_flags.cache_clear()
