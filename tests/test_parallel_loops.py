"""Elementwise loops split over the threads give the same bits on one thread and on two: the
optimizer update over a large weight (>= 16384 floats: seqc/templates/optim_loops.j2's
parallel_span), for every optimizer family and its options (each element's update reads that
element only), and Dropout over a large tensor (each value's mask depends on its index); and
small loops run on the calling thread without entering a parallel region."""
import os

import numpy as np
import pytest

from seqc import keras, pipeline
from seqc.keras import layers as L

OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.05),
    "sgd_nesterov": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop_centered_momentum": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: keras.optimizers.Adagrad(0.05),
    "adadelta": lambda: keras.optimizers.Adadelta(1.0),
    "adam_amsgrad": lambda: keras.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
    "adamax": lambda: keras.optimizers.Adamax(0.01),
    "nadam": lambda: keras.optimizers.Nadam(0.01),
    "ftrl": lambda: keras.optimizers.Ftrl(0.05, l1_regularization_strength=0.01, l2_shrinkage_regularization_strength=0.01),
    "lion": lambda: keras.optimizers.Lion(0.001),
}


def _train(opt, threads):
    model = keras.Sequential([keras.Input((300,)), L.Dense(200, activation="tanh"), L.Dense(3)])
    model.compile(optimizer=OPTIMIZERS[opt](), loss="mse")
    rng = np.random.default_rng(0)
    w0 = [rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(w0)
    engine = model._runtime._engine
    engine.set_threads(threads)
    assert engine.get_threads() == min(threads, os.cpu_count())
    x = rng.normal(size=(16, 300)).astype(np.float32)
    y = rng.normal(size=(16, 3)).astype(np.float32)
    losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
    w = model.get_weights()
    assert not np.array_equal(w[0], w0[0])          # the large kernel moved
    return model, losses, w


def test_large_spans_update_in_parallel():
    """The generated update splits the 60,000-float kernel over the threads and leaves the small
    spans (biases, the 600-float output kernel) serial."""
    model, _, _ = _train("adam_amsgrad", 1)
    _, _, c = pipeline.compile_spec(model.spec())
    update = c[c.index("static void optimizer_update"):]
    update = update[:update.index("\n}\n")]
    assert update.count("#pragma omp parallel for schedule(static) num_threads(m->team.threads)") == 1


def test_one_thread_and_two_give_the_same_bits(request):
    """Every optimizer in one test: under xdist it re-runs itself once with two threads."""
    from two_threads import rerun_with_two_threads
    if rerun_with_two_threads(request):
        return
    for opt in sorted(OPTIMIZERS):
        _, losses1, w1 = _train(opt, 1)
        _, losses2, w2 = _train(opt, 2)
        assert losses1 == losses2, opt
        assert all(np.array_equal(a, b) for a, b in zip(w1, w2)), opt


def test_dropout_masks_do_not_depend_on_the_thread_count(request):
    from two_threads import rerun_with_two_threads
    if rerun_with_two_threads(request):
        return
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 3000)).astype(np.float32)      # 96,000 values per batch: the threaded loop
    y = rng.normal(size=(32, 4)).astype(np.float32)
    runs = []
    for threads in (1, 2):
        keras.utils.set_random_seed(7)          # the same dropout stream for both models
        model = keras.Sequential([keras.Input((3000,)), L.Dropout(0.4), L.Dense(4)])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        model.set_weights([np.full(w.shape, 0.01, np.float32) for w in model.get_weights()])
        model._runtime._engine.set_threads(threads)
        losses = [float(model.train_on_batch(x, y)) for _ in range(2)]
        runs.append((losses, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    _, _, c = pipeline.compile_spec(model.spec())
    assert "if (threads > 1 && n >= 65536) {\n        #pragma omp parallel for" in c


def _function(c, name):
    """The text of function `name` in generated C `c`, from its signature to its closing brace."""
    start = c.index(f"static void {name}(")
    return c[start:c.index("\n}\n", start)]


def _generated(*layers, shape):
    model = keras.Sequential([keras.Input(shape), *layers])
    model.compile(optimizer="sgd", loss="mse")
    return pipeline.compile_spec(model.spec())[2]


def test_small_loops_branch_before_the_parallel_region():
    """load_batch, Dropout, pooling, the normalization layers and the recurrent layers' forward
    pass choose between the team and the calling thread in C, before any OpenMP region: a
    region whose if() clause is false still costs libgomp a one-thread team (about 0.4 us: half
    of a batch-1 predict of the tutorial MLP; a small MLP with two BatchNormalization layers
    trains 13% faster at batch 32 without them), so no region of theirs may carry an if()
    clause."""
    dense = _generated(L.Dense(64), L.BatchNormalization(), L.Activation("relu"), L.Dropout(0.5), L.Dense(32),
                       L.LayerNormalization(), L.Dense(10), shape=(20,))
    pooled = _generated(L.Dense(4), L.MaxPooling1D(2), L.AveragePooling1D(2), L.Flatten(), L.Dense(2), shape=(12, 4))
    recurrent = _generated(L.LSTM(4, return_sequences=True), L.GRU(4), L.Dense(2), shape=(5, 3))
    loops = {name: _function(dense, name) for name in (
        "load_batch", "dropout_forward", "dropout_backward", "batch_normalization_forward",
        "batch_normalization_backward", "layer_normalization_forward", "layer_normalization_backward")}
    loops.update({name: _function(pooled, name) for name in (
        "max_pooling1d_forward", "max_pooling1d_backward", "average_pooling1d_forward", "average_pooling1d_backward")})
    for name, body in loops.items():
        pragmas = [line.strip() for line in body.splitlines() if "#pragma omp" in line]
        assert pragmas, name
        assert not any(" if(" in p for p in pragmas), (name, pragmas)
        assert body.count("for (") >= 2 and "} else {" in body, name    # the loop on the team and alone
    for name in ("lstm_5x3x4_forward", "gru_5x4x4_forward"):      # the recurrent layers' forward: a function per share
        body = _function(recurrent, name)
        assert "#pragma omp parallel num_threads(" in body and " if(" not in body, name
        assert f"{name}_slice(" in body.split("} else {")[1], name


HARNESS = r"""
#include <omp.h>
#include <stdio.h>
#include <unistd.h>
#define SEQC_MAYBE_UNUSED __attribute__((unused))
%s
enum { N = 1000 };
static int taken[N], by[N];
int main(void)
{
    seqc_cursor cur[2];
    int nteam_seen = 0;
    #pragma omp parallel num_threads(2)
    {
        const int t = omp_get_thread_num(), nteam = omp_get_num_threads();
        seqc_cursor_start(cur, N, t, nteam);
        #pragma omp barrier
        if (t == 1) usleep(100000);            /* a thread that falls behind */
        for (int k = 0, i; (i = seqc_take(cur, N, t, nteam, &k)) >= 0; ) {
            #pragma omp atomic
            taken[i]++;
            by[i] = t;
        }
        if (t == 0) nteam_seen = nteam;
    }
    int once = 0, helped = 0;
    for (int i = 0; i < N; i++) {
        once += taken[i] == 1;
        helped += i >= N / 2 && by[i] == 0;
    }
    printf("%%d %%d %%d\n", nteam_seen, once, helped);
    return 0;
}
"""


def test_shared_items_are_taken_once_and_a_thread_behind_is_helped(tmp_path):
    """seqc_take (the convolution's forward pass and input gradient, the recurrent forward pass):
    every item is taken exactly once, and a thread that falls behind (here: asleep for 100 ms)
    leaves the rest of its chunk to the others. Built from the generated C's own helpers."""
    import subprocess
    c = _generated(L.Conv1D(4, 3), shape=(10, 3))
    start = c.index("typedef struct { int next; }")
    end = c.index("\n}\n", c.index("static inline int seqc_take(")) + 3
    (tmp_path / "take.c").write_text(HARNESS % c[start:end])
    subprocess.run(["gcc", "-O2", "-fopenmp", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "take"),
                    str(tmp_path / "take.c")], check=True)
    out = subprocess.run([str(tmp_path / "take")], check=True, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "2"}).stdout
    nteam, once, helped = map(int, out.split())
    assert once == 1000
    if nteam == 2:                    # (one processor: one thread takes every chunk in turn)
        assert helped > 400, out
