"""fit / evaluate / predict on batches that a Python object hands out, as Keras 3 takes them: a
generator or iterator yielding `(x, y)` or `(x, y, sample_weight)` (or `x` alone to predict),
or a `keras.utils.PyDataset` / `Sequence` (`len()` batches, `ds[i]`, `on_epoch_end()`).

Each batch runs through the same generated C as arrays do (one `seqc_train` call per batch);
the loop, the running logs and the callbacks follow Keras's fit. A Python generator without
`steps_per_epoch` ends its epoch when it is exhausted, and then has nothing left for the next
one: Keras's "ran out of data" warning, and training stops.
"""
import inspect
import warnings

import numpy as np

from . import callbacks as cbmod
from . import data


class PyDataset:
    """`keras.utils.PyDataset`: subclasses define `__len__` (batches per epoch) and
    `__getitem__(index)` -> `(x, y)` or `(x, y, sample_weight)`; `on_epoch_end()` is called
    after each epoch. `workers`, `use_multiprocessing` and `max_queue_size` are accepted (seqc
    reads the batches in the calling thread)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers, self._use_multiprocessing, self._max_queue_size = workers, use_multiprocessing, max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


Sequence = PyDataset     # Keras 2's name


def is_batch_source(x):
    """A generator / iterator, or an indexable dataset of batches (not an array or a list)."""
    if isinstance(x, PyDataset) or inspect.isgenerator(x):
        return True
    if isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)) or np.isscalar(x):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


class Batches:
    """One epoch's batches of a source, as (x, y, sample_weight) triples (y, sw may be None)."""

    def __init__(self, source, steps=None, shuffle=False, rng=None, what="x"):
        self.source, self.what = source, what
        self.indexable = isinstance(source, PyDataset) or (
            not hasattr(source, "__next__") and hasattr(source, "__getitem__"))
        if self.indexable:
            n = len(source)
            if steps is not None and steps > n:
                steps = n
            self.steps = n if steps is None else steps
        else:
            self.iterator = iter(source)
            self.steps = steps
        self.shuffle, self.rng = shuffle, rng
        self.exhausted = False

    def epoch(self):
        if self.indexable:
            order = np.arange(len(self.source))
            if self.shuffle and self.rng is not None:
                order = self.rng.permutation(order)
            if hasattr(self.source, "on_epoch_begin"):
                self.source.on_epoch_begin()
            for i in order[:self.steps]:
                yield _unpack(self.source[int(i)], self.what)
            if hasattr(self.source, "on_epoch_end"):
                self.source.on_epoch_end()
            return
        count = 0
        while self.steps is None or count < self.steps:
            try:
                item = next(self.iterator)
            except StopIteration:
                if self.steps is not None or count == 0:
                    self.exhausted = True
                return
            count += 1
            yield _unpack(item, self.what)


