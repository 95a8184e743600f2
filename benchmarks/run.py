#!/usr/bin/env python
"""Benchmark seqc against idiomatic eager PyTorch on the same models, data and thread count.

    python benchmarks/run.py [MODEL ...] [--reps N] [--samples N] [--threads N] ...

With no MODEL every registered model runs (see MODELS below, and --list). The script works
under any interpreter that can import seqc (numpy, jinja2, cffi); PyTorch is used from the same
interpreter when it is importable there, otherwise from /work/refenv/bin/python (or
--torch-python). Each framework runs in its own worker process (a copy of this script started
with --worker), driven over a pipe, so the two never share a process, an OpenMP runtime or a
thread pool, and reps can alternate: seqc, torch, seqc, torch, ... See benchmarks/README.md.
"""
import os

# These two may slow numpy down; they are unset for this benchmark command only (and so for
# every process it starts), before numpy is imported anywhere.
for _key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_key, None)

import argparse
import importlib.util
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
REFENV_PYTHON = "/work/refenv/bin/python"
SEED = 1234


# ---------------------------------------------------------------------------------------------
# Model registry. A benchmark is: data (numpy, generated once by the driver and shared by both
# frameworks), a seqc.keras model, and the equivalent PyTorch model / loss / optimizer.
# Later issues add convnets and LSTMs as further entries.
# ---------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, name, example, batch_size, make_data, seqc_build, seqc_xy, torch_build, torch_xy,
                 train_flops_per_sample=None, note=""):
        self.name = name
        self.example = example                  # examples/<example>: the script `seqc compile` times
        self.batch_size = batch_size
        self.make_data = make_data              # (rows, seed) -> dict of numpy arrays
        self.seqc_build = seqc_build            # () -> compiled seqc.keras model
        self.seqc_xy = seqc_xy                  # data -> (x, y) for model.fit
        self.torch_build = torch_build          # torch -> TorchSetup
        self.torch_xy = torch_xy                # (torch, data) -> (X, Y) tensors
        self.train_flops_per_sample = train_flops_per_sample  # GEMM flops of one training sample
        self.note = note


class TorchSetup:
    def __init__(self, model, loss_fn, optimizer, correct, scheduler=None):
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.correct = correct                  # (output, yb) -> number of correct predictions (tensor)
        self.scheduler = scheduler              # stepped once per batch, if given


def dense_train_flops(dims):
    """GEMM flops per sample of one training step of an MLP with layer widths dims:
    forward 2*in*out, weight gradient 2*in*out, input gradient 2*in*out except the first layer."""
    macs = [a * b for a, b in zip(dims[:-1], dims[1:])]
    return 2 * sum(macs) + 2 * sum(macs) + 2 * sum(macs[1:])


def _tutorial_mlp_data(features, classes):
    """The Keras tutorial's random data: x uniform in [0, 1), integer labels of shape (rows, 1)."""
    def make(rows, seed):
        import numpy as np
        rng = np.random.default_rng(seed)
        return {"x": rng.random((rows, features), dtype=np.float32),
                "labels": rng.integers(0, classes, size=(rows, 1)).astype(np.int64)}
    return make


def _seqc_mlp(hidden_out, activation, optimizer, loss):
    def build():
        from seqc.keras.layers import Dense, Dropout
        from seqc.keras.models import Sequential
        model = Sequential()
        model.add(Dense(64, activation="relu", input_dim=20))
        model.add(Dropout(0.5))
        model.add(Dense(64, activation="relu"))
        model.add(Dropout(0.5))
        model.add(Dense(hidden_out, activation=activation))
        model.compile(loss=loss, optimizer=optimizer(), metrics=["accuracy"])
        return model
    return build


def _seqc_sgd():
    from seqc.keras.optimizers import SGD
    return SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)


def _torch_mlp_layers(nn, out):
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(64, out))


