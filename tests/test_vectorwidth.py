"""The vector width chosen per host (seqc/vectorwidth.py): the rule, the measurement, its cache
and the override, and that the choice reaches the compiler flags (and so the build key)."""
import json
import os

import pytest

from seqc import build, vectorwidth


def _preferred(macros, cache, monkeypatch, measured=None):
    if measured is not None:
        monkeypatch.setattr(vectorwidth, "measure", lambda cc, flags: measured)
    monkeypatch.setenv("SEQC_CACHE_DIR", str(cache))
    return vectorwidth.preferred(build.compiler(), ["-march=native"], macros, "cc 1.0", build.cache_subdir,
                                 build.read_private, build.write_private)


def test_rule():
    assert vectorwidth.choose(100.0, 200.0) == 512      # two 512-bit FMA units
    assert vectorwidth.choose(100.0, 100.0) == 512      # 512-bit on 256-bit units (Zen4): fewer instructions
    assert vectorwidth.choose(100.0, 90.0) == 512
    assert vectorwidth.choose(100.0, 85.0) == 256       # a core that lowers its clock for 512-bit vectors


def test_no_avx512_keeps_the_compilers_choice(tmp_path, monkeypatch):
    monkeypatch.delenv("SEQC_VECTOR_WIDTH", raising=False)
    monkeypatch.setattr(vectorwidth, "measure", lambda cc, flags: pytest.fail("measured without AVX-512"))
    assert _preferred("#define __AVX2__ 1\n", tmp_path, monkeypatch) is None
    assert _preferred("#define __ARM_NEON 1\n", tmp_path, monkeypatch) is None


def test_measured_once_then_cached(tmp_path, monkeypatch):
    monkeypatch.delenv("SEQC_VECTOR_WIDTH", raising=False)
    macros = "#define __AVX512F__ 1\n"
    assert _preferred(macros, tmp_path, monkeypatch, measured=(80.0, 160.0)) == 512
    files = os.listdir(tmp_path / "host")
    assert len(files) == 1
    record = json.loads((tmp_path / "host" / files[0]).read_text())
    assert record["width"] == 512 and record["gflops512"] == 160.0
    monkeypatch.setattr(vectorwidth, "measure", lambda cc, flags: pytest.fail("measured again"))
    assert _preferred(macros, tmp_path, monkeypatch) == 512
    (tmp_path / "host" / files[0]).write_text("not json")          # a damaged record: measured again
    assert _preferred(macros, tmp_path, monkeypatch, measured=(80.0, 60.0)) == 256
    # the rule applies to the cached throughputs, not to a width an older rule wrote
    (tmp_path / "host" / files[0]).write_text(json.dumps({"gflops256": 117.5, "gflops512": 117.4, "width": 256}))
    monkeypatch.setattr(vectorwidth, "measure", lambda cc, flags: pytest.fail("measured again"))
    assert _preferred(macros, tmp_path, monkeypatch) == 512
    (tmp_path / "host" / files[0]).write_text(json.dumps({"width": 512}))   # no throughputs: measured again
    assert _preferred(macros, tmp_path, monkeypatch, measured=(80.0, 60.0)) == 256


def test_override(tmp_path, monkeypatch):
    monkeypatch.setattr(vectorwidth, "measure", lambda cc, flags: pytest.fail("measured despite the override"))
    for width in ("256", "512"):
        monkeypatch.setenv("SEQC_VECTOR_WIDTH", width)
        assert _preferred("#define __AVX512F__ 1\n", tmp_path, monkeypatch) == int(width)


def test_measurement_on_this_host():
    """vector_width.c builds and runs anywhere gcc's vector extensions do (without AVX-512 the
    512-bit chains are emulated): two positive throughputs."""
    arch = ["-march=native"] if build._probe(("-march=native",)) is not None else []
    measured = vectorwidth.measure(build.compiler(), arch)
    assert measured is not None
    g256, g512 = measured
    assert g256 > 1.0 and g512 > 1.0


def test_flag_reaches_the_build(monkeypatch):
    """SEQC_VECTOR_WIDTH reaches the flags where the compiler takes -mprefer-vector-width (x86),
    and nothing is added where it does not (ARM); SEQC_CFLAGS replaces the choice."""
    monkeypatch.delenv("SEQC_CFLAGS", raising=False)
    arch = ("-march=native",) if build._probe(("-march=native",)) is not None else ()
    try:
        for width in ("256", "512"):
            monkeypatch.setenv("SEQC_VECTOR_WIDTH", width)
            build.default_flags.cache_clear()
            takes_it = build._probe(arch + (f"-mprefer-vector-width={width}",)) is not None
            assert (f"-mprefer-vector-width={width}" in build.default_flags()) == takes_it
        monkeypatch.setenv("SEQC_CFLAGS", "-O2")       # the whole arch part replaced
        build.default_flags.cache_clear()
        assert not any(f.startswith("-mprefer-vector-width") for f in build.default_flags())
    finally:
        monkeypatch.undo()
        build.default_flags.cache_clear()
