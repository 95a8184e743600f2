"""Data-parallel training over MPI: `mpirun -n N seqc run script.py`.

Every rank (process) holds the whole model. `fit` keeps the single process's semantics at the
same global batch size:

* at the start of `fit` (and of `evaluate`, `predict`, `train_on_batch`) rank 0's weights, and
  for training its optimizer slots, iteration count and learning rate, are broadcast;
* the epoch's permutation is drawn by rank 0 from the same generator, in the same way, as one
  process draws it, and broadcast;
* each global batch of `batch_size` rows is cut into N contiguous shards (sizes differ by at
  most one row; a rank with no rows still takes part). Each rank runs the generated forward
  and backward on its shard (`seqc_shard_gradients`), which leaves in the gradient arena the
  shard's gradient, loss and metrics weighted by its share of the batch's rows; ONE
  `Allreduce` of those n_params + 1 + n_metrics floats per step gives every rank the global
  batch's mean gradient, loss and metrics, and every rank applies the same optimizer update
  (`seqc_apply_gradients`). History therefore equals the single process's up to float
  rounding (the sum of weighted shard means instead of one mean).
* `evaluate` and `predict` give each rank a contiguous range of whole batches (the batches of
  the single process, so each batch's values are the same bits) and gather: every rank
  returns the full result.
* `train_on_batch` is one data-parallel step on the given batch; `test_on_batch` and
  `predict_on_batch` run whole on every rank (no communication);
* progress bars, callback messages (`print_msg`, and whatever callbacks print to stdout) and
  files (`fileio.atomic_write`: weights, checkpoints, CSV logs) come from rank 0 only.

Dropout masks differ between ranks (each rank's model seed is mixed with its rank). A layer
whose statistics were per batch would see its shard's rows only (as Keras's data-parallel
training does without synchronised statistics). Stateful recurrent models carry state per
sample, which belongs to one rank: `fit` refuses them; `evaluate` and `predict` run whole on
every rank. A metric computed per batch rather than per sample (a user function returning one
value) is combined as the row-weighted mean of the shards' values, exact when the function is
a mean over the batch.

Threads: each rank's kernels use OMP_NUM_THREADS, by default the host's cores divided by the
ranks on that host. The build cache is shared by the ranks: a build holds a file lock and
checks the cache again under it (seqc.build), so ranks compiling the same model at once build
it once. A rank that fails (an exception, a non-zero exit of `seqc run`) calls MPI_Abort,
which ends the job instead of leaving the other ranks waiting in a collective.

Detection: `seqc run` and the first model created call `current()`, which initialises MPI when
the environment says the process was started by mpirun/mpiexec with more than one rank (Open
MPI, MPICH/Hydra, Intel MPI, MVAPICH, PMIx launchers); `init()` does it explicitly. mpi4py is
imported only then (the `seqc[mpi]` extra).
"""
import contextlib
import os
import sys

import numpy as np

from .errors import SeqcError

INSTALL = "pip install 'seqc[mpi]'"

# world size, as the launchers export it (Open MPI, MPICH/Hydra and Intel MPI, MVAPICH2)
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
# rank variables: a PMIx launcher may export the rank without the size
_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")

_world = None        # the World once MPI is initialised with more than one rank
_checked = False     # the environment has been looked at (current() is then one test)


def launched():
    """Did mpirun (or another MPI launcher) start this process as one of several ranks?"""
    for var in _SIZE_VARS:
        value = os.environ.get(var, "").strip()
        if value.isdigit():
            return int(value) > 1
    return any(os.environ.get(var, "").strip().isdigit() for var in _RANK_VARS)


def _env_rank():
    for var in _RANK_VARS:
        value = os.environ.get(var, "").strip()
        if value.isdigit():
            return int(value)
    return 0


