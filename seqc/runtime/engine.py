"""The one small wrapper between Python and a compiled model library."""
import math

import numpy as np

from .. import build


class Engine:
    """One instance of a compiled model: parameters, optimizer slots, arena.

    `params` and `slots` are numpy views of the C arrays. Reading either first calls
    seqc_sync: with a row-sparse Embedding update, rows a batch did not use may still owe the
    optimizer's zero-gradient steps (applied lazily in C), and seqc_sync applies them so that
    Python always sees the dense state. The C entry points sync themselves."""

    def __init__(self, desc, lib_path):
        self.desc = desc
        self.lib_path = lib_path
        self.ffi = build.ffi()
        self.lib = build.load(lib_path)
        ptr = self.lib.seqc_create()
        if ptr == self.ffi.NULL:
            raise MemoryError("seqc: could not allocate the model")
        self.m = self.ffi.gc(ptr, self.lib.seqc_destroy)
        self.n_params = int(self.lib.seqc_num_params())
        self.n_metrics = len(desc["metrics"])
        self.out_size = math.prod(desc["output_shape"])
        self._params = self._view(self.lib.seqc_params(self.m), self.n_params)
        self.grads = self._view(self.lib.seqc_grads(self.m), self.n_params)
        self._slots = self._view(self.lib.seqc_slots(self.m), int(self.lib.seqc_num_slots()))
        self.capacity = 0
        self.sparse = desc.get("sparse_update")

    def sync(self):
        """Apply the pending lazy updates of a row-sparse Embedding (see the class docstring)."""
        if self.sparse:
            self.lib.seqc_sync(self.m)

    @property
    def params(self):
        self.sync()
        return self._params

    @property
    def slots(self):
        self.sync()
        return self._slots

    def _view(self, ptr, n):
        if n == 0:
            return np.zeros(0, np.float32)
        return np.frombuffer(self.ffi.buffer(ptr, 4 * n), dtype=np.float32)

    def _p(self, arr, ctype="float *"):
        return self.ffi.NULL if arr is None else self.ffi.cast(ctype, arr.ctypes.data)

    def reserve(self, batch):
        if batch > self.capacity:
            if self.lib.seqc_reserve(self.m, int(batch)) != 0:
                raise MemoryError(f"seqc: cannot allocate activations for batch size {batch}")
            self.capacity = batch

    def train(self, x, y, idx, batch):
        """Train on rows idx (int32 array) in batches; returns (n_batches, 1 + n_metrics)."""
        n = len(idx)
        nb = -(-n // batch)
        out = np.empty((nb, 1 + self.n_metrics), np.float32)
        self.reserve(batch)
        rc = self.lib.seqc_train(self.m, self._p(x), self._p(y), self._p(idx, "int32_t *"), n, batch, self._p(out))
        if rc != 0:
            raise RuntimeError("seqc_train failed")
        return out

    def evaluate(self, x, y, batch, idx=None):
        n = len(idx) if idx is not None else x.shape[0]
        nb = -(-n // batch)
        out = np.empty((nb, 1 + self.n_metrics), np.float32)
        self.reserve(batch)
        rc = self.lib.seqc_evaluate(self.m, self._p(x), self._p(y), self._p(idx, "int32_t *"), n, batch, self._p(out))
        if rc != 0:
            raise RuntimeError("seqc_evaluate failed")
        return out

    def predict(self, x, batch):
        n = x.shape[0]
        out = np.empty((n,) + tuple(self.desc["output_shape"]), np.float32)
        if n == 0:
            return out
        self.reserve(batch)
        if self.lib.seqc_predict(self.m, self._p(x), n, batch, self._p(out)) != 0:
            raise RuntimeError("seqc_predict failed")
        return out

    def gradients(self, x, y, training=False):
        """Loss and gradient (copy) on one batch, no update."""
        self.reserve(x.shape[0])
        loss = self.lib.seqc_gradients(self.m, self._p(x), self._p(y), x.shape[0], int(training))
        return float(loss), self.grads.copy()

    def get_threads(self):
        return int(self.lib.seqc_get_threads(self.m))

    def set_threads(self, n):
        """Threads this model's kernels use, at most the count it was created for."""
        self.lib.seqc_set_threads(self.m, int(n))

    def get_learning_rate(self):
        return float(self.lib.seqc_get_lr(self.m))

    def set_learning_rate(self, lr):
        self.lib.seqc_set_lr(self.m, float(lr))

    def current_learning_rate(self):
        return float(self.lib.seqc_current_lr(self.m))

    def get_iterations(self):
        return int(self.lib.seqc_get_iterations(self.m))

    def set_iterations(self, it):
        self.lib.seqc_set_iterations(self.m, int(it))

    def reset_optimizer(self):
        self.lib.seqc_reset_slots(self.m)

    def set_seed(self, seed):
        self.lib.seqc_set_seed(self.m, int(seed) & 0xFFFFFFFFFFFFFFFF)