def _torch_mlp_softmax(torch):
    nn = torch.nn
    model = _torch_mlp_layers(nn, 10)             # logits; softmax is inside CrossEntropyLoss
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    # Keras 2's decay=1e-6: lr_t = lr / (1 + 1e-6 t), t counted in batches
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1.0 + 1e-6 * t))
    return TorchSetup(model, nn.CrossEntropyLoss(), opt,
                      correct=lambda out, yb: (out.argmax(1) == yb).sum(), scheduler=sched)


def _torch_mlp_binary(torch):
    nn = torch.nn
    model = _torch_mlp_layers(nn, 1)              # logit; sigmoid is inside BCEWithLogitsLoss
    # Keras RMSprop defaults: lr 0.001, rho 0.9, epsilon 1e-7 (added outside the sqrt in torch)
    opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
    return TorchSetup(model, nn.BCEWithLogitsLoss(), opt,
                      correct=lambda out, yb: ((out > 0).to(yb.dtype) == yb).sum())


def _seqc_xy_categorical(classes):
    def xy(d):
        from seqc.keras.utils import to_categorical
        return d["x"], to_categorical(d["labels"], num_classes=classes)
    return xy


MODELS = {}


def register(bench):
    MODELS[bench.name] = bench
    return bench


register(Bench(
    "mlp_softmax", example="mlp_softmax.py", batch_size=128,
    make_data=_tutorial_mlp_data(20, 10),
    seqc_build=_seqc_mlp(10, "softmax", _seqc_sgd, "categorical_crossentropy"),
    seqc_xy=_seqc_xy_categorical(10),
    torch_build=_torch_mlp_softmax,
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]), torch.from_numpy(d["labels"][:, 0].copy())),
    train_flops_per_sample=dense_train_flops([20, 64, 64, 10]),
    note="Dense64-Dropout-Dense64-Dropout-Dense10 softmax, SGD nesterov, categorical CE"))

register(Bench(
    "mlp_binary", example="mlp_binary.py", batch_size=128,
    make_data=_tutorial_mlp_data(20, 2),
    seqc_build=_seqc_mlp(1, "sigmoid", lambda: "rmsprop", "binary_crossentropy"),
    seqc_xy=lambda d: (d["x"], d["labels"].astype("float32")),
    torch_build=_torch_mlp_binary,
    torch_xy=lambda torch, d: (torch.from_numpy(d["x"]), torch.from_numpy(d["labels"].astype("float32"))),
    train_flops_per_sample=dense_train_flops([20, 64, 64, 1]),
    note="Dense64-Dropout-Dense64-Dropout-Dense1 sigmoid, RMSprop, binary CE"))


# ---------------------------------------------------------------------------------------------
# Workers: one process per framework and model, commands as JSON lines on stdin, replies as
# JSON lines on the original stdout (fd 1 is pointed at stderr so nothing else lands there).
# ---------------------------------------------------------------------------------------------

def _ensure_seqc_importable():
    """Under an interpreter where seqc is not installed (e.g. /work/refenv), use the repo's copy."""
    if importlib.util.find_spec("seqc") is None:
        sys.path.insert(0, REPO)


def _median_us(fn, x, calls):
    for _ in range(min(200, calls)):
        fn(x)
    times = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        t0 = clock()
        fn(x)
        times.append(clock() - t0)
    return statistics.median(times) / 1000.0


