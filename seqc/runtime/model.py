"""The Keras-compatible model object over a compiled library: fit, evaluate, predict, weights.

`Model(desc, lib_path)` is what a compiled package's `NAME.Model(seed=None)` returns and what
`seqc.keras.models.Sequential` delegates to after `compile`. Python runs once per epoch (or per
progress-bar refresh); between batches everything happens in C.
"""
import math
import os
import time

import numpy as np

from . import callbacks as cbmod
from . import data
from .. import distributed, initializers
from . import metric_state as _stateful
from .engine import Engine

_F32 = np.dtype(np.float32)

_GLOBAL_SEED = [None]


def set_random_seed(seed):
    """`keras.utils.set_random_seed`: seeds weight init, shuffling and dropout in seqc."""
    _GLOBAL_SEED[0] = int(seed)
    np.random.seed(int(seed) % (2 ** 32))
    _rng_state["rng"] = np.random.default_rng(int(seed))


_rng_state = {"rng": np.random.default_rng()}


def global_rng():
    return _rng_state["rng"]


class _OptimizerHandle:
    """`model.optimizer` of a compiled package's model: learning rate and iteration count live in C."""

    def __init__(self, engine, desc):
        self._engine = engine
        self._desc = desc
        self.name = desc.optimizer.kind

    @property
    def learning_rate(self):
        return float(np.float32(self._engine.current_learning_rate()))

    @learning_rate.setter
    def learning_rate(self, value):
        self._engine.set_learning_rate(float(value))

    lr = learning_rate

    @property
    def iterations(self):
        return self._engine.get_iterations()

    def get_config(self):
        return dict(self._desc.optimizer.config)


