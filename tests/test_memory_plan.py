"""The arena plan (seqc.passes.plan_memory) and where the generated C puts its buffers.

The plan gives every activation, gradient and scratch buffer an offset in floats per batch row,
sharing space between buffers whose live ranges do not meet. Two buffers live at once must not
overlap; every offset is a multiple of passes.ARENA_ALIGN floats, so that on the arena's 64-byte
aligned base every buffer starts on a cache line whatever the batch size (a 512-bit load of a
row's start that straddles two lines costs about twice one that does not).

The C check includes a model's generated model.c into a small driver and reads the pointers the
model really holds after seqc_create and seqc_reserve at several batch sizes."""
import os
import subprocess
import sys

import numpy as np
import pytest

import seqc.keras as keras
from seqc import build, lower, passes
from seqc.keras.utils import set_random_seed

L = keras.layers


def _models():
    """Models whose plans differ in kind: dense, convolution + pooling, recurrent, embedding,
    and a bidirectional one with a mask."""
    return {
        "mlp": lambda: [L.Dense(37, activation="relu", input_dim=13), L.Dropout(0.2), L.Dense(5, activation="softmax")],
        "conv1d": lambda: [L.Conv1D(9, 3, activation="relu", input_shape=(23, 5)), L.MaxPooling1D(2),
                           L.Conv1D(6, 2), L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")],
        "conv2d": lambda: [L.Conv2D(5, 3, padding="same", input_shape=(9, 7, 3)), L.BatchNormalization(),
                           L.Activation("relu"), L.MaxPooling2D(), L.Flatten(), L.Dense(3, activation="softmax")],
        "lstm": lambda: [L.LSTM(11, return_sequences=True, input_shape=(6, 3)), L.LSTM(7), L.Dense(2)],
        "emb_bilstm": lambda: [L.Embedding(50, 6, mask_zero=True, input_length=9),
                               L.Bidirectional(L.LSTM(5)), L.Dense(1, activation="sigmoid")],
    }


def _model(name):
    set_random_seed(1)
    m = keras.models.Sequential(_models()[name]())
    loss = {"mlp": "categorical_crossentropy", "conv2d": "categorical_crossentropy",
            "lstm": "mse"}.get(name, "binary_crossentropy")
    m.compile(loss=loss, optimizer="adam", metrics=["accuracy"] if loss != "mse" else [])
    return m


def _graph(m):
    """The model's training graph after the passes, as pipeline.compile_spec builds it."""
    spec = m.spec(m._input_key)
    graph = lower.lower_model(spec)
    lower.attach_training(graph, spec.compile, lower.default_y_shape(spec.compile, graph.output.shape))
    passes.run_passes(graph)
    return graph


@pytest.mark.parametrize("name", sorted(_models()))
def test_plan_aligns_every_buffer_and_overlaps_none_live_together(name):
    bufs, total = passes.plan_memory(_graph(_model(name)), 7)
    assert len(bufs) >= 4
    for b in bufs.values():
        assert b.offset % passes.ARENA_ALIGN == 0, (b.key, b.offset)
        assert b.offset + b.size <= total
    placed = sorted(bufs.values(), key=lambda b: b.offset)
    shared = 0
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            if not (a.end < b.start or b.end < a.start):      # live at once
                assert a.offset + a.size <= b.offset, (a.key, b.key)
            elif a.offset + a.size > b.offset:
                shared += 1
    assert shared > 0          # the plan does reuse space: buffers never live together share it


_DRIVER = r"""
#include <stdio.h>
#include "model.c"

static int misaligned(const char *what, const void *p)
{
    if ((uintptr_t)p % 64 == 0) return 0;
    printf("%s at %p\n", what, p);
    return 1;
}

int main(void)
{
    seqc_model *m = seqc_create();
    if (!m) return 2;
    int bad = misaligned("params", m->params) + misaligned("grads", m->grads) + misaligned("slots", m->slots)
            + misaligned("pack_a", m->team.pack_a) + misaligned("pack_b", m->team.pack_b);
    static const int batches[] = {1, 3, 7, 16, 33, 250};
    for (int i = 0; i < 6; i++) {
        if (seqc_reserve(m, batches[i]) != 0) return 2;
        float *buf[sizeof(seqc_buffers) / sizeof(float *)];
        memcpy(buf, &m->buf, sizeof buf);          /* seqc_buffers holds only float pointers */
        for (size_t k = 0; k < sizeof buf / sizeof *buf; k++) {
            char what[64];
            snprintf(what, sizeof what, "buffer %zu at batch %d", k, batches[i]);
            bad += misaligned(what, buf[k]);
            if (buf[k] < m->arena || buf[k] >= m->arena + ARENA_PER_ROW * batches[i] + 1) {
                printf("%s outside the arena\n", what);
                bad++;
            }
        }
        printf("checked %zu buffers at batch %d\n", sizeof buf / sizeof *buf, batches[i]);
    }
    seqc_destroy(m);
    return bad != 0;
}
"""


@pytest.mark.parametrize("name", ["conv1d", "emb_bilstm"])
def test_generated_c_puts_every_buffer_on_a_cache_line(name, tmp_path):
    m = _model(name)
    m.predict(np.zeros((2,) + tuple(m.input_shape[1:]), np.float32), verbose=0)
    src_dir = os.path.dirname(m._runtime._engine.lib_path)
    (tmp_path / "driver.c").write_text(_DRIVER)
    exe = str(tmp_path / "driver")
    flags = [f for f in build.default_flags() if f != "-fPIC"]
    r = subprocess.run([build.compiler(), *flags, "-I", src_dir, str(tmp_path / "driver.c"), "-o", exe, "-lm"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([exe], capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("checked") == 6 and "checked 0 " not in r.stdout, r.stdout


_RSS_SCRIPT = r"""
import os, re, resource
import numpy as np
import seqc.keras as keras
L = keras.layers
m = keras.models.Sequential([L.Conv2D(32, 3, activation="relu", input_shape=(64, 64, 3)),
                             L.Conv2D(32, 3, activation="relu"), L.Flatten(), L.Dense(10, activation="softmax")])
m.compile(loss="categorical_crossentropy", optimizer="adam")
x = np.random.default_rng(0).random((256, 64, 64, 3), dtype=np.float32)
m.predict(x[:2], verbose=0)
src = open(os.path.join(os.path.dirname(m._runtime._engine.lib_path), "model.c")).read()
per_row = int(re.search(r"#define ARENA_PER_ROW (\d+)L", src).group(1))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
m.predict(x, batch_size=256, verbose=0)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
print(grown / (4.0 * per_row * 256))
"""


def test_predict_leaves_the_training_buffers_untouched(tmp_path):
    """The arena holds every buffer of a training step; predict writes only the forward ones.
    The arena comes zeroed from calloc, whose large blocks are fresh zero pages taking memory
    only once written, so a large predict costs the forward buffers' memory, not the whole
    arena's (with an explicit memset after aligned_alloc it cost all of it: 2x here)."""
    env = dict(os.environ, OMP_NUM_THREADS="2", SEQC_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, "-c", _RSS_SCRIPT], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    share = float(r.stdout.split()[-1])
    assert 0.1 < share < 0.75, f"peak memory grew by {share:.2f} of the arena during predict"
