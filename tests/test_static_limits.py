"""The static front end bounds its work, and file-system inputs are clean errors.

Hostile scripts (bigint growth, power chains, huge strings and formats, self-nesting lists,
deep expressions, long and exponential loops) end in one `FILE:LINE: message` within a few
seconds, or, where the value is never used by the model, do not stop the compile. Odd inputs
to the command line (a FIFO, /dev/zero, a 300-character --name, an output path that cannot be
created, a file name that is not UTF-8) give one clean line and a non-zero exit, in a subprocess."""
import os
import subprocess
import sys
import time

import pytest

from seqc.errors import SeqcError
from seqc.frontend.ast_frontend import parse_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "from keras.models import Sequential\nfrom keras.layers import Dense\n"
SECONDS = 20          # generous: the check is "bounded", on a loaded machine


def _parse(tmp_path, text, name="m.py"):
    path = tmp_path / name
    path.write_text(text)
    start = time.monotonic()
    try:
        return parse_model(str(path)), None
    except SeqcError as e:
        return None, e
    finally:
        assert time.monotonic() - start < SECONDS


@pytest.mark.parametrize("code, line, words", [
    ("x = 3\nfor i in range(100):\n    x = x * x\n", 3, "too large for a static evaluation"),
    ("x = 9 ** 9999\n", 1, "too large"),
    ("x = 2 ** 64 * 2 ** 64\n", 1, "too large"),
    ("x = 1 << 100000\n", 1, "too large"),
    ("x = pow(7, 10**6)\n", 1, "too large"),
    ("x = 'ab' * 10**7\n", 1, "too large"),
    ("x = [0] * 10**7\n", 1, "too large"),
    ("x = len(f'{1:>999999999}')\n", 1, "too large"),
    ("x = len('x'.ljust(10**12))\n", 1, "too large"),
    ("x = len('%999999999d' % 1)\n", 1, "too large"),
    ("x = len('{:>999999999}'.format(1))\n", 1, "too large"),
    ("a = [1]\nfor i in range(40):\n    a = [a, a]\nx = len(str(a))\n", 4, "too large"),
])
def test_values_too_large_to_compute_are_errors_where_used(tmp_path, code, line, words):
    model, err = _parse(tmp_path, code + MODEL + "model = Sequential([Dense(x, input_shape=(3,))])\n")
    assert err is not None and err.loc.line == line and words in err.message, err
    model, err = _parse(tmp_path, code + MODEL + "model = Sequential([Dense(2, input_shape=(3,))])\n")
    assert err is None and len(model.layers) == 1      # never used by the model: harmless


@pytest.mark.parametrize("code, line", [
    ("x = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n", 1),
    ("x = " + "-" * 100_000 + "1\n", 1),
    ("x = " + "+".join(["1"] * 100_000) + "\n", 1),
    ("y = 0\nx = " + "[" * 5_000 + "]" * 5_000 + "\n", 2),
    ("x = " + "+".join(["1"] * 500) + "\n", 1),
    ("x = " + "not " * 300 + "1\n", 1),
])
def test_deep_nesting_is_a_clean_error(tmp_path, code, line):
    model, err = _parse(tmp_path, code + MODEL + "model = Sequential([Dense(2, input_shape=(3,))])\n")
    assert err is not None and err.loc.line == line and err.loc.file.endswith("m.py"), err


def test_long_loop_that_does_not_build_the_model_is_skipped(tmp_path):
    code = ("n = 0\nfor i in range(100000):\n    for j in range(100000):\n        n += 1\nunits = 4\n" + MODEL +
            "model = Sequential([Dense(units, input_shape=(3,))])\n")
    model, err = _parse(tmp_path, code)
    assert err is None and model.layers[0].units == 4
    model, err = _parse(tmp_path, code.replace("Dense(units,", "Dense(n,"))
    assert err is not None and err.loc.line == 8 and "for loop at line 2" in err.message, err


def test_long_loop_that_builds_the_model_names_the_loop_and_suggests_seqc_run(tmp_path):
    code = (MODEL + "model = Sequential([Dense(2, input_shape=(3,))])\nfor i in range(100000):\n"
            "    for j in range(3):\n        x = [k for k in range(3)]\n    if i > 10**9:\n        model.add(Dense(2))\n")
    model, err = _parse(tmp_path, code)
    assert err is not None and err.loc.line == 4, err
    assert "`for` loop runs too long" in err.message and "seqc run m.py" in err.message and "-D" not in err.message