class SeqcRunner:
    def __init__(self, bench, data, seed, threads):
        _ensure_seqc_importable()
        import seqc
        from seqc import build
        from seqc.keras.utils import set_random_seed
        set_random_seed(seed)
        self.bench = bench
        t0 = time.perf_counter()
        self.model = bench.seqc_build()
        self.compile_seconds = time.perf_counter() - t0
        self.x, self.y = bench.seqc_xy(data)
        self.info = {"seqc": seqc.__version__, "seqc_path": os.path.dirname(seqc.__file__),
                     "flags": " ".join(build.default_flags()), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                     "python": sys.executable, "compile_in_process_s": self.compile_seconds}

    def train(self, rows, epochs):
        x, y = self.x[:rows], self.y[:rows]
        t0 = time.perf_counter()
        hist = self.model.fit(x, y, epochs=epochs, batch_size=self.bench.batch_size, verbose=0, shuffle=True)
        seconds = time.perf_counter() - t0
        h = hist.history
        return {"seconds": seconds, "samples": rows * epochs, "loss": float(h["loss"][-1]),
                "acc": float(h["accuracy"][-1]) if "accuracy" in h else None}

    def predict(self, calls):
        x1 = self.x[:1].copy()
        return {"predict_on_batch_us": _median_us(self.model.predict_on_batch, x1, calls),
                "call_us": _median_us(self.model, x1, calls)}


class TorchRunner:
    def __init__(self, bench, data, seed, threads):
        import torch
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.torch = torch
        self.bench = bench
        self.s = bench.torch_build(torch)
        self.X, self.Y = bench.torch_xy(torch, data)
        self.info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": sys.executable}

    def train(self, rows, epochs):
        torch, s, bs = self.torch, self.s, self.bench.batch_size
        X, Y = self.X[:rows], self.Y[:rows]
        model, loss_fn, opt, sched = s.model, s.loss_fn, s.optimizer, s.scheduler
        t0 = time.perf_counter()
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(rows)
            total_loss = torch.zeros(())
            correct = torch.zeros((), dtype=torch.int64)
            for i in range(0, rows, bs):
                idx = perm[i:i + bs]
                xb, yb = X[idx], Y[idx]
                opt.zero_grad()
                out = model(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                with torch.no_grad():              # running loss and accuracy, per batch, like Keras
                    total_loss += loss.detach() * len(idx)
                    correct += s.correct(out, yb)
            epoch_loss, epoch_acc = total_loss.item() / rows, correct.item() / rows
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "samples": rows * epochs, "loss": epoch_loss, "acc": epoch_acc}

    def predict(self, calls):
        torch, model = self.torch, self.s.model
        model.eval()
        x1 = self.X[:1].clone()
        with torch.no_grad():
            us = _median_us(model, x1, calls)
        return {"call_us": us}


def worker_main(args):
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        if args.worker == "seqc":
            # must be set before seqc's compiled library (and its OpenMP runtime) is loaded
            os.environ["OMP_NUM_THREADS"] = str(args.threads)
        import numpy as np
        bench = MODELS[args.model]
        with np.load(args.data) as z:
            data = {k: z[k] for k in z.files}
        runner = (SeqcRunner if args.worker == "seqc" else TorchRunner)(bench, data, SEED, args.threads)
        proto.write(json.dumps({"ok": True, "info": runner.info}) + "\n")
    except Exception:
        proto.write(json.dumps({"ok": False, "error": traceback.format_exc()}) + "\n")
        return 1
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "train":
                reply = runner.train(cmd["rows"], cmd["epochs"])
            elif cmd["op"] == "predict":
                reply = runner.predict(cmd["calls"])
            elif cmd["op"] == "quit":
                break
            else:
                raise ValueError(f"unknown op {cmd['op']!r}")
            reply["ok"] = True
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        proto.write(json.dumps(reply) + "\n")
    return 0


