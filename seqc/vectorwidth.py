"""The SIMD width seqc's kernels are compiled for, chosen per host by measurement.

seqc's kernels are written for the compiler's auto-vectoriser and gcc's vector extensions, so the
vector width is the compiler's choice, and gcc's `-march=native` on most AVX-512 cores prefers
256-bit vectors. On a core with two 512-bit FMA units that leaves half the machine unused. On
Zen4 (512-bit instructions on 256-bit units) the FMA peak is the same at both widths, yet the
512-bit build trains faster: half the instructions and loads for the same work, and the GEMM's
8-row tile (16 accumulators) instead of the 6-row one of 16-register targets (measured on a Zen4
host, C training step: MLP 0.60x the 256-bit build's time, stacked LSTM 0.73x, Embedding+LSTM
0.77x, Conv1D 0.89x, VGG 0.93x). Where 512-bit vectors cost is a core that lowers its clock for
them. So when the target has AVX-512, seqc measures once: `vector_width.c` times FMA chains at
both widths on one thread, and 512-bit vectors are preferred (`-mprefer-vector-width=512`)
unless their throughput falls below `SLOWER` times the 256-bit one. The measurement is cached
per CPU model and compiler in the build cache (`host/vector-width-<key>.json`; the rule is
applied to the cached throughputs, so a change of rule needs no new measurement) and the flag is
part of every build key. Other targets (no AVX-512, ARM NEON/SVE) keep the compiler's own
choice. `SEQC_VECTOR_WIDTH=256|512` overrides the measurement; `SEQC_CFLAGS` replaces the whole
arch part (and with it this choice).
"""
import hashlib
import json
import os
import platform
import subprocess
import tempfile

SLOWER = 0.9          # 512-bit FMA throughput, over 256-bit, below which the wider vectors lose
_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vector_width.c")


def choose(gflops256, gflops512):
    """512 unless the measured 512-bit FMA throughput is below SLOWER x the 256-bit one."""
    return 512 if gflops512 >= SLOWER * gflops256 else 256


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model name")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(cc, arch_flags):
    """(gflops256, gflops512) from building and running vector_width.c, or None on failure."""
    with tempfile.TemporaryDirectory(prefix="seqc-vw-") as tmp:
        exe = os.path.join(tmp, "vector_width")
        try:
            r = subprocess.run([cc, "-O2", *arch_flags, "-ffp-contract=fast", _SOURCE, "-o", exe],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                return None
            r = subprocess.run([exe], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        try:
            kv = dict(item.split("=", 1) for item in r.stdout.split())
            return float(kv["gflops256"]), float(kv["gflops512"])
        except (KeyError, ValueError):
            return None


def preferred(cc, arch_flags, macros, compiler_id, cache_subdir, read_private, write_private):
    """The vector width to prefer (512 or 256), or None to leave the compiler's choice.

    `macros`: the compiler's predefined macros for `arch_flags`; the cache functions are
    build.py's (a private directory, files read without following links)."""
    forced = os.environ.get("SEQC_VECTOR_WIDTH", "")
    if forced in ("256", "512"):
        return int(forced)
    if "__AVX512F__" not in (macros or ""):
        return None
    key = hashlib.sha256("\0".join([cpu_model(), compiler_id, " ".join(arch_flags)]).encode()).hexdigest()[:16]
    path = os.path.join(cache_subdir("host"), f"vector-width-{key}.json")
    cached = read_private(path)
    if cached is not None:
        try:
            record = json.loads(cached)
            return choose(float(record["gflops256"]), float(record["gflops512"]))
        except (ValueError, TypeError, KeyError):
            pass
    measured = measure(cc, arch_flags)
    if measured is None:
        return None
    width = choose(*measured)
    write_private(path, json.dumps({"cpu": cpu_model(), "compiler": compiler_id, "gflops256": measured[0],
                                    "gflops512": measured[1], "width": width}).encode())
    return width