def test_data_dependent_loop_that_builds_the_model_suggests_seqc_run(tmp_path):
    code = ("import sys\n" + MODEL + "model = Sequential([Dense(2, input_shape=(3,))])\n"
            "for i in range(int(sys.argv[1])):\n    model.add(Dense(2))\n")
    model, err = _parse(tmp_path, code)
    assert err is not None and err.loc.line == 5 and "seqc run m.py" in err.message, err


@pytest.mark.parametrize("code", [
    "f = lambda n: f(n - 1) + f(n - 1) if n else 1\nx = f(50)\n",
    "def f(n):\n    return 1 if n == 0 else f(n - 1) + f(n - 1)\nx = f(50)\n",
    "x = sum(sum(range(1000)) for i in range(1000) for j in range(1000))\n",
    "while True:\n    model_size = 1\n",
])
def test_exponential_or_endless_work_is_bounded(tmp_path, code):
    model, err = _parse(tmp_path, code + MODEL + "model = Sequential([Dense(2, input_shape=(3,))])\n")
    assert err is None or err.loc.line is not None, err


def test_too_many_layers(tmp_path):
    code = MODEL + "model = Sequential([Dense(2, input_shape=(3,))])\nfor i in range(100000):\n    model.add(Dense(2))\n"
    model, err = _parse(tmp_path, code)
    assert err is not None and err.loc.line == 5 and "layers" in err.message, err


# ---------------------------------------------------------------------------------------------
# file-system inputs, through the command line
# ---------------------------------------------------------------------------------------------
def seqc(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "seqc", *args], capture_output=True, env=env, cwd=cwd,
                          timeout=120)


def one_clean_line(r):
    err = r.stderr.decode("utf-8", "replace").strip()
    assert r.returncode == 1 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("command", ["compile", "summary", "run"])
def test_fifo_and_device_are_refused_without_reading(tmp_path, command):
    fifo = tmp_path / "model.py"
    os.mkfifo(fifo)
    for target in (str(fifo), "/dev/zero"):
        assert "not a regular file" in one_clean_line(seqc(command, target))


def test_too_large_script_is_refused(tmp_path):
    big = tmp_path / "big.py"
    big.write_bytes(b"#" * 11_000_000)
    assert "too large" in one_clean_line(seqc("summary", str(big)))


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(MODEL + "model = Sequential([Dense(2, input_shape=(3,))])\nmodel.compile('sgd', 'mse')\n")
    return path


def test_long_name_and_uncreatable_output_are_one_line(tmp_path, model_file):
    assert "--name" in one_clean_line(seqc("compile", str(model_file), "--name", "a" * 300, "-o", str(tmp_path)))
    assert "cannot create" in one_clean_line(seqc("compile", str(model_file), "-o", str(model_file / "out")))
    long_stem = tmp_path / ("b" * 240 + ".py")
    long_stem.write_text(model_file.read_text())
    r = seqc("compile", str(long_stem), "-o", str(tmp_path / "out"))   # the default name is shortened
    assert r.returncode == 0, r.stderr


def test_non_utf8_file_name(tmp_path, model_file):
    name = os.path.join(os.fsencode(tmp_path), b"m_\xff*_.py")
    with open(name, "wb") as f:
        f.write(model_file.read_bytes())
    for args in (["summary"], ["compile", "-o", str(tmp_path / "out")], ["run"]):
        r = subprocess.run([sys.executable, "-m", "seqc", *[os.fsencode(a) for a in args[:1]], name,
                            *[os.fsencode(a) for a in args[1:]]], capture_output=True, timeout=300,
                           env=dict(os.environ, PYTHONPATH=ROOT))
        assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr
    bad = os.path.join(os.fsencode(tmp_path), b"bad_\xff.py")
    with open(bad, "wb") as f:
        f.write(b"x = (\n")
    r = subprocess.run([sys.executable, "-m", "seqc", b"summary", bad], capture_output=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    one_clean_line(r)