class Worker:
    """The driver's handle on a worker process."""

    def __init__(self, kind, python, model, data_path, threads, env):
        self.kind = kind
        self.log = tempfile.TemporaryFile(mode="w+")
        cmd = [python, os.path.abspath(__file__), "--worker", kind, "--model", model, "--data", data_path,
               "--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, bufsize=1, env=env, cwd=REPO)
        self.info = self._reply()["info"]

    def _reply(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(f"{self.kind} worker exited (code {self.proc.returncode}):\n{self._stderr()}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"{self.kind} worker failed:\n{reply.get('error')}\n{self._stderr()}")
        return reply

    def _stderr(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------------------------------------
# Compile time: `python -m seqc compile examples/<model>.py` (fresh cache, then the same cache),
# or, while the CLI or the example does not exist, the API compile in a fresh process.
# ---------------------------------------------------------------------------------------------

def compile_api_main(args):
    """`run.py --compile-api MODEL`: build and compile the model through seqc.keras, then exit."""
    _ensure_seqc_importable()
    MODELS[args.compile_api].seqc_build()
    return 0


def _cli_available(bench):
    return (os.path.exists(os.path.join(REPO, "seqc", "__main__.py"))
            and os.path.exists(os.path.join(REPO, "examples", bench.example)))


def measure_compile(bench, env):
    """Wall time of the whole subprocess: cold (fresh empty SEQC_CACHE_DIR), then warm (same)."""
    if _cli_available(bench):
        try:
            return _measure_compile(bench, env, "cli")
        except RuntimeError as e:       # fall back to the API so the number still exists; say why
            print(f"  note: {e}\n  timing the API compile instead")
    return _measure_compile(bench, env, "api")


def _measure_compile(bench, env, how):
    tmp = tempfile.mkdtemp(prefix="seqc-bench-compile-")
    try:
        cache = os.path.join(tmp, "cache")
        os.makedirs(cache)
        env = dict(env, SEQC_CACHE_DIR=cache)
        out = {"how": how}
        for phase in ("cold", "warm"):
            if how == "cli":
                cmd = [sys.executable, "-m", "seqc", "compile", os.path.join(REPO, "examples", bench.example),
                       "-o", os.path.join(tmp, f"out_{phase}")]
            else:
                cmd = [sys.executable, os.path.abspath(__file__), "--compile-api", bench.name]
            t0 = time.perf_counter()
            r = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
            out[phase] = time.perf_counter() - t0
            if r.returncode != 0:
                raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {r.returncode}):\n"
                                   + _indent(r.stderr.strip()[-1500:], "    "))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _indent(text, prefix):
    return "\n".join(prefix + line for line in text.splitlines())


# ---------------------------------------------------------------------------------------------
# FMA peak probe
# ---------------------------------------------------------------------------------------------

def fma_peak(thread_counts=(1, 2), seconds=0.25):
    """Compile benchmarks/fma_probe.c and measure FP32 FMA GFLOP/s for each thread count.
    Returns {threads: gflops} plus 'vector_bits' / 'chains', or {'error': message}."""
    cc = os.environ.get("SEQC_BENCH_CC", "gcc")
    tmp = tempfile.mkdtemp(prefix="seqc-bench-fma-")
    try:
        exe = os.path.join(tmp, "fma_probe")
        cmd = [cc, "-O3", "-march=native", "-fopenmp", "-ffp-contract=fast", os.path.join(HERE, "fma_probe.c"),
               "-o", exe]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return {"error": f"{' '.join(cmd)} failed: {r.stderr.strip()[-500:]}"}
        result = {}
        for t in thread_counts:
            env = dict(os.environ, OMP_NUM_THREADS=str(t))
            r = subprocess.run([exe, str(t), str(seconds)], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                return {"error": r.stderr.strip()}
            kv = dict(item.split("=", 1) for item in r.stdout.split())
            result[t] = float(kv["gflops"])
            result["vector_bits"], result["chains"] = int(kv["vector_bits"]), int(kv["chains"])
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def torch_python(args):
    if args.torch_python:
        return args.torch_python
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    if os.path.exists(REFENV_PYTHON):
        return REFENV_PYTHON
    return None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_busy(seconds=0.5):
    """Fraction of all CPUs busy over a short window (this script sleeps meanwhile), or None."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v[:8]), idle
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def plan(samples, rows):
    """(rows used, epochs) for one rep of about `samples` samples over a data set of `rows` rows:
    up to `rows` it is one epoch over the first `samples` rows, beyond it whole epochs."""
    if samples <= rows:
        return samples, 1
    return rows, max(1, round(samples / rows))


def fmt_rate(x):
    return f"{x:,.0f}" if x is not None else "-"


def run_model(bench, args, tpy, base_env, peak):
    import numpy as np
    print(f"\n== {bench.name}: {bench.note}")
    result = {"model": bench.name}

    if not args.no_compile:
        c = measure_compile(bench, base_env)
        result["compile"] = c
        what = f"`python -m seqc compile examples/{bench.example}`" if c["how"] == "cli" else \
            "seqc.keras compile() in a fresh process; the CLI or the example is not there"
        print(f"compile, wall time of the subprocess [{what}]: cold {c['cold']:.2f} s, warm {c['warm']:.2f} s")

    rows, epochs = plan(args.samples, args.rows)
    tmp = tempfile.mkdtemp(prefix="seqc-bench-")
    workers = []
    try:
        data_path = os.path.join(tmp, "data.npz")
        np.savez(data_path, **bench.make_data(args.rows, SEED))
        env = dict(base_env, SEQC_CACHE_DIR=os.path.join(tmp, "cache"), OMP_NUM_THREADS=str(args.threads))
        frameworks = [("seqc", sys.executable)] + ([("torch", tpy)] if tpy else [])
        for kind, py in frameworks:
            workers.append(Worker(kind, py, bench.name, data_path, args.threads, env))
        by_kind = {w.kind: w for w in workers}
        s_info = by_kind["seqc"].info
        print(f"seqc {s_info['seqc']} ({s_info['python']}), in-process compile {s_info['compile_in_process_s']:.2f} s, "
              f"flags {s_info['flags']}")
        if "torch" in by_kind:
            t_info = by_kind["torch"].info
            print(f"torch {t_info['torch']} ({t_info['python']}), {t_info['threads']} threads")
        print(f"per rep: {rows * epochs:,} samples ({epochs} epoch(s) over {rows:,} rows), batch {bench.batch_size}, "
              f"{args.threads} threads; warm-up rep then {args.reps} reps alternating")

        for w in workers:                                  # warm-up
            r = w.ask(op="train", rows=rows, epochs=epochs)
            print(f"  warm-up {w.kind:5s} {fmt_rate(r['samples'] / r['seconds']):>12s} samples/s   "
                  f"(loss {r['loss']:.4f}, acc {r['acc']:.4f})")
        rates = {w.kind: [] for w in workers}
        for rep in range(args.reps):
            parts = []
            for w in workers:
                r = w.ask(op="train", rows=rows, epochs=epochs)
                rate = r["samples"] / r["seconds"]
                rates[w.kind].append(rate)
                parts.append(f"{w.kind} {fmt_rate(rate):>12s}")
            print(f"  rep {rep + 1:2d}   " + "   ".join(parts) + "   samples/s")
        med = {k: statistics.median(v) for k, v in rates.items()}
        result["rates"] = rates
        result["median"] = med
        line = "  median  " + "   ".join(f"{k} {fmt_rate(v):>12s}" for k, v in med.items()) + "   samples/s"
        if "torch" in med:
            result["ratio"] = med["seqc"] / med["torch"]
            line += f"   seqc/torch {result['ratio']:.2f}x"
        print(line)
        if bench.train_flops_per_sample and peak and args.threads in peak:
            for k, v in med.items():
                gf = v * bench.train_flops_per_sample * 1e-9
                print(f"  {k}: ~{gf:.3g} GFLOP/s of GEMM work = {100 * gf / peak[args.threads]:.2g}% of the "
                      f"{args.threads}-thread FMA peak")

        if args.predict_calls > 0:
            p = by_kind["seqc"].ask(op="predict", calls=args.predict_calls)
            result["predict"] = {"seqc_pob": p["predict_on_batch_us"], "seqc_call": p["call_us"]}
            line = (f"  predict batch 1 (median of {args.predict_calls}): seqc predict_on_batch "
                    f"{p['predict_on_batch_us']:.1f} us, seqc model(x) {p['call_us']:.1f} us")
            if "torch" in by_kind:
                p = by_kind["torch"].ask(op="predict", calls=args.predict_calls)
                result["predict"]["torch"] = p["call_us"]
                line += f", torch no_grad model(x) {p['call_us']:.1f} us"
            print(line)
    finally:
        for w in workers:
            w.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def print_table(results):
    head = ["model", "seqc samp/s", "torch samp/s", "seqc/torch", "cold s", "warm s",
            "pred1 seqc us", "pred1 torch us"]
    rows = []
    for r in results:
        med, c, p = r.get("median", {}), r.get("compile", {}), r.get("predict", {})
        rows.append([r["model"], fmt_rate(med.get("seqc")), fmt_rate(med.get("torch")),
                     f"{r['ratio']:.2f}x" if "ratio" in r else "-",
                     f"{c['cold']:.2f}" if c else "-", f"{c['warm']:.2f}" if c else "-",
                     f"{p['seqc_pob']:.1f}" if "seqc_pob" in p else "-",
                     f"{p['torch']:.1f}" if "torch" in p else "-"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    print("\n" + "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for row in rows:
        print("  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(row, widths))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", metavar="MODEL", help=f"models to run (default: all of {', '.join(MODELS)})")
    ap.add_argument("--reps", type=int, default=5, help="timed reps per framework, after one warm-up (default 5)")
    ap.add_argument("--rows", type=int, default=20480, help="rows of random training data (default 20480)")
    ap.add_argument("--samples", type=int, default=None,
                    help="training samples per rep (default: one epoch over --rows)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both frameworks (default 2)")
    ap.add_argument("--predict-calls", type=int, default=2000, help="batch-1 predict calls timed (0: skip)")
    ap.add_argument("--no-compile", action="store_true", help="skip the compile-time measurement")
    ap.add_argument("--no-probe", action="store_true", help="skip the FMA peak probe")
    ap.add_argument("--no-torch", action="store_true", help="run seqc only")
    ap.add_argument("--torch-python", help=f"interpreter for the PyTorch side (default: this one if it has "
                                           f"torch, else {REFENV_PYTHON})")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--list", action="store_true", help="list the models and exit")
    ap.add_argument("--worker", choices=["seqc", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--compile-api", metavar="MODEL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        return worker_main(args)
    if args.compile_api:
        return compile_api_main(args)
    if args.list:
        for name, b in MODELS.items():
            print(f"{name:14s} {b.note}")
        return 0
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    if args.samples is None:
        args.samples = args.rows
    if args.reps < 1 or args.samples < 1 or args.rows < 1:
        ap.error("--reps, --samples and --rows must be positive")
    models = args.models or list(MODELS)

    # children find seqc even when this interpreter does not have it installed (e.g. /work/refenv)
    base_env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p))
    tpy = None if args.no_torch else torch_python(args)

    print(f"seqc benchmark  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"seqc side: {sys.executable} (Python {platform.python_version()}); "
          f"torch side: {tpy or 'none (torch not found; use --torch-python)'}")
    busy = cpu_busy()
    if busy is not None and busy > 0.10:
        print(f"WARNING: the machine is not quiet ({100 * busy:.0f}% of the CPUs busy before the start); "
              f"timings will be noisy")
    peak = None
    if not args.no_probe:
        peak = fma_peak((1, args.threads) if args.threads != 1 else (1,))
        if "error" in peak:
            print(f"FP32 FMA peak: probe failed: {peak['error']}")
            peak = None
        else:
            print("FP32 FMA peak (benchmarks/fma_probe.c, {}-bit vectors, {} chains): ".format(
                peak["vector_bits"], peak["chains"])
                + ", ".join(f"{t} thread{'s' if t > 1 else ''} {peak[t]:.1f} GFLOP/s"
                            for t in sorted(k for k in peak if isinstance(k, int))))

    results = []
    for name in models:
        results.append(run_model(MODELS[name], args, tpy, base_env, peak))
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_gflops": {str(k): v for k, v in (peak or {}).items()}, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
