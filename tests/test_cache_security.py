"""The build cache and compiled packages as an attacker or an accident leaves them: private
directories, no symlink followed, libraries loaded only when their content matches the hash
recorded for them, compiler failures as one line, concurrent builds.

Anything that loads a damaged library runs in a subprocess (a truncated .so that got mapped
would kill the test process)."""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from seqc import build, cli
from seqc.errors import BuildError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")

C_A = "int seqc_probe(void) { return 1; }\n"
C_B = "int seqc_probe(void) { return 2; }\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("SEQC_CACHE_DIR", str(root))
    return root


def key_dir(cache, name, c, h=""):
    return cache / build.build_key(name, c, h, build.default_flags())


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def env_with(cache, **extra):
    env = dict(os.environ, SEQC_CACHE_DIR=str(cache), PYTHONPATH=ROOT, **extra)
    env.pop("SEQC_TRACEBACK", None)
    return env


def run_py(code, cache, timeout=300, **extra):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env_with(cache, **extra), timeout=timeout)


def run_seqc(args, cache, timeout=300, **extra):
    return subprocess.run([sys.executable, "-m", "seqc", *map(str, args)], capture_output=True, text=True,
                          env=env_with(cache, **extra), timeout=timeout)


# ---------------------------------------------------------------------------------------------
# directories: 0700 whatever the umask; another user's or a group-writable cache is refused
# ---------------------------------------------------------------------------------------------
def test_cache_and_key_dirs_are_private_whatever_the_umask(cache):
    old = os.umask(0o002)
    try:
        lib = build.build("m", C_A, "")
    finally:
        os.umask(old)
    d = os.path.dirname(lib)
    for path in (cache, d):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700, path
    for f in os.listdir(d):
        assert not os.lstat(os.path.join(d, f)).st_mode & 0o077, f


def test_group_writable_cache_is_refused_in_one_line(cache):
    build.build("m", C_A, "")
    os.chmod(cache, 0o775)
    with pytest.raises(BuildError, match="writable by group or others"):
        build.build("m", C_A, "")
    r = run_seqc(["compile", os.path.join(EXAMPLES, "mlp_softmax.py"), "-o", cache.parent / "out"], cache)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "writable by group or others" in r.stderr, r.stderr
    assert not (cache.parent / "out").exists()


def test_group_writable_key_dir_is_refused(cache):
    lib = build.build("m", C_A, "")
    os.chmod(os.path.dirname(lib), 0o770)
    with pytest.raises(BuildError, match="writable by group or others"):
        build.build("m", C_A, "")


def test_cache_of_another_user_is_refused(cache, monkeypatch):
    build.build("m", C_A, "")
    monkeypatch.setattr(build.os, "geteuid", lambda: os.getuid() + 4242)
    with pytest.raises(BuildError, match="owned by another user"):
        build.build("m", C_A, "")


def test_a_file_as_cache_is_refused(cache):
    cache.write_text("not a directory")
    with pytest.raises(BuildError):
        build.build("m", C_A, "")


# ---------------------------------------------------------------------------------------------
# symlinks inside the cache are never followed
# ---------------------------------------------------------------------------------------------
def test_planted_symlinks_in_a_key_dir_are_not_written_through(cache, tmp_path):
    d = key_dir(cache, "m", C_A)
    os.makedirs(d, mode=0o700)
    os.chmod(cache, 0o700)
    victims = {}
    for fname in ("m.c", "m.h", "libm.so", "libm.so.json", "build.log", ".lock"):
        victim = tmp_path / f"victim-{fname}"
        victim.write_text("precious\n")
        victims[fname] = victim
        os.symlink(victim, d / fname)
    lib = build.build("m", C_A, "")
    for fname, victim in victims.items():
        assert victim.read_text() == "precious\n", fname
        assert not os.path.islink(d / fname), fname
    assert stat.S_IMODE(os.lstat(d / ".lock").st_mode) == 0o600
    assert build.recorded_sha256(lib) == sha(lib)


