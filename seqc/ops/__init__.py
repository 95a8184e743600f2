"""The op-kind registry: one module per op kind (see ops/base.py for what each declares).

  dense        Dense                      ops/dense.py       templates/dense.c.j2
  activation   Activation, row-wise acts  ops/activation.py  templates/activation.c.j2
  dropout      Dropout                    ops/dropout.py     templates/dropout.c.j2
  conv         Conv1D, Conv2D             ops/conv.py        templates/conv.c.j2
  pool         Max/AveragePooling1D/2D    ops/pool.py        templates/pool.c.j2
  global_pool  Global*Pooling1D/2D        ops/pool.py        templates/global_pool.c.j2
  pad2d        ZeroPadding2D              ops/pool.py        templates/pad2d.c.j2
  embedding    Embedding                  ops/embedding.py   templates/embedding.c.j2
  rnn          LSTM, GRU, SimpleRNN       ops/rnn.py         templates/rnn.c.j2
  repeat_vector RepeatVector              ops/resample.py    templates/repeat_vector.c.j2
  upsample     UpSampling1D/2D (nearest)  ops/resample.py    templates/upsample.c.j2
  crop         Cropping1D/2D              ops/resample.py    templates/crop.c.j2
  user_layer   Lambda, Layer subclasses   ops/user_layer.py  templates/user_layer.c.j2
  (no op)      Flatten, Reshape, Input    ops/reshape.py     (aliases of a buffer)

Adding a layer kind: a module here with its OpKind subclass (@register) and `lower_<Layer>`
functions, imported below; its template; its Keras class in seqc/keras/layers.py; its tests.
"""
from . import activation, conv, dense, dropout, embedding, pool, resample, reshape, rnn, user_layer
from .base import KINDS, LAYERS, Arg, Buf, OpKind, Scratch, kind_of, register_layers

for _module in (activation, conv, dense, dropout, embedding, pool, resample, reshape, rnn, user_layer):
    register_layers(_module)

__all__ = ["KINDS", "LAYERS", "Arg", "Buf", "OpKind", "Scratch", "kind_of"]