class World:
    """The ranks of MPI_COMM_WORLD and the few collectives seqc uses."""

    def __init__(self, comm, mpi):
        self.comm = comm
        self.MPI = mpi
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.root = self.rank == 0

    def shard(self, n):
        """This rank's contiguous [lo, hi) of n items: sizes differ by at most one, the first
        n % size ranks take one more (some ranks get none when n < size)."""
        q, r = divmod(n, self.size)
        lo = self.rank * q + min(self.rank, r)
        return lo, lo + q + (self.rank < r)

    def agree(self, what, **values):
        """Check that every rank called `what` with the same values (rows, batch size...): one
        small allgather; every rank sees the same list, so all raise together, none waits."""
        seen = self.comm.allgather(values)
        for rank, other in enumerate(seen):
            if other != seen[0]:
                diff = ", ".join(f"{k}={seen[0][k]!r} on rank 0 but {other[k]!r} on rank {rank}"
                                 for k in values if other[k] != seen[0][k])
                raise ValueError(f"{what} under mpirun: every rank must pass the same data; got {diff}")

    def bcast(self, arr):
        """Rank 0's values into the contiguous numpy array `arr` on every rank (in place)."""
        if arr.size:
            self.comm.Bcast(arr, root=0)
        return arr

    def allreduce_sum(self, arr):
        """The elementwise sum over the ranks, in place (the MPI standard asks that every rank
        get the same result; Open MPI's and MPICH's algorithms give it)."""
        self.comm.Allreduce(self.MPI.IN_PLACE, arr, op=self.MPI.SUM)
        return arr

    def allgather_rows(self, local, n, row_shape):
        """Every rank's float32 rows (local: this rank's, in rank order) concatenated: n rows."""
        per_row = int(np.prod(row_shape, dtype=np.int64))
        counts = np.array(self.comm.allgather(local.shape[0]), np.int64) * per_row
        out = np.empty((n,) + tuple(row_shape), np.float32)
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.comm.Allgatherv(np.ascontiguousarray(local, np.float32),
                             [out, counts.tolist(), displs.tolist(), self.MPI.FLOAT])
        return out

    def abort(self, code=1):
        """End the whole job (every rank) now."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        self.comm.Abort(int(code) if code else 1)


def init():
    """Initialise MPI (idempotent) and return the World, or None when there is one rank.
    Without mpi4py: a SeqcError naming the extra to install (printed by rank 0, whose exit
    status fails the job; the other ranks exit quietly with status 0, so that mpirun does not
    kill rank 0 before it has printed the message)."""
    global _world, _checked
    _checked = True
    if _world is not None:
        return _world
    try:
        from mpi4py import MPI
    except ImportError:
        if _env_rank() != 0:
            raise SystemExit(0)
        raise SeqcError(f"started by mpirun but mpi4py is not installed: {INSTALL}") from None
    comm = MPI.COMM_WORLD
    if comm.Get_size() < 2:
        return None
    world = World(comm, MPI)
    _set_default_threads(comm, MPI)
    _install_excepthook(world)
    _world = world
    return world


def current():
    """The World when this process is one of several MPI ranks, else None (no MPI imported)."""
    if _world is not None or _checked:
        return _world
    return init() if launched() else _mark_checked()


def _mark_checked():
    global _checked
    _checked = True
    return None


def is_root():
    """True except on the ranks other than 0 of a data-parallel run (files, prints: rank 0)."""
    return _world is None or _world.root


class _Discard:
    """A text stream that drops what is written to it."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def rank_zero_prints():
    """Context manager: what the block prints to stdout is dropped on ranks other than 0."""
    if is_root():
        return contextlib.nullcontext()
    return contextlib.redirect_stdout(_Discard())


def abort_if_running(code=1):
    """After a failure: MPI_Abort, so the other ranks do not wait forever in a collective."""
    if _world is not None:
        _world.abort(code)


def _set_default_threads(comm, mpi):
    """OMP_NUM_THREADS, when unset: the host's cores shared by the ranks on this host. Set
    before the first model library loads (OpenMP reads it then)."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    local = comm.Split_type(mpi.COMM_TYPE_SHARED)
    try:
        on_host = local.Get_size()
    finally:
        local.Free()
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // on_host))


def _install_excepthook(world):
    previous = sys.excepthook

    def abort_on_exception(kind, value, tb):
        previous(kind, value, tb)
        world.abort(1)

    sys.excepthook = abort_on_exception


def rank_seed(seed):
    """A model's dropout seed for this rank: rank 0 keeps `seed`, others get their own stream."""
    if _world is None or _world.rank == 0:
        return seed
    return (seed ^ (0x9E3779B97F4A7C15 * _world.rank)) & 0xFFFFFFFFFFFFFFFF


# ---- the data-parallel runtime (called by seqc.runtime.model) ---------------------------------
def sync_from_root(world, engine, optimizer=True):
    """Rank 0's weights (and optimizer slots, iteration count, learning rate) on every rank."""
    with engine.lock:
        world.bcast(engine.params)
        if optimizer:
            world.bcast(engine.slots)
            scalars = np.array([engine.get_iterations(), engine.get_learning_rate()], np.float64)
            world.bcast(scalars)
            engine.set_iterations(int(scalars[0]))
            engine.set_learning_rate(float(scalars[1]))


def train(world, engine, x, y, idx, batch):
    """seqc_train's result (rows: each batch's loss and metrics) for rows idx in batches of
    `batch`, data-parallel: per batch, this rank's shard, one Allreduce, the update."""
    n = len(idx)
    steps = -(-n // batch)
    out = np.empty((steps, 1 + engine.n_metrics), np.float32)
    buf = engine.reduce_buffer()
    p = engine.n_params
    for b in range(steps):
        rows = idx[b * batch:min(n, (b + 1) * batch)]
        lo, hi = world.shard(len(rows))
        engine.shard_gradients(x, y, rows[lo:hi], (hi - lo) / len(rows))
        world.allreduce_sum(buf)
        engine.apply_gradients()
        out[b] = buf[p:]
    return out


def _batch_range(world, n, batch):
    """This rank's rows [lo, hi): a contiguous run of the whole batches of n rows."""
    lo, hi = world.shard(-(-n // batch))
    return lo * batch, min(n, hi * batch)


def evaluate(world, engine, x, y, batch):
    """seqc_evaluate's per-batch rows over all n rows: each rank evaluates its batches."""
    n = x.shape[0]
    lo, hi = _batch_range(world, n, batch)
    local = engine.evaluate(x[lo:hi], y[lo:hi], batch) if hi > lo else np.empty((0, 1 + engine.n_metrics),
                                                                                 np.float32)
    return world.allgather_rows(local, -(-n // batch), (1 + engine.n_metrics,))


def predict(world, engine, x, batch):
    """The outputs for all rows: each rank predicts its batches, every rank gets them all."""
    n = x.shape[0]
    lo, hi = _batch_range(world, n, batch)
    local = engine.predict(x[lo:hi], batch)
    return world.allgather_rows(local, n, tuple(engine.desc.output_shape))
