"""Public Keras Sequential scripts that others wrote (tests/wild/, each naming its source), with
only their data loading swapped for synthetic arrays of the same shapes and their epochs cut
(lines marked `seqc-test`): each runs under `seqc run` and must report finite losses.

A script's second header line says what is expected: `# seqc-wild: runs`, or
`# seqc-wild: xfail <what stops it>` (a feature seqc does not have yet; the test turns green
when it lands). tests/wild/README.md keeps the table."""
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WILD = ROOT / "tests" / "wild"
SCRIPTS = sorted(WILD.glob("*.py"))
LOSS = re.compile(r"\bloss: ([-+0-9.eE]+|nan|inf)")


def _status(path):
    for line in path.read_text().splitlines()[:5]:
        if line.startswith("# seqc-wild:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path.name}: no `# seqc-wild:` header line")


def _params():
    for path in SCRIPTS:
        status = _status(path)
        marks = [pytest.mark.xfail(reason=status[len("xfail"):].strip(), strict=False)] \
            if status.startswith("xfail") else []
        yield pytest.param(path, marks=marks, id=path.stem)


def test_every_script_names_its_source_and_marks_its_changes():
    assert len(SCRIPTS) >= 5
    for path in SCRIPTS:
        text = path.read_text()
        assert text.startswith("# Source: "), path.name
        assert "seqc-test" in text, path.name


@pytest.mark.parametrize("path", _params())
def test_script_trains_with_finite_loss(path, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               KERAS_HOME=str(tmp_path / "keras-home"))
    out = subprocess.run([sys.executable, "-m", "seqc", "run", str(path)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=900)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-3000:])
    losses = [float(v) for v in LOSS.findall(out.stdout)]
    assert losses, out.stdout[-2000:]
    assert all(math.isfinite(v) for v in losses), losses
