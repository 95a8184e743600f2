"""The typed graph IR.

A Tensor is a per-sample shape (the batch dimension is implicit and bounded at run time) and
float32. An Op reads tensors and parameters and writes one tensor. For a Sequential model the
ops form a chain, but nothing here depends on that beyond `Graph.ops` being in execution order.

Op kinds (each has its shape rule in seqc.lower and its kernels in seqc/templates/):
  dense       y = act(x W + b)           x (..., K) -> (..., N); act elementwise (fused epilogue)
  activation  y = act(x)                 any shape; elementwise or row-wise (softmax, glu, ...)
  dropout     y = x * mask / (1 - rate)  training only; the identity at inference
Loss and metrics are expression graphs (seqc.trace) over y_true and the model output, except
when fusion replaces a final softmax/sigmoid + cross-entropy by one `fused_xent` kernel.
"""
import math
from dataclasses import dataclass, field
from typing import Optional

from .errors import SourceLoc


@dataclass(eq=False)
class Tensor:
    name: str
    shape: tuple                     # per sample, no batch dimension

    @property
    def size(self):
        return math.prod(self.shape)


@dataclass(eq=False)
class Param:
    name: str                        # Keras weight path: 'dense/kernel'
    shape: tuple
    initializer: dict                # seqc.initializers spec
    trainable: bool = True
    offset: int = 0                  # element offset in the flat parameter arena
    layer: str = ""                  # the layer's C name (lower.c_names): 'dense_1'
    role: str = ""                   # 'kernel', 'recurrent_kernel', 'bias', 'embeddings'
    regularizer: Optional[dict] = None   # {'l1', 'l2'}: the penalty added to the loss
    constraint: Optional[dict] = None    # {'kind', ...; 'blocks': (outer, reduced, inner)} after each update

    @property
    def size(self):
        return math.prod(self.shape)


@dataclass(eq=False)
class Op:
    kind: str
    name: str                        # the layer it came from (Keras's name, for messages)
    inputs: list                     # [Tensor]
    output: Tensor
    params: dict = field(default_factory=dict)   # role -> Param ('kernel', 'bias')
    attrs: object = None             # the kind's frozen dataclass (seqc/ops/<kind>.py)
    loc: Optional[SourceLoc] = None
    # set by passes:
    save_pre: bool = False           # keep the pre-activation z for the backward pass
    grad_is_pre: bool = False        # the incoming gradient is already w.r.t. the pre-activation
    needs_dx: bool = True            # propagate the gradient to the input
    steps: int = 1                   # TimeDistributed: the op runs on each of `steps` slices of a
                                     # sample (its tensors' shapes are a slice's; its kernels see
                                     # B * steps rows)
    cname: str = ""                  # the op's name in generated C (lower.c_names; a row-wise activation
                                     # split off a Dense or Conv adds its activation: 'dense_2_softmax')


@dataclass(eq=False)
class LossFn:
    """A loss or metric: its name, how Keras averages it, and its expression graph."""
    name: str
    expr: object                     # seqc.trace.Expr over y_true, y_pred
    per_sample: bool                 # True: averaged over samples; False: one value per batch
    fused: Optional[str] = None      # 'softmax_xent' / 'sigmoid_xent' when fusion applied
    options: dict = field(default_factory=dict)
    weighted: bool = False           # a metric of compile's weighted_metrics (sample weights apply)
    stateful: Optional[dict] = None  # a stateful metric's kernel and result (keras/stateful_metrics.py)


@dataclass(eq=False)
class Graph:
    name: str
    input: Tensor
    ops: list
    params: list                     # [Param] in Keras get_weights order
    batch_size: Optional[int] = None # fixed batch size (stateful models, batch_input_shape)
    y_shape: Optional[tuple] = None  # per-sample label shape the loss is specialised for
    loss: Optional[LossFn] = None
    metrics: list = field(default_factory=list)
    optimizer: Optional[dict] = None # {'kind':..., 'config':...}
    fused: list = field(default_factory=list)   # human-readable notes for the summary
    layers: list = field(default_factory=list)  # summary rows: (name, kind, out_shape, n_params)
    layer_cnames: list = field(default_factory=list)  # the same layers' names in the C code

    out: Optional[Tensor] = None     # the model's output (a reshape may follow the last op)
    output_mask: Optional[Tensor] = None  # the (timesteps,) mask the output carries: the loss honours it
    index_range: Optional[int] = None   # inputs are indices in [0, index_range) (an Embedding)
    sparse_update: Optional[dict] = None  # the Embedding updated by rows used (passes.plan_sparse_update)
    sparse_reason: str = ""
    activity: list = field(default_factory=list)  # [(Tensor, {'l1', 'l2'})]: activity regularizers

    @property
    def output(self):
        if self.out is not None:
            return self.out
        return self.ops[-1].output if self.ops else self.input

    @property
    def num_params(self):
        return sum(p.size for p in self.params)
