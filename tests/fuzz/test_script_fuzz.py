"""The script fuzzer: mutated tutorial scripts through `seqc compile` and `seqc summary`.

Each outcome must be exit status 0, or a one-line error (`FILE:LINE: message` or `seqc: ...`):
never a Python traceback, never the C compiler's diagnostics, never a hang (60 s), never a
crash. The scripts run in a child process (script_runner.py) one after another; a child that
dies or hangs marks that script and a new child goes on with the next.

Bounded by default; SEQC_FUZZ_LONG=1 runs >= 2,000 scripts. The C is built at -O0
(SEQC_CFLAGS=-O0): what the compiler accepts does not depend on the optimisation level, and
the fuzzer is about the error paths, not speed.
"""
import json
import os
import random
import re
import select
import subprocess
import sys
import time

import pytest

from fuzz_summary import LONG, record
from script_mutations import mutate

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = sorted(os.path.join(ROOT, "examples", f) for f in os.listdir(os.path.join(ROOT, "examples"))
                  if f.endswith(".py"))
TIMEOUT = int(os.environ.get("SEQC_FUZZ_TIMEOUT", "60"))   # seconds a script may take

pytestmark = pytest.mark.fuzz

CLEAN_ERROR = re.compile(r"[^\n]+:\d+: \S[^\n]*|seqc: \S[^\n]*")
COMPILER_TEXT = re.compile(r"\.[ch]:\d+(:\d+)?: (fatal )?(error|warning|note):|collect2|undefined reference|"
                           r"^\s*\d+ \| |In function '|compilation terminated", re.M)
EXTRA_ARGS = [[], [], [], [], ["--name", "n" * 300], ["--name", "a-b"], ["--name", "ünï"], ["-D", "x=__import__('os')"],
              ["-D", "batch_size=10**30"], ["--seq-len", "0"], ["--seq-len", "2**40"]]


def make_jobs(tmp_path, count, seed):
    rng = random.Random(seed)
    sources = {p: open(p, encoding="utf-8").read() for p in EXAMPLES}
    jobs = []
    for i in range(count):
        origin = rng.choice(EXAMPLES)
        text, edits = mutate(sources[origin], rng)
        path = tmp_path / f"case{i:05d}_{os.path.basename(origin)}"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        command = "compile" if rng.random() < 0.35 else "summary"
        argv = [command, str(path)]
        if command == "compile":
            argv += ["-o", str(tmp_path / "out")] + rng.choice(EXTRA_ARGS)
        jobs.append({"argv": argv, "origin": os.path.basename(origin), "edits": edits})
    return jobs


def classify(result, script):
    """ok / clean_error, or what is wrong: traceback, compiler_text, messy_error, hang, crash."""
    if result.get("status") in ("hang", "crash"):
        return result["status"]
    if result["exc"] == "hang":
        return "hang"
    text = result["out"] + result["err"]
    if result["exc"] is not None or "Traceback (most recent call last)" in text:
        return "traceback"
    if COMPILER_TEXT.search(result["err"]):
        return "compiler_text"
    if result["rc"] == 0:
        return "ok"
    lines = [l for l in result["err"].splitlines() if l.strip() and not l.startswith("usage:")
             and not l.startswith("       seqc ")]
    # (an error about the whole file, e.g. unreadable, has no line: `FILE: message`)
    clean = len(lines) == 1 and (CLEAN_ERROR.fullmatch(lines[0]) or lines[0].startswith(script + ": "))
    return "clean_error" if clean else "messy_error"


def run_jobs(jobs, jobs_file, env):
    """Results in job order; a child that dies or hangs gives that job a 'crash' / 'hang'."""
    with open(jobs_file, "w") as f:
        json.dump(jobs, f)
    results, start = [], 0
    while start < len(jobs):
        child = subprocess.Popen([sys.executable, os.path.join(HERE, "script_runner.py"), jobs_file, str(start)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 errors="replace")
        current, deadline = None, time.monotonic() + 120
        while True:
            ready, _, _ = select.select([child.stdout], [], [], 1.0)
            if ready:
                line = child.stdout.readline()
                if not line:                       # the child ended
                    break
                if line.startswith("START "):
                    current, deadline = int(line.split()[1]), time.monotonic() + TIMEOUT + 30
                elif line.startswith("RESULT "):
                    results.append(json.loads(line[len("RESULT "):]))
                    current = None
            elif time.monotonic() > deadline:
                child.kill()
                break
        child.wait()
        stderr = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
        if current is None:
            if results and results[-1]["i"] == len(jobs) - 1:
                break
            current = len(results) and results[-1]["i"] + 1
        status = "hang" if time.monotonic() > deadline else "crash"
        results.append({"i": current, "status": status, "rc": child.returncode, "out": "", "err": stderr[-3000:],
                        "exc": None})
        start = current + 1
    return results


@pytest.mark.parametrize("seed", [7, 8, 9, 10] if LONG else [7])
def test_mutated_scripts_give_status_zero_or_one_clean_line(tmp_path, seed):
    count = 520 if LONG else 24
    jobs = make_jobs(tmp_path, count, seed)
    env = dict(os.environ, PYTHONPATH=ROOT, SEQC_CFLAGS="-O0", SEQC_FUZZ_TIMEOUT=str(TIMEOUT))
    env.pop("SEQC_TRACEBACK", None)
    results = run_jobs(jobs, str(tmp_path / "jobs.json"), env)
    counts, bad = {}, []
    for r in results:
        kind = classify(r, jobs[r["i"]]["argv"][1])
        counts[kind] = counts.get(kind, 0) + 1
        if kind not in ("ok", "clean_error"):
            bad.append((kind, jobs[r["i"]], (r["exc"] or r["err"])[-600:]))
    record("scripts", counts)
    assert len(results) == count
    assert not bad, f"{len(bad)} of {count} scripts:\n" + "\n\n".join(
        f"[{kind}] seqc {' '.join(a[:80] for a in job['argv'][:1])} {job['origin']} {job['edits']}\n{text}"
        for kind, job, text in bad[:15])