class ArraySteps:
    """Arrays with `steps_per_epoch`, as Keras 3 iterates them: each epoch takes the next
    `steps` batches of the current pass over the (shuffled) rows, a new pass (a new
    permutation) starting once a pass is used up; an epoch that asks for more batches than a
    pass has left ends early with Keras's ran-out-of-data warning."""

    def __init__(self, x, y, batch_size, steps, shuffle, rng):
        self.x, self.y, self.batch_size, self.steps = x, y, batch_size, steps
        self.shuffle, self.rng = shuffle, rng
        self.n_batches = -(-x.shape[0] // batch_size)
        self.order, self.seen, self.exhausted = None, 0, False

    def epoch(self):
        for _ in range(self.steps):
            if self.seen >= self.n_batches:
                _ran_out("training")
                break
            if self.order is None:
                n = self.x.shape[0]
                self.order = self.rng.permutation(n) if self.shuffle else np.arange(n)
            rows = self.order[self.seen * self.batch_size:(self.seen + 1) * self.batch_size]
            self.seen += 1
            yield self.x[rows], self.y[rows], None
        if self.seen >= self.n_batches:
            self.order, self.seen = None, 0


def _unpack(item, what):
    if isinstance(item, tuple) and len(item) in (1, 2, 3):
        x, y, sw = (tuple(item) + (None, None))[:3]
        return x, y, sw
    if isinstance(item, tuple):
        raise ValueError(f"{what}: a batch must be (x,), (x, y) or (x, y, sample_weight), got a tuple of "
                         f"{len(item)} items")
    return item, None, None


def _ran_out(what):
    warnings.warn(f"Your input ran out of data; interrupting {what}. Make sure that your dataset or generator "
                  "can generate at least `steps_per_epoch * epochs` batches. "
                  "You may need to use the `.repeat()` function when building your dataset.", UserWarning,
                  stacklevel=4)


def _train_batch(model, x, y, sw):
    if y is None:
        raise ValueError("fit: every batch needs labels: (x, y) or (x, y, sample_weight)")
    x = model._x(x)
    target, y = model._target(y, x.shape[0])
    if sw is not None:
        sw = data.check_sample_weight(sw, x.shape[0])
    out = target._engine.train(x, y, np.arange(x.shape[0], dtype=np.int32), max(1, x.shape[0]), sw)
    return target, out[0], x.shape[0], sw


def fit(model, source, epochs, initial_epoch, steps_per_epoch, verbose, callbacks, validation_data,
        validation_steps, shuffle, rng):
    """Keras's fit on a batch source (or on ArraySteps); returns the History."""
    batches = source if isinstance(source, ArraySteps) else Batches(source, steps_per_epoch, shuffle, rng)
    cbs = cbmod.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                             verbose=verbose, epochs=epochs, steps=batches.steps)
    model.stop_training = False
    cbs.on_train_begin()
    initial_epoch = getattr(model, "_initial_epoch", None) or initial_epoch     # set by BackupAndRestore
    logs = {}
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        outs, sizes, wsums = [], [], []      # wsums: each batch's weight sum (weighted metrics)
        weighted = False
        for step, (x, y, sw) in enumerate(batches.epoch()):
            cbs.on_train_batch_begin(step)
            target, out, n, sw = _train_batch(model, x, y, sw)
            if target is not model:          # labels of another shape: the re-specialised model trains on
                return target.fit(source, epochs=epochs, verbose=verbose, callbacks=callbacks,
                                  validation_data=validation_data, shuffle=shuffle, initial_epoch=initial_epoch,
                                  steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
            outs.append(out)
            sizes.append(n)
            weighted = weighted or sw is not None
            wsums.append(float(sw.sum()) if sw is not None else float(n))
            cbs.on_train_batch_end(step, model._aggregate(np.asarray(outs), sizes, wsums if weighted else None))
            if model.stop_training:
                break
        if not outs:
            _ran_out("training")
            break
        logs = model._aggregate(np.asarray(outs), sizes, wsums if weighted else None)
        if validation_data is not None:
            if is_batch_source(validation_data):
                val = evaluate_logs(model, validation_data, validation_steps, cbs)
            else:                                  # (x, y) arrays
                xv, yv = validation_data
                val = model.evaluate(xv, yv, verbose=0, return_dict=True)
            logs.update({"val_" + k: v for k, v in val.items()})
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
        if batches.exhausted:
            _ran_out("training")
            break
    cbs.on_train_end(logs)
    return cbs.history


def evaluate_logs(model, source, steps, cbs=None):
    """Loss and metrics over a batch source (Keras's evaluate), as a dict."""
    if cbs is not None:
        cbs.on_test_begin()
    outs, sizes, wsums = [], [], []
    weighted = False
    for step, (x, y, sw) in enumerate(Batches(source, steps, what="validation data" if cbs else "x").epoch()):
        if y is None:
            raise ValueError("evaluate: every batch needs labels: (x, y) or (x, y, sample_weight)")
        x = model._x(x)
        target, y = model._target(y, x.shape[0])
        if sw is not None:
            sw = data.check_sample_weight(sw, x.shape[0])
        outs.append(target._engine.evaluate(x, y, max(1, x.shape[0]), sw=sw)[0])
        sizes.append(x.shape[0])
        weighted = weighted or sw is not None
        wsums.append(float(sw.sum()) if sw is not None else float(x.shape[0]))
        if cbs is not None:
            cbs.on_test_batch_end(step, model._aggregate(np.asarray(outs), sizes, wsums if weighted else None))
    if not outs:
        raise ValueError("evaluate: the data has no batches")
    logs = model._aggregate(np.asarray(outs), sizes, wsums if weighted else None)
    if cbs is not None:
        cbs.on_test_end(logs)
    return logs


def predict(model, source, steps, verbose, callbacks):
    """Keras's predict on a batch source: the outputs of every batch, concatenated."""
    batches = Batches(source, steps)
    cbs = cbmod.CallbackList(callbacks, add_history=False, add_progbar=verbose != 0, model=model,
                             verbose=verbose, epochs=1, steps=batches.steps)
    cbs.on_predict_begin()
    outs = []
    for step, (x, _, _) in enumerate(batches.epoch()):
        cbs.on_predict_batch_begin(step)
        x = model._x(x)
        outs.append(model._engine.predict(x, max(1, x.shape[0])))
        cbs.on_predict_batch_end(step, {"outputs": outs[-1]})
    cbs.on_predict_end()
    if not outs:
        raise ValueError("predict: the data has no batches")
    return np.concatenate(outs)