class Model:
    """`desc`: the ModelDescription; `lib_path`: its compiled library. `respecialize`, given by
    seqc.keras's Sequential, is a callable(y_shape) -> Model for labels of another shape.

    One Model may be shared by Python threads: each call into its Engine is serialised."""

    _keras_model = None     # the seqc.keras Sequential this model runs for, if any (files need its config)
    _initial_epoch = None   # the epoch a restored backup resumes at (BackupAndRestore; kept, as Keras keeps it)

    def __init__(self, desc, lib_path, seed=None, weights=None, respecialize=None):
        self.desc = desc
        distributed.current()    # under mpirun: MPI first (it sets each rank's OpenMP threads)
        self._engine = Engine(desc, lib_path)
        self.stop_training = False
        self.history = None
        self.optimizer = _OptimizerHandle(self._engine, desc)
        self.metrics_names = ["loss"] + [m.name for m in desc.metrics]
        self.metrics = [m.name for m in desc.metrics]
        self.name = desc.name
        self._respecialize = respecialize
        # batch-1 predict's fast path (predict_on_batch, __call__): the per-sample shape of a
        # float32 C-contiguous x that needs no other check (no index range, not stateful, a
        # sample not a scalar: a 0-d x's shape[1:] is () too), or None, which no shape[1:] equals
        self._plain_x = None if desc.index_range or desc.stateful or not desc.input_shape else \
            tuple(desc.input_shape)
        rng = np.random.default_rng(seed) if seed is not None else global_rng()
        self._engine.set_seed(distributed.rank_seed(int(rng.integers(0, 2 ** 63))))
        if weights is None:
            weights = initial_weights(desc, rng)
        self.set_weights(weights)

    @property
    def engine(self):
        """The Engine that owns this model's C instance."""
        return self._engine

    # ---- shapes and names -------------------------------------------------------------------
    @property
    def input_shape(self):
        return (self.desc.batch_size,) + tuple(self.desc.input_shape)

    @property
    def output_shape(self):
        return (self.desc.batch_size,) + tuple(self.desc.output_shape)

    # ---- weights ----------------------------------------------------------------------------
    def get_weights(self):
        return self._engine.get_weights()

    def set_weights(self, weights):
        params = self.desc.params
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"set_weights: the model has {len(params)} weight arrays "
                             f"({', '.join(w.name for w in params)}), got {len(weights)}")
        arrays = []
        for w, a in zip(params, weights):
            a = data.as_float_array(a, f"weight {w.name}")
            if tuple(a.shape) != w.shape:
                raise ValueError(f"set_weights: {w.name} has shape {w.shape}, got {tuple(a.shape)}")
            arrays.append(a)
        self._engine.set_weights(arrays)

    def take_state_from(self, other):
        """Weights and optimizer state (slots, iterations, learning rate) of another
        specialisation of the same model (other labels or another input length)."""
        if other is not self:
            self.set_weights(other.get_weights())
            self._engine.copy_optimizer_state_from(other.engine)

    def save_weights(self, filepath, overwrite=True):
        """Keras 3's `.weights.h5` layout (with the optimizer state), or seqc's `.npz` archive
        when the name ends in .npz (seqc.keras.saving)."""
        from ..keras import saving
        saving.save_weights(self._keras_model or self, filepath, overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """`.weights.h5` / `.keras` (Keras 3), `.h5` (Keras 2, matched by position), `.npz`."""
        from ..keras import saving
        saving.load_weights(self._keras_model or self, filepath, skip_mismatch, **kwargs)

    def save(self, filepath, overwrite=True, **kwargs):
        from ..keras import saving
        saving.save_model(self._keras_model or self, filepath, overwrite, **kwargs)

    def reset_states(self, layer_name=None):
        """Zero the state that stateful recurrent layers carry across batches and calls (of one
        layer when `layer_name` is given)."""
        if layer_name is None:
            self._engine.reset_states()
            return
        where = (self.desc.states or {}).get(layer_name)
        if where is not None:
            self._engine.reset_state_range(*where)

    def layer_states(self, layer_name):
        """A stateful layer's carried state as numpy arrays, [h, c] (LSTM) or [h], each
        (batch, units); None for a layer that carries none."""
        where = (self.desc.states or {}).get(layer_name)
        if where is None:
            return None
        out = self._engine.get_state_range(*where)
        batch = self.desc.batch_size
        units = self.desc.layer(layer_name).output_shape[-1]
        return [part.reshape(batch, units) for part in np.split(out, where[1] // (batch * units))]

    def _check_stateful_rows(self, n, what, batch_size=None):
        """A stateful model runs whole batches of its fixed size only. As in Keras, the batches
        are those of `batch_size` (None: 32, Keras's default): n samples make batches of
        batch_size and a remainder, or one batch of n when n <= batch_size."""
        fixed = self.desc.batch_size
        if not self.desc.stateful:
            return
        if n % fixed:
            raise ValueError(f"{what}: a stateful model runs whole batches of {fixed} samples (its batch_input_shape); "
                             f"got {n} samples, which is not a multiple of {fixed}")
        requested = 32 if batch_size is None else batch_size
        batches = {n} if n <= requested else {requested} | ({n % requested} if n % requested else set())
        if n and batches != {fixed}:
            raise ValueError(f"{what}: a stateful model takes batches of exactly {fixed} samples (its "
                             f"batch_input_shape), but batch_size={batch_size} over {n} samples makes batches of "
                             f"{', '.join(map(str, sorted(batches)))}: pass batch_size={fixed}")

    # ---- data helpers -----------------------------------------------------------------------
    def _x(self, x, what="x"):
        arr = data.check_x(x, self.desc.input_shape, what)
        if self.desc.index_range:
            data.check_indices(arr, self.desc.index_range, what)
        return arr

    def _target(self, y, n, what="y"):
        """The model specialised for these labels, and the labels as float32."""
        y = data.as_float_array(y, what)
        shape = data.label_shape(y, n)
        model = self
        if not data.same_label_shape(shape, tuple(self.desc.y_shape)):
            if self._respecialize is None or math.prod(shape) == math.prod(tuple(self.desc.y_shape)):
                raise ValueError(f"{what} has per-sample shape {shape}, the compiled loss expects {tuple(self.desc.y_shape)}")
            model = self._respecialize(shape)
        classes = self.desc.num_classes if model.desc.sparse_labels else None
        arr = data.check_y(y, n, model.desc.y_shape, what, sparse_classes=classes)
        return model, arr.reshape((n,) + model.desc.y_shape)

    def _check_batch(self, batch_size, default=32):
        return data.check_batch_size(batch_size, self.desc.batch_size or default)

    # ---- training ---------------------------------------------------------------------------
    def _aggregate(self, out, sizes, wsums=None):
        """Keras's epoch values from per-batch [loss, metrics...] rows and batch sizes; a
        weighted metric's batch values (weighted means) weigh by the batch's weight sums
        `wsums` (the batch sizes when there are no sample weights)."""
        # (elementwise products, not np.dot: a BLAS call would wake numpy's spinning threads)
        sizes = np.asarray(sizes, np.float64)
        total = sizes.sum()
        logs = {"loss": float((out[:, 0] * sizes).sum() / total)}
        c = 1
        for m in self.desc.metrics:
            if m.columns != 1 or (m.stateful and m.stateful["kind"] == "confusion"):   # counts: summed
                logs[m.name] = _stateful.result(m.stateful, out[:, c:c + m.columns].astype(np.float64).sum(axis=0))
                c += m.columns
                continue
            col = out[:, c].astype(np.float64)
            c += 1
            if m.weighted and wsums is not None:
                ws = np.asarray(wsums, np.float64)[:len(col)]
                wt = ws.sum()
                value = float((col * ws).sum() / wt) if wt != 0 else 0.0
            else:
                value = float((col * sizes).sum() / total) if m.per_sample else float(col.mean())
            logs[m.name] = _stateful.finish(m.stateful, value)
        return logs

    @staticmethod
    def _weight_sums(sw, rows, batch):
        """The sums of the sample weights of each batch of `rows` (indices into sw)."""
        w = sw[rows].astype(np.float64)
        return [float(w[i:i + batch].sum()) for i in range(0, len(w), batch)]

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        class_weight = data.check_class_weight(class_weight, sample_weight)
        verbose = data.check_verbose(verbose)
        requested_batch = batch_size
        batch_size = self._check_batch(batch_size)
        validation_batch_size = data.check_batch_size(validation_batch_size, None, "validation_batch_size")
        epochs, initial_epoch = data.check_epochs(epochs, initial_epoch)
        validation_split = data.check_validation_split(validation_split)
        should_validate = data.check_validation_freq(validation_freq)
        shuffle = data.check_shuffle(shuffle)
        callbacks = data.check_callbacks(callbacks)
        x = self._x(x)
        n = x.shape[0]
        sw = data.check_sample_weight(sample_weight, n)
        model, y = self._target(y, n)
        if model is not self:
            return model.fit(x, y, requested_batch, epochs, verbose, callbacks, validation_split, validation_data,
                             shuffle, class_weight, sw, initial_epoch, steps_per_epoch, validation_steps,
                             validation_batch_size, validation_freq)
        swv = None
        if validation_data is not None:
            xv, yv, swv = data.check_validation_data(validation_data)
            xv = self._x(xv, "validation x")
            if xv.shape[0] == 0:
                raise ValueError("`validation_data` has no samples")
            swv = data.check_sample_weight(swv, xv.shape[0], "validation sample_weight")
            _, yv = self._target(yv, xv.shape[0], "validation y")
        elif validation_split:
            split = int(math.floor(n * (1.0 - validation_split)))
            if split == 0 or split == n:
                raise ValueError(f"validation_split={validation_split} leaves no rows to train or validate on "
                                 f"({n} samples)")
            xv, yv = x[split:], y[split:]
            if sw is not None:
                sw, swv = sw[:split], sw[split:]
            x, y, n = x[:split], y[:split], split
        else:
            xv = yv = None
        if class_weight is not None:     # Keras: the training data only
            sw = data.class_weight_to_sample_weight(class_weight, y)
        if n == 0:
            raise ValueError("fit needs at least one sample")
        fixed = self.desc.batch_size
        if self.desc.stateful:
            self._check_stateful_rows(n, "fit", requested_batch)
            if xv is not None:
                self._check_stateful_rows(xv.shape[0], "validation data", validation_batch_size or requested_batch)
            if shuffle is True:
                import warnings
                warnings.warn("fit(shuffle=True) on a stateful model reorders the samples between batches, so the "
                              "carried state no longer follows each sequence; pass shuffle=False", stacklevel=3)
        if fixed and batch_size != fixed:
            batch_size = fixed
        batch_size = data.rows_per_batch(batch_size, n)
        world = self._world("fit")
        if world is not None and not world.root:
            verbose = 0              # progress: rank 0 only
        steps = -(-n // batch_size)
        cbs = cbmod.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                 verbose=verbose, epochs=epochs, steps=steps)
        per_batch = cbs.needs_train_batch_hooks if hasattr(cbs, "needs_train_batch_hooks") else cbs.needs_batch_hooks
        self.stop_training = False
        rng = global_rng()
        if world is not None:
            world.agree("fit", rows=n, batch_size=batch_size, epochs=epochs, shuffle=shuffle,
                        validation_rows=None if xv is None else xv.shape[0])
            distributed.sync_from_root(world, self._engine)
        cbs.on_train_begin()
        initial_epoch = self._initial_epoch or initial_epoch     # a BackupAndRestore resumes (as Keras)
        logs = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            idx = (rng.permutation(n) if shuffle and shuffle != "batch" else
                   np.arange(n)).astype(np.int32)
            if shuffle == "batch":
                idx = _batch_shuffle(idx, batch_size, rng)
            if world is not None and shuffle:
                world.bcast(idx)      # rank 0's permutation, drawn as one process draws it
            outs, sizes, wsums = [], [], []
            done = 0
            chunk = 1 if (per_batch or verbose == 1) else steps
            while done < steps:
                k = min(chunk, steps - done)
                if per_batch:
                    cbs.on_train_batch_begin(done)
                t0 = time.perf_counter()
                rows = idx[done * batch_size:min(n, (done + k) * batch_size)]
                out = self._train_rows(world, x, y, rows, batch_size, sw)
                dt = time.perf_counter() - t0
                outs.append(out)
                sizes.extend(min(batch_size, n - (done + j) * batch_size) for j in range(k))
                if sw is not None:
                    wsums.extend(self._weight_sums(sw, rows, batch_size))
                done += k
                running = self._aggregate(np.concatenate(outs), sizes, wsums if sw is not None else None)
                cbs.on_train_batch_end(done - 1, running)
                if self.stop_training:
                    break
                if not per_batch and verbose == 1:   # refresh the bar about every 0.1 s
                    chunk = max(1, min(steps, int(0.1 / max(dt / k, 1e-9))))
            logs = self._aggregate(np.concatenate(outs), sizes, wsums if sw is not None else None)
            if xv is not None and should_validate(epoch):
                vb = data.rows_per_batch(validation_batch_size or batch_size, xv.shape[0])
                val = self._evaluate_arrays(xv, yv, vb, cbs, swv)
                logs.update({"val_" + k: v for k, v in val.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return cbs.history

    # ---- data-parallel runs (seqc.distributed) ----------------------------------------------
    def _world(self, training=None):
        """The MPI world when this call runs data-parallel, else None. `training`: the name
        of a training call, which a stateful model refuses under mpirun (its evaluate and
        predict run whole on every rank)."""
        world = distributed.current()
        if world is None or not self.desc.stateful:
            return world
        if training:
            raise ValueError(f"{training}: a stateful model cannot train data-parallel under mpirun (the state "
                             "it carries belongs to samples of one rank); run it in one process")
        return None

    def _verbose(self, verbose):
        return verbose if distributed.is_root() else 0     # progress: rank 0 only

    def _train_rows(self, world, x, y, rows, batch_size, sw=None):
        """Train on rows (int32 indices into x, y) in batches: seqc_train, or under mpirun one
        data-parallel step per batch. Per-batch [loss, metrics...] rows. `sw`: sample weights."""
        if world is None:
            return self._engine.train(x, y, rows, batch_size, sw)
        self._no_weights_under_mpi(sw)
        return distributed.train(world, self._engine, x, y, rows, batch_size)

    def _no_weights_under_mpi(self, sw):
        if sw is not None:
            raise ValueError("sample_weight / class_weight under mpirun: not supported by seqc yet (train "
                             "weighted in one process)")
        if any(getattr(m, "stateful", None) for m in self.desc.metrics):
            raise ValueError("metrics that accumulate over an epoch (Precision, Recall, AUC, ...) under mpirun: "
                             "not supported by seqc yet")

    def _predict_batches(self, x, batch_size):
        """Outputs for every row of x (every rank: all rows)."""
        world = self._world()
        if world is None:
            return self._engine.predict(x, batch_size)
        world.agree("predict", rows=x.shape[0], batch_size=batch_size)
        distributed.sync_from_root(world, self._engine, optimizer=False)
        return distributed.predict(world, self._engine, x, batch_size)

    def _evaluate_batches(self, x, y, batch_size, sw=None):
        """Per-batch [loss, metrics...] of rows in batches of batch_size (every rank: all rows)."""
        world = self._world()
        if world is None:
            return self._engine.evaluate(x, y, batch_size, sw=sw)
        self._no_weights_under_mpi(sw)
        world.agree("evaluate", rows=x.shape[0], batch_size=batch_size)
        distributed.sync_from_root(world, self._engine, optimizer=False)
        return distributed.evaluate(world, self._engine, x, y, batch_size)

    def _evaluate_arrays(self, x, y, batch_size, cbs=None, sw=None):
        if cbs is not None:
            cbs.on_test_begin()
        out = self._evaluate_batches(x, y, batch_size, sw)
        n = x.shape[0]
        sizes = [min(batch_size, n - i * batch_size) for i in range(out.shape[0])]
        logs = self._aggregate(out, sizes, None if sw is None else self._weight_sums(sw, np.arange(n), batch_size))
        if cbs is not None:
            cbs.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        verbose = data.check_verbose(verbose)
        requested_batch = batch_size
        batch_size = self._check_batch(batch_size)
        callbacks = data.check_callbacks(callbacks)
        x = self._x(x)
        sw = data.check_sample_weight(sample_weight, x.shape[0])
        model, y = self._target(y, x.shape[0])
        if model is not self:
            return model.evaluate(x, y, requested_batch, verbose, sw, steps, callbacks, return_dict)
        if x.shape[0] == 0:
            raise ValueError("evaluate needs at least one sample")
        self._check_stateful_rows(x.shape[0], "evaluate", requested_batch)
        if self.desc.stateful:
            batch_size = self.desc.batch_size
        batch_size = data.rows_per_batch(batch_size, x.shape[0])
        steps_n = -(-x.shape[0] // batch_size)
        verbose = self._verbose(verbose)
        cbs = cbmod.CallbackList(callbacks, add_history=False, add_progbar=verbose != 0, model=self,
                                 verbose=verbose, epochs=1, steps=steps_n)
        cbs.on_test_begin()
        out = self._evaluate_batches(x, y, batch_size, sw)
        n = x.shape[0]
        sizes = [min(batch_size, n - i * batch_size) for i in range(out.shape[0])]
        logs = self._aggregate(out, sizes, None if sw is None else self._weight_sums(sw, np.arange(n), batch_size))
        cbs.on_test_batch_end(steps_n - 1, logs)
        cbs.on_test_end(logs)
        if return_dict:
            return dict(sorted(logs.items()))   # Keras 3 sorts the keys
        vals = [logs[k] for k in self.metrics_names]
        return vals[0] if len(vals) == 1 else vals

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        verbose = data.check_verbose(verbose)
        requested_batch = batch_size
        batch_size = self._check_batch(batch_size)
        callbacks = data.check_callbacks(callbacks)
        x = self._x(x)
        self._check_stateful_rows(x.shape[0], "predict", requested_batch)
        if self.desc.stateful:
            batch_size = self.desc.batch_size
        batch_size = data.rows_per_batch(batch_size, x.shape[0])
        steps_n = max(1, -(-x.shape[0] // batch_size))
        verbose = self._verbose(verbose)
        if not callbacks and verbose == 0:
            return self._predict_batches(x, batch_size)     # no hook to call, no bar to draw
        cbs = cbmod.CallbackList(callbacks, add_history=False, add_progbar=verbose != 0, model=self,
                                 verbose=verbose, epochs=1, steps=steps_n)
        cbs.on_predict_begin()
        out = self._predict_batches(x, batch_size)
        cbs.on_predict_batch_end(steps_n - 1, {"outputs": out})
        cbs.on_predict_end()
        return out

    def _is_plain_x(self, x):
        """x is a non-empty float32 C-contiguous ndarray of the model's per-sample shape, for
        a model without index inputs or a fixed batch: what check_x would return unchanged and
        nothing else would refuse. (The common case, checked first so batch-1 predict stays cheap.)"""
        return type(x) is np.ndarray and x.dtype is _F32 and x.shape[1:] == self._plain_x \
            and x.flags.c_contiguous and x.shape[0] > 0       # (shape[1:] equal: the rank is right)

    def __call__(self, x, training=False):
        if self._is_plain_x(x):
            return self._engine.predict(x, x.shape[0])
        x = self._x(x)
        if x.shape[0] == 0 or self.desc.stateful:       # the checks and messages of predict()
            return self.predict(x, batch_size=max(1, len(x)), verbose=0)
        return self._engine.predict(x, x.shape[0])      # one batch: as predict_on_batch

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        class_weight = data.check_class_weight(class_weight, sample_weight)
        x = self._x(x)
        self._check_batch_size(x)
        sw = data.check_sample_weight(sample_weight, x.shape[0])
        model, y = self._target(y, x.shape[0])
        if model is not self:
            return model.train_on_batch(x, y, sample_weight=sw, class_weight=class_weight, return_dict=return_dict)
        if class_weight is not None:
            sw = data.class_weight_to_sample_weight(class_weight, y)
        world = self._world("train_on_batch")
        if world is not None:
            world.agree("train_on_batch", rows=x.shape[0])
            distributed.sync_from_root(world, self._engine)
        out = self._train_rows(world, x, y, np.arange(x.shape[0], dtype=np.int32), max(1, x.shape[0]), sw)
        return self._batch_result(out, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        x = self._x(x)
        self._check_batch_size(x)
        sw = data.check_sample_weight(sample_weight, x.shape[0])
        model, y = self._target(y, x.shape[0])
        if model is not self:
            return model.test_on_batch(x, y, sample_weight=sw, return_dict=return_dict)
        out = self._engine.evaluate(x, y, max(1, x.shape[0]), sw=sw)
        return self._batch_result(out, return_dict)

    def predict_on_batch(self, x):
        if self._is_plain_x(x):
            return self._engine.predict(x, x.shape[0])
        x = self._x(x)
        self._check_batch_size(x)
        return self._engine.predict(x, max(1, x.shape[0]))

    def _check_batch_size(self, x):
        if x.shape[0] == 0:
            raise ValueError("x has no samples (shape " + data._fmt(x.shape) + ")")
        fixed = self.desc.batch_size
        if self.desc.stateful and x.shape[0] != fixed:
            raise ValueError(f"this stateful model takes batches of exactly {fixed} samples, got {x.shape[0]}")

    def _batch_result(self, out, return_dict):
        logs = self._aggregate(out[:1], [1])
        if return_dict:
            return dict(sorted(logs.items()))   # Keras 3 sorts the keys
        vals = [logs[k] for k in self.metrics_names]
        return vals[0] if len(vals) == 1 else vals

    # ---- summary ----------------------------------------------------------------------------
    def summary(self, print_fn=None, **kwargs):
        if print_fn is None and not distributed.is_root():
            return                   # under mpirun: rank 0 prints
        print_fn = print_fn or print
        print_fn(format_summary(self.desc))


def initial_weights(desc, rng):
    """Freshly initialised weight arrays of a description, drawn from `rng` in Keras's order."""
    return [initializers.initialize(p.initializer, p.shape, rng) for p in desc.params]


def write_weights(filepath, weights, names, overwrite=True):
    """`save_weights`: the arrays in get_weights order, as a numpy .npz archive at `filepath`,
    written to a temporary file and renamed over it (a killed save leaves the old file whole)."""
    from ..fileio import atomic_write
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"{filepath} exists and overwrite=False")
    with atomic_write(filepath, "wb") as f:
        np.savez(f, **{f"w{i:04d}": w for i, w in enumerate(weights)}, names=np.array(names))


def read_weights(filepath):
    """The arrays written by `write_weights`, in order."""
    with np.load(os.fspath(filepath)) as z:
        return [z[k] for k in sorted(k for k in z.files if k.startswith("w"))]


def _batch_shuffle(idx, batch, rng):
    blocks = [idx[i:i + batch] for i in range(0, len(idx), batch)]
    order = rng.permutation(len(blocks))
    return np.concatenate([blocks[i] for i in order]).astype(np.int32)


def _human_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024


def format_summary(desc, optimizer=None):
    """Keras 3's summary table, plus the kernels seqc fused. `optimizer`: the optimizer's
    variables once it is built (Keras 3 counts them from its first training step on)."""
    rows = [(f"{row.name} ({row.kind})", "(" + ", ".join(["None"] + [str(d) for d in row.output_shape]) + ")",
             f"{row.params:,}") for row in desc.layers]
    trainable = sum(p.size for p in desc.params if p.trainable)
    lines = [summary_table(desc.name, rows, desc.num_params, trainable, optimizer)]
    if desc.fused:
        lines.append(" Fused kernels (seqc):")
        lines.extend(f"   {f}" for f in desc.fused)
    return "\n".join(lines)


def summary_table(name, rows, total, trainable, optimizer=None):
    """The box of Keras 3's summary: `rows` of (layer (type), output shape, param #) strings;
    with `optimizer` (its variables) an 'Optimizer params' line, counted in the total as Keras
    counts it."""
    w1, w2, w3 = 33, 24, 15
    lines = [f'Model: "{name}"']
    lines.append("┏" + "━" * w1 + "┳" + "━" * w2 + "┳" + "━" * w3 + "┓")
    lines.append("┃ " + "Layer (type)".ljust(w1 - 2) + " ┃ " + "Output Shape".ljust(w2 - 2) + " ┃ "
                 + "Param #".rjust(w3 - 2) + " ┃")
    lines.append("┡" + "━" * w1 + "╇" + "━" * w2 + "╇" + "━" * w3 + "┩")
    for i, (label, shape, params) in enumerate(rows):
        lines.append("│ " + label.ljust(w1 - 2) + " │ " + shape.ljust(w2 - 2) + " │ " + params.rjust(w3 - 2) + " │")
        if i + 1 < len(rows):
            lines.append("├" + "─" * w1 + "┼" + "─" * w2 + "┼" + "─" * w3 + "┤")
    lines.append("└" + "─" * w1 + "┴" + "─" * w2 + "┴" + "─" * w3 + "┘")
    opt_count = sum(int(np.size(v)) for v in optimizer) if optimizer else 0
    opt_bytes = 4 * opt_count            # as Keras 3 on torch counts them (on TensorFlow the int64 step: 8)
    lines.append(f" Total params: {total + opt_count:,} ({_human_bytes(4 * total + opt_bytes)})")
    lines.append(f" Trainable params: {trainable:,} ({_human_bytes(4 * trainable)})")
    lines.append(f" Non-trainable params: {total - trainable:,} ({_human_bytes(4 * (total - trainable))})")
    if opt_count:
        lines.append(f" Optimizer params: {opt_count:,} ({_human_bytes(opt_bytes)})")
    return "\n".join(lines)
