#!/usr/bin/env python
"""Two checkouts of seqc on one benchmark model's training step, timed alternately in one process.

    python benchmarks/ab.py CHECKOUT_A CHECKOUT_B MODEL [--rounds N] [--steps N] [--threads N]

On a shared host the machine's speed drifts by tens of per cent over seconds (on the 2-core
cloud hosts seqc is developed on, the same kernel ran at 90 and at 160 GFLOP/s minutes apart),
so timing one build and then the other measures the host as much as the change. Here each
checkout builds MODEL (the seqc side of a model in run.py's registry, `run.py --list`) from its
own sources, and benchmarks/ab_step.c loads both libraries into one process and times
`seqc_train` on the same batch from the same weights: STEPS steps of each, ROUNDS times, A first
in even rounds and B first in odd ones. It prints the mean and the best per-step time of each
and B / A; and does so twice, the libraries loaded in either order (in A/A runs the library
loaded second has run up to 5% slower: its code and buffers lie elsewhere), then prints the
geometric mean of the two ratios. A run of one checkout against itself shows the noise floor.

    python benchmarks/ab.py ../seqc-main . conv1d --rounds 30 --steps 30
    python benchmarks/ab.py . . vgg --env-b SEQC_VECTOR_WIDTH=512   # one checkout, two builds
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import run           # benchmarks/run.py, beside this script: bench_cc

HERE = os.path.dirname(os.path.abspath(__file__))

# Run in a child process with the checkout first on sys.path: builds the model, trains it on one
# batch (which builds its training library) and writes what ab_step needs into OUT.
_BUILD = r"""
import json, os, shutil, sys
import numpy as np
out, here, name = sys.argv[1:4]
sys.path.insert(0, here)
import run
import seqc, seqc.keras
from seqc.keras.utils import set_random_seed
bench = run.MODELS[name]
set_random_seed(run.SEED)
model = bench.seqc_build(seqc.keras)
x, y = bench.seqc_xy(bench.make_data(max(bench.batch_size, bench.row_multiple), run.SEED))
weights = model.get_weights()
rt = model._rt(x[:1])
seen = {}
train = rt._engine.train
def record(x, y, idx, batch, sw=None):
    seen.update(x=x, y=y, idx=idx, batch=batch)
    return train(x, y, idx, batch, sw)
rt._engine.train = record
model.fit(x[:bench.batch_size], y[:bench.batch_size], batch_size=bench.batch_size, epochs=1, verbose=0, shuffle=False)
engine = rt._engine
rows = seen["idx"][:seen["batch"]]
bx, by = np.ascontiguousarray(seen["x"][rows]), np.ascontiguousarray(seen["y"][rows])
assert bx.dtype == np.float32 and by.dtype == np.float32, (bx.dtype, by.dtype)
model.set_weights(weights)
engine.sync()
shutil.copy(engine.lib_path, os.path.join(out, "libmodel.so"))
np.ascontiguousarray(engine._params, np.float32).tofile(os.path.join(out, "params.f32"))
bx.tofile(os.path.join(out, "x.f32"))
by.tofile(os.path.join(out, "y.f32"))
with open(os.path.join(out, "shape.txt"), "w") as f:
    f.write(f"{len(rows)} {bx[0].size} {by[0].size} {1 + engine.n_metrics}\n")
print(json.dumps({"seqc": os.path.dirname(seqc.__file__), "batch": len(rows)}))
"""


def build_side(checkout, model, out, env):
    env = dict(env, PYTHONPATH=os.path.abspath(checkout), SEQC_CACHE_DIR=os.path.join(out, "cache"))
    proc = subprocess.run([sys.executable, "-c", _BUILD, out, HERE, model], env=env, capture_output=True, text=True,
                          cwd=out)   # not the caller's directory: it may hold another seqc
    if proc.returncode != 0:
        sys.exit(f"ab.py: building {model} from {checkout} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="checkout A (the reference)")
    ap.add_argument("b", help="checkout B (the change)")
    ap.add_argument("model", help="a model of benchmarks/run.py's registry")
    ap.add_argument("--rounds", type=int, default=20, help="alternations of A and B (default 20)")
    ap.add_argument("--steps", type=int, default=20, help="training steps per side per round (default 20)")
    ap.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS (default 2)")
    ap.add_argument("--env-b", action="append", default=[], metavar="KEY=VALUE",
                    help="an environment variable for B's build only (repeatable), e.g. SEQC_VECTOR_WIDTH=512")
    args = ap.parse_args(argv)
    env_b = {}
    for item in args.env_b:
        key, eq, value = item.partition("=")
        if not key or not eq:
            sys.exit(f"ab.py: --env-b takes KEY=VALUE, not {item!r}")
        env_b[key] = value
    sys.path.insert(0, HERE)
    import run
    if args.model not in run.MODELS:
        sys.exit(f"ab.py: unknown model {args.model!r}; the registry has {', '.join(run.MODELS)}")
    if args.rounds < 1 or args.steps < 1:
        sys.exit("ab.py: --rounds and --steps must be at least 1")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):   # as run.py: they may slow numpy down
        env.pop(key, None)
    with tempfile.TemporaryDirectory(prefix="seqc-ab-") as tmp:
        sides = []
        for tag, checkout in (("A", args.a), ("B", args.b)):
            out = os.path.join(tmp, tag)
            os.makedirs(out)
            info = build_side(checkout, args.model, out, dict(env, **env_b) if tag == "B" else env)
            extra = "".join(f", {k}={v}" for k, v in env_b.items()) if tag == "B" else ""
            print(f"{tag}: {checkout} (seqc from {info['seqc']}{extra}), batch {info['batch']}")
            sides.append(out)
        exe = os.path.join(tmp, "ab_step")
        cc = run.bench_cc()
        subprocess.run([cc, "-O2", "-Wall", "-Wextra", os.path.join(HERE, "ab_step.c"), "-o", exe, "-ldl"], check=True)
        print(f"{args.model}: {args.rounds} rounds of {args.steps} training steps each (A B, B A, ...), "
              f"OMP_NUM_THREADS={args.threads}", flush=True)
        # twice, the libraries loaded in either order: the one loaded second has measured up to 5%
        # slower in A/A runs (the same build: its code and buffers lie elsewhere)
        ratios = []
        for first, second, label in ((0, 1, "A loaded first"), (1, 0, "B loaded first")):
            run_ = subprocess.run([exe, sides[first], sides[second], str(args.rounds), str(args.steps)], env=env,
                                  check=True, capture_output=True, text=True)
            lines = run_.stdout.splitlines()
            if first == 1:       # the harness names its first library A: swap the names back
                lines = [lines[1].replace("B:", "A:", 1), lines[0].replace("A:", "B:", 1)]
            else:
                lines = lines[:2]
            mean = {l[0]: float(l.split()[2]) for l in lines}
            ratios.append(mean["B"] / mean["A"])
            print(f"{label}:")
            for l in lines:
                print("  " + l)
            print(f"  B / A: mean {ratios[-1]:.3f}")
        print(f"B / A, both load orders (geometric mean): {math.sqrt(ratios[0] * ratios[1]):.3f}")


if __name__ == "__main__":
    main()
