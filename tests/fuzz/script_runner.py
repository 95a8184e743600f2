"""Child process of the script fuzzer: runs `seqc compile|summary SCRIPT` in this process for
each job of a JSON file, one after another, and prints one line per job:

    START i
    RESULT {"i": i, "rc": exit status, "out": stdout, "err": stderr, "exc": escaped exception or null}

An exception escaping seqc's main is reported as `exc` (an internal traceback); SIGALRM after
`--timeout` seconds stops a job that hangs in Python code (a hang inside one C call, e.g. a huge
bigint product, is ended by the parent, which sees START without RESULT). The address space is
capped (`--max-gb`) so that a runaway allocation is a MemoryError, not a machine out of memory.

    python tests/fuzz/script_runner.py JOBS.json START_INDEX
"""
import contextlib
import io
import json
import os
import resource
import signal
import sys
import traceback


class Hang(BaseException):
    """A script that ran past its time (raised by the alarm)."""


def _alarm(signum, frame):
    raise Hang()


def run_job(job, timeout):
    from seqc import cli
    out, err = io.StringIO(), io.StringIO()
    exc = None
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(job["argv"])
    except Hang:
        rc, exc = None, "hang"
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except BaseException as e:  # noqa: BLE001 - the fuzzer reports it
        rc = None
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        exc = "".join(tb[-3:])[-2000:]
    finally:
        signal.alarm(0)
    return {"rc": rc, "out": _clip(out.getvalue()), "err": _clip(err.getvalue()), "exc": exc}


def _clip(text, keep=3000):
    """Head and tail of a long text (a message's first line must stay whole to be judged)."""
    return text if len(text) <= 2 * keep else text[:keep] + f"[... {len(text) - 2 * keep} characters ...]" + text[-keep:]


def main():
    jobs_file, start = sys.argv[1], int(sys.argv[2])
    timeout = int(os.environ.get("SEQC_FUZZ_TIMEOUT", "60"))
    max_gb = float(os.environ.get("SEQC_FUZZ_MAX_GB", "4"))
    limit = int(max_gb * 2 ** 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(3000)
    with open(jobs_file) as f:
        jobs = json.load(f)
    for i in range(start, len(jobs)):
        print("START", i, flush=True)
        result = run_job(jobs[i], timeout)
        result["i"] = i
        print("RESULT", json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    main()
