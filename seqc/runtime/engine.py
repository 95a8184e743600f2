"""The one owner of a compiled model library's C API.

Every call into the library goes through an `Engine` method; nothing else in seqc touches the
cffi handle or the `seqc_*` symbols (seqc.build only compiles and loads).
"""
import math
import threading

import numpy as np

from .. import build


class Engine:
    """One instance of a compiled model: parameters, optimizer slots, arena.

    Thread safety: the C model has one arena, so calls into one Engine are serialised by
    `self.lock` (re-entrant). Every method takes it; a caller that needs several calls to see
    one state (read weights, then slots) may hold it around them.

    `params` and `slots` are numpy views of the C arrays (for tests and inspection; they are
    not guarded once returned). Reading either first calls seqc_sync: with a row-sparse
    Embedding update, rows a batch did not use may still owe the optimizer's zero-gradient
    steps (applied lazily in C), and seqc_sync applies them so that Python always sees the
    dense state. The C entry points sync themselves."""

    def __init__(self, desc, lib_path):
        self.desc = desc
        self.lib_path = lib_path
        self.lock = threading.RLock()
        self._ffi = build.ffi()
        self._lib = build.load(lib_path)
        ptr = self._lib.seqc_create()
        if ptr == self._ffi.NULL:
            raise MemoryError("seqc: could not allocate the model")
        self._m = self._ffi.gc(ptr, self._lib.seqc_destroy)
        self.n_params = int(self._lib.seqc_num_params())
        self.n_metrics = sum(m.columns for m in desc.metrics)   # values per batch (confusion counts: several)
        self._params = self._view(self._lib.seqc_params(self._m), self.n_params)
        self._grads = self._view(self._lib.seqc_grads(self._m), self.n_params)
        self._slots = self._view(self._lib.seqc_slots(self._m), int(self._lib.seqc_num_slots()))
        self.capacity = 0
        self._reduce = None
        self.sparse = desc.sparse_update
        # predict's per-call work, resolved once (batch-1 predict costs microseconds)
        self._out_tail = tuple(desc.output_shape)
        self._seqc_predict = self._lib.seqc_predict
        self._predict_loaded = self._lib.seqc_predict_loaded
        in_size, out_size = math.prod(desc.input_shape), math.prod(self._out_tail)
        self._small_rows = 0 if in_size == 0 or out_size == 0 else \
            min(self.SMALL_PREDICT_ROWS, self.SMALL_PREDICT_FLOATS // max(in_size, out_size))
        self._rows = None          # numpy views of the arena's first input and output rows (_arena_rows)

    # ---- raw arrays --------------------------------------------------------------------------
    def sync(self):
        """Apply the pending lazy updates of a row-sparse Embedding (see the class docstring)."""
        if self.sparse:
            with self.lock:
                self._lib.seqc_sync(self._m)

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
        return np.frombuffer(self._ffi.buffer(ptr, 4 * n), dtype=np.float32)

    def _p(self, arr, ctype="float *"):
        """A C pointer to a C-contiguous array's data (from_buffer: ~4x cheaper than a cast of
        arr.ctypes.data, which matters for batch-1 predict)."""
        return self._ffi.NULL if arr is None else self._ffi.from_buffer(ctype[:-1].strip() + "[]", arr)

    # ---- weights and optimizer state -----------------------------------------------------------
    def get_weights(self):
        """Copies of the weight arrays, in the description's order and shapes."""
        with self.lock:
            p = self.params
            return [p[w.offset:w.offset + w.size].reshape(w.shape).copy() for w in self.desc.params]

    def get_weight(self, i):
        """A copy of weight array i (one of get_weights(), without copying the others)."""
        w = self.desc.params[i]
        with self.lock:
            return self.params[w.offset:w.offset + w.size].reshape(w.shape).copy()

    def set_weights(self, arrays):
        """Write float32 arrays already checked against the description's shapes."""
        with self.lock:
            p = self.params
            for w, a in zip(self.desc.params, arrays):
                p[w.offset:w.offset + w.size] = a.ravel()

    def copy_optimizer_state_from(self, other):
        """Slots, iteration count and learning rate of another instance of the same model
        (another specialisation: the same parameters and slots, in the same layout)."""
        if other is self:
            return
        with other.lock:
            slots = other.slots.copy()
            iterations, lr = other.get_iterations(), other.get_learning_rate()
        with self.lock:
            self.slots[:] = slots
            self.set_iterations(iterations)
            self.set_learning_rate(lr)

    def get_learning_rate(self):
        with self.lock:
            return float(self._lib.seqc_get_lr(self._m))

    def set_learning_rate(self, lr):
        with self.lock:
            self._lib.seqc_set_lr(self._m, float(lr))

    def current_learning_rate(self):
        with self.lock:
            return float(self._lib.seqc_current_lr(self._m))

    def get_iterations(self):
        with self.lock:
            return int(self._lib.seqc_get_iterations(self._m))

    def set_iterations(self, it):
        with self.lock:
            self._lib.seqc_set_iterations(self._m, int(it))

    def get_u_product(self):
        """Nadam's u_product (Keras's optimizer variable) as the C holds it."""
        with self.lock:
            return float(self._lib.seqc_get_u_product(self._m))

    def set_u_product(self, value):
        with self.lock:
            self._lib.seqc_set_u_product(self._m, float(value))

    def reset_optimizer(self):
        with self.lock:
            self._lib.seqc_reset_slots(self._m)

    def set_seed(self, seed):
        with self.lock:
            self._lib.seqc_set_seed(self._m, int(seed) & 0xFFFFFFFFFFFFFFFF)

    # ---- running -----------------------------------------------------------------------------
    def reserve(self, batch):
        """Grow the arena to hold `batch` rows (seqc_reserve reallocates it: under the lock, no
        other call is running on it). The entry points reserve inside the same hold of the lock."""
        with self.lock:
            if batch > self.capacity:
                self._rows = None         # the arena moves
                if self._lib.seqc_reserve(self._m, int(batch)) != 0:
                    raise MemoryError(f"seqc: cannot allocate activations for batch size {batch}")
                self.capacity = batch

    def train(self, x, y, idx, batch, sw=None):
        """Train on rows idx (int32 array) in batches, with sample weights sw (float32, one per
        row of x) or None; returns (n_batches, 1 + n_metrics)."""
        n = len(idx)
        out = np.empty((-(-n // batch), 1 + self.n_metrics), np.float32)
        with self.lock:
            self.reserve(batch)
            if sw is None:
                rc = self._lib.seqc_train(self._m, self._p(x), self._p(y), self._p(idx, "int32_t *"), n, batch,
                                          self._p(out))
            else:
                rc = self._lib.seqc_train_weighted(self._m, self._p(x), self._p(y), self._p(sw),
                                                   self._p(idx, "int32_t *"), n, batch, self._p(out))
        if rc != 0:
            raise RuntimeError("seqc_train failed")
        return out

    def evaluate(self, x, y, batch, idx=None, sw=None):
        n = len(idx) if idx is not None else x.shape[0]
        out = np.empty((-(-n // batch), 1 + self.n_metrics), np.float32)
        with self.lock:
            self.reserve(batch)
            if sw is None:
                rc = self._lib.seqc_evaluate(self._m, self._p(x), self._p(y), self._p(idx, "int32_t *"), n, batch,
                                             self._p(out))
            else:
                rc = self._lib.seqc_evaluate_weighted(self._m, self._p(x), self._p(y), self._p(sw),
                                                      self._p(idx, "int32_t *"), n, batch, self._p(out))
        if rc != 0:
            raise RuntimeError("seqc_evaluate failed")
        return out

    SMALL_PREDICT_ROWS = 16          # predict of at most this many rows goes through kept buffers,
    SMALL_PREDICT_FLOATS = 16384     # each at most this many floats

    def predict(self, x, batch):
        """Outputs of the n rows of x (float32, C-contiguous) in batches of `batch`, a new array.
        Kept lean for batch-1 predict: lookups resolved in __init__, the lock taken without
        `with`, and a few rows in one batch copied straight into the arena's input rows and out
        of its output rows (seqc_predict_loaded: two small numpy copies and a call with two
        arguments cost less than handing cffi two numpy arrays)."""
        n = x.shape[0]
        lock = self.lock
        if 0 < n <= self._small_rows and n <= batch:
            lock.acquire()
            try:
                if batch > self.capacity:
                    self.reserve(batch)
                x_rows, out_rows = self._rows or self._arena_rows()
                x_rows[n][...] = x
                rc = self._predict_loaded(self._m, n)
                out = out_rows[n].copy()
            finally:
                lock.release()
        else:
            out = np.empty((n,) + self._out_tail, np.float32)
            if n == 0:
                return out
            with lock:
                if batch > self.capacity:
                    self.reserve(batch)
                rc = self._seqc_predict(self._m, self._p(x), n, batch, self._p(out))
        if rc != 0:
            raise RuntimeError("seqc_predict failed")
        return out

    def _arena_rows(self):
        """(x_rows, out_rows): numpy views of the first k rows of the arena's input and output,
        k = 0 .. the rows predict's small path takes. Called under the lock, with the arena
        reserved; reserve() drops them, as the arena may move."""
        rows = min(self._small_rows, self.capacity)
        def views(ptr, shape):
            view = self._view(ptr, rows * math.prod(shape)).reshape((rows,) + shape)
            return [view[:k] for k in range(rows + 1)]
        self._rows = (views(self._lib.seqc_input_rows(self._m), tuple(self.desc.input_shape)),
                      views(self._lib.seqc_output_rows(self._m), self._out_tail))
        return self._rows

    def gradients(self, x, y, training=False, sw=None):
        """Loss and gradient (copy) on one batch, no update; sample weights sw or None."""
        with self.lock:
            self.reserve(x.shape[0])
            if sw is None:
                loss = self._lib.seqc_gradients(self._m, self._p(x), self._p(y), x.shape[0], int(training))
            else:
                loss = self._lib.seqc_gradients_weighted(self._m, self._p(x), self._p(y), self._p(sw), x.shape[0],
                                                         int(training))
            return float(loss), self._grads.copy()

    def shard_gradients(self, x, y, idx, scale):
        """Data-parallel step, first half: gradient, loss and metrics of the rows idx (int32) of
        x, y, times `scale`, left in the array `reduce_buffer()` returns (the gradient arena and
        1 + n_metrics values after it), for the caller to Allreduce before `apply_gradients`."""
        with self.lock:
            self.reserve(max(1, len(idx)))
            rc = self._lib.seqc_shard_gradients(self._m, self._p(x), self._p(y), self._p(idx, "int32_t *"),
                                                len(idx), float(scale))
        if rc != 0:
            raise RuntimeError("seqc_shard_gradients failed")

    def reduce_buffer(self):
        """The gradient arena plus a batch's loss and metrics: a view of n_params + 1 + n_metrics
        floats (what one data-parallel step sums over the ranks)."""
        if self._reduce is None:
            n = self.n_params + 1 + self.n_metrics
            self._reduce = np.frombuffer(self._ffi.buffer(self._lib.seqc_grads(self._m), 4 * n), dtype=np.float32)
        return self._reduce

    def apply_gradients(self):
        """One optimizer step with the gradient the last `gradients` call left."""
        with self.lock:
            self._lib.seqc_apply_gradients(self._m)

    # ---- recurrent state -------------------------------------------------------------------------
    def reset_states(self):
        """Zero the state every stateful recurrent layer carries."""
        with self.lock:
            self._lib.seqc_reset_states(self._m)

    def reset_state_range(self, offset, n):
        with self.lock:
            if self._lib.seqc_reset_state_range(self._m, int(offset), int(n)) != 0:
                raise ValueError(f"seqc: no state at [{offset}, {offset + n})")

    def get_state_range(self, offset, n):
        """A copy of n floats of the carried state from `offset`."""
        out = np.empty(int(n), np.float32)
        with self.lock:
            if self._lib.seqc_get_state_range(self._m, int(offset), int(n), self._p(out)) != 0:
                raise ValueError(f"seqc: no state at [{offset}, {offset + n})")
        return out

    # ---- threads -------------------------------------------------------------------------------
    def get_threads(self):
        with self.lock:
            return int(self._lib.seqc_get_threads(self._m))

    def set_threads(self, n):
        """Threads this model's kernels use, at most the count it was created for."""
        with self.lock:
            self._lib.seqc_set_threads(self._m, int(n))
