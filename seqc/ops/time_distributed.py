"""TimeDistributed(layer): the inner layer applied to every slice x[:, t] of a (batch, steps,
...) input, with one set of weights.

No op kind of its own: the inner layer is lowered as usual on one slice's shape, and each op it
makes is marked `steps = T`. Buffers are batch-major, so the T slices of the B samples are
B * T consecutive rows of one slice each: the op's kernels run unchanged with B * T as their
batch (ops.base.per_step) and the memory plan gives them T slices per sample. The output is
the last op's tensor seen with its whole shape (T, ...), as Flatten aliases a buffer. Weights
are the inner layer's, in Keras's order, named after the wrapper (Keras's get_weights of
TimeDistributed is its layer's).
"""

from ..errors import SeqcError
from ..ir import Tensor
from ..spec import LayerSpec
from .base import LAYERS, kind_of
from .shapes import fmt


def lower_TimeDistributed(b, layer, x):
    inner = layer.config["layer"]
    if len(x.shape) < 2:
        raise SeqcError(f"layer {layer.name!r} (TimeDistributed) needs an input with at least 3 dimensions "
                        f"(batch, steps, ...), got {fmt(x.shape)}", layer.loc)
    if inner.kind not in LAYERS:
        raise SeqcError(f"layer {layer.name!r}: TimeDistributed({inner.kind}) is not supported by seqc", layer.loc)
    steps = x.shape[0]
    spec = LayerSpec(kind=inner.kind, name=layer.name,
                     config=dict(inner.config, trainable=inner.config.get("trainable", True) and
                                 layer.config.get("trainable", True)), loc=layer.loc)
    b.cnames[id(spec)] = b.cnames[id(layer)]
    n_ops = len(b.ops)
    y = LAYERS[inner.kind](b, spec, Tensor(x.name, x.shape[1:]))
    for op in b.ops[n_ops:]:
        kind = kind_of(op)
        if not kind.time_distributable or kind.state_floats(op, b.spec.batch_size) or kind.sparse_rows_param:
            raise SeqcError(f"layer {layer.name!r}: TimeDistributed({inner.kind}) is not supported by seqc "
                            f"(its {op.kind} op keeps state or adds to the loss)", layer.loc)
        op.steps *= steps
    return Tensor(y.name, (steps,) + tuple(y.shape))