def test_a_symlink_in_place_of_a_key_dir_is_replaced(cache, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    os.makedirs(cache, mode=0o700)
    os.symlink(elsewhere, key_dir(cache, "m", C_A))
    lib = build.build("m", C_A, "")
    assert os.listdir(elsewhere) == []
    assert not os.path.islink(os.path.dirname(lib)) and os.path.isdir(os.path.dirname(lib))


def test_a_symlinked_library_is_not_loaded(cache, tmp_path):
    lib = build.build("m", C_A, "")
    real = tmp_path / "real.so"
    shutil.copy(lib, real)
    os.unlink(lib)
    os.symlink(real, lib)
    with pytest.raises(BuildError, match="cannot open"):
        build.load(lib)


# ---------------------------------------------------------------------------------------------
# content hashes: bound to the key, checked before dlopen; a damaged library is rebuilt
# ---------------------------------------------------------------------------------------------
def test_library_of_another_key_is_rebuilt_not_used(cache):
    lib_a, lib_b = build.build("m", C_A, ""), build.build("m", C_B, "")
    good_b = sha(lib_b)
    # copy A's library and record over B's: the record names A's key
    shutil.copy(lib_a, lib_b)
    shutil.copy(lib_a + ".json", lib_b + ".json")
    assert build.recorded_sha256(lib_b) is None
    # and with the key rewritten to B's: the record's source is A's
    record = json.loads(open(lib_a + ".json").read())
    record["key"] = os.path.basename(os.path.dirname(lib_b))
    with open(lib_b + ".json", "w") as f:
        json.dump(record, f)
    assert build.build("m", C_B, "") == lib_b
    assert sha(lib_b) == good_b


def test_load_refuses_unrecorded_or_mismatching_libraries(cache, tmp_path):
    lib = build.build("m", C_A, "")
    stray = tmp_path / "libstray.so"
    shutil.copy(lib, stray)
    with pytest.raises(BuildError, match="no recorded content hash"):
        build.load(stray)
    with pytest.raises(BuildError, match="does not match"):
        build.load(stray, "0" * 64)


MODEL = """
    import sys, numpy as np
    from seqc import build
    from seqc.keras.layers import Dense
    from seqc.keras.models import Sequential
    m = Sequential([Dense(7, activation="tanh", input_dim=5), Dense({units}, activation="softmax")])
    m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    m.set_weights([np.full(w.shape, 0.1 * (i + 1), np.float32) for i, w in enumerate(m.get_weights())])
    p = m.predict(np.linspace(0, 1, 10).reshape(2, 5), verbose=0)
    lib = m._rt()._engine.lib_path
    print(lib)
    print(build.file_sha256(lib))
    print(repr(p.round(6).tolist()))
"""


def test_damaged_cached_library_is_rebuilt(cache):
    """Truncated to half (was SIGBUS at every later run), to zero (was an OSError traceback),
    overwritten in place: each time the next run rebuilds the library and gets the same result."""
    code = MODEL.format(units=3)
    first = run_py(code, cache)
    assert first.returncode == 0, first.stderr
    lib, digest, _ = first.stdout.splitlines()
    size = os.path.getsize(lib)
    for damage in ("half", "zero", "replaced"):
        with open(lib, "r+b") as f:
            if damage == "replaced":
                f.write(b"\0" * size)
            else:
                f.truncate(size // 2 if damage == "half" else 0)
        again = run_py(code, cache)
        assert again.returncode == 0, (damage, again.stderr)
        assert again.stdout == first.stdout, damage
        assert build.file_sha256(lib) == digest, damage


# ---------------------------------------------------------------------------------------------
# the compile memo names libraries relative to the cache, checked like any other
# ---------------------------------------------------------------------------------------------
def test_planted_memo_cannot_point_outside_the_cache(cache, tmp_path):
    from seqc.description import ModelDescription
    lib = build.build("m", C_A, "")
    m = ModelDescription(name="m", input_shape=(1,), output_shape=(1,))
    cli.memo_put("k" * 32, m, lib, "summary")
    desc, got, summary = cli.memo_get("k" * 32)
    assert got == lib and desc == m
    evil = tmp_path / "libevil.so"
    shutil.copy(lib, evil)
    for planted in (str(evil), [str(tmp_path), "libevil.so"], ["..", "libevil.so"],
                    [os.path.basename(os.path.dirname(lib)), "../../libevil.so"]):
        with open(cli._memo_path("k" * 32), "w") as f:
            json.dump({"desc": m.to_json(), "lib": planted, "summary": "s"}, f)
        assert cli.memo_get("k" * 32) is None, planted
    # a memo whose library no longer matches its record is a miss too
    cli.memo_put("k" * 32, m, lib, "summary")
    with open(lib, "r+b") as f:
        f.truncate(10)
    assert cli.memo_get("k" * 32) is None


# ---------------------------------------------------------------------------------------------
# compiled packages: a library named relative to the package, with its sha256
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("pkg")
    r = subprocess.run([sys.executable, "-m", "seqc", "compile", os.path.join(EXAMPLES, "mlp_softmax.py"),
                        "-o", out], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stderr
    return out / "mlp_softmax"


def test_package_records_library_name_and_hash(package):
    desc = json.loads((package / "model.json").read_text())
    assert desc["library"] == "libmlp_softmax.so"
    assert desc["library_sha256"] == sha(package / "libmlp_softmax.so")
    assert str(package.parent) not in (package / "model.json").read_text()


@pytest.mark.parametrize("library", ["/tmp/libx.so", "../libmlp_softmax.so", "sub/libx.so", "..", ""])
def test_package_refuses_library_paths(package, tmp_path, library):
    from seqc.package import load_model
    pkg = tmp_path / "p"
    shutil.copytree(package, pkg)
    desc = json.loads((pkg / "model.json").read_text())
    desc["library"] = library
    (pkg / "model.json").write_text(json.dumps(desc))
    with pytest.raises(BuildError, match="file name inside the package"):
        load_model(str(pkg))


def test_package_with_modified_library_is_one_clear_error(package, tmp_path, cache):
    pkg = tmp_path / "p"
    shutil.copytree(package, pkg)
    lib = pkg / "libmlp_softmax.so"
    with open(lib, "r+b") as f:
        f.truncate(os.path.getsize(lib) // 2)
    r = run_py(f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        from seqc.errors import BuildError
        try:
            import p; p.Model(seed=0)
        except BuildError as e:
            print("refused:", e)
    """, cache)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("refused:") and "does not match its recorded sha256" in r.stdout, r.stdout


def test_package_loads_and_predicts(package, cache):
    r = run_py(f"""
        import sys, numpy as np; sys.path.insert(0, {str(package.parent)!r})
        import mlp_softmax
        print(mlp_softmax.Model(seed=0).predict(np.zeros((2, 20)), verbose=0).shape)
    """, cache)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(2, 10)"


# ---------------------------------------------------------------------------------------------
# the compiler is never the error message
# ---------------------------------------------------------------------------------------------
def test_failing_compiler_is_one_line_with_the_log(cache, tmp_path):
    cc = tmp_path / "fakecc"
    cc.write_text("#!/bin/sh\necho 'model.c:1:1: error: boom' >&2\nexit 1\n")
    cc.chmod(0o755)
    r = run_seqc(["compile", os.path.join(EXAMPLES, "mlp_softmax.py"), "-o", tmp_path / "out"], cache,
                 CC=str(cc), SEQC_NO_MEMO="1")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "boom" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("seqc: internal error: the C compiler rejected the generated code for mlp_softmax; "
                               "build log: "), r.stderr
    log = r.stderr.strip().rsplit("build log: ", 1)[1]
    text = open(log).read()
    assert "error: boom" in text and str(cc) in text


def test_missing_compiler_is_one_line(cache, tmp_path):
    r = run_seqc(["compile", os.path.join(EXAMPLES, "mlp_softmax.py"), "-o", tmp_path / "out"], cache,
                 CC=str(tmp_path / "no-such-cc"), SEQC_NO_MEMO="1")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "cannot run the C compiler" in r.stderr, r.stderr


# ---------------------------------------------------------------------------------------------
# concurrency: 8 processes, two models, one fresh cache
# ---------------------------------------------------------------------------------------------
def test_eight_processes_build_the_same_and_different_models(cache):
    code = {units: textwrap.dedent(MODEL.format(units=units)) for units in (3, 4)}
    procs = [(units, subprocess.Popen([sys.executable, "-c", code[units]], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env_with(cache)))
             for units in (3, 4) * 4]
    results = {3: set(), 4: set()}
    for units, p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        results[units].add(out)
    assert len(results[3]) == 1 and len(results[4]) == 1, results
    (out3,), (out4,) = results[3], results[4]
    assert out3.splitlines()[1] != out4.splitlines()[1]
    for out in (out3, out4):
        lib, digest, _ = out.splitlines()
        assert build.file_sha256(lib) == digest == build.recorded_sha256(lib)
        leftovers = [f for f in os.listdir(os.path.dirname(lib)) if f.endswith(".tmp") or f.startswith(".build-")]
        assert leftovers == []
