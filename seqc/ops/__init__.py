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
  mask, masking, masked_mean  Embedding(mask_zero) / Masking, GlobalAveragePooling1D under a mask  ops/masking.py templates/masking.c.j2
  bidirectional Bidirectional(RNN)        ops/bidirectional.py templates/bidirectional.c.j2 (+ rnn.c.j2)
  repeat_vector RepeatVector              ops/resample.py    templates/repeat_vector.c.j2
  upsample     UpSampling1D/2D (nearest)  ops/resample.py    templates/upsample.c.j2
  upsample_bilinear UpSampling2D (bilinear) ops/resample.py  templates/upsample_bilinear.c.j2
  crop         Cropping1D/2D              ops/resample.py    templates/crop.c.j2
  batchnorm    BatchNormalization         ops/norm.py        templates/batchnorm.c.j2
  layernorm    LayerNormalization         ops/norm.py        templates/layernorm.c.j2
  act_param    ReLU/LeakyReLU/ELU (args)  ops/act_layers.py  templates/act_param.c.j2
  prelu        PReLU                      ops/act_layers.py  templates/prelu.c.j2
  softmax_axis Softmax(axis not last)     ops/act_layers.py  templates/softmax_axis.c.j2
  noise        GaussianNoise/Dropout, AlphaDropout, SpatialDropout1D/2D
                                          ops/noise.py       templates/noise.c.j2
  activity_reg ActivityRegularization    ops/noise.py       templates/activity_reg.c.j2
  permute      Permute                    ops/permute.py     templates/permute.c.j2
  (no op)      TimeDistributed: the inner layer's ops, each run on B * steps slices
                                          ops/time_distributed.py
  conv_transpose Conv1D/2DTranspose       ops/conv_transpose.py templates/conv_transpose.c.j2
  depthwise    DepthwiseConv1D/2D, the    ops/depthwise.py   templates/depthwise.c.j2
               first op of SeparableConv1D/2D (then a 1x1 conv)
  user_layer   Lambda, Layer subclasses   ops/user_layer.py  templates/user_layer.c.j2
  rescale      Rescaling                  ops/rescale.py     templates/rescale.c.j2
  normalization Normalization (adapt)     ops/rescale.py     templates/normalization.c.j2
  (no op / pad2d) Identity, ZeroPadding1D ops/rescale.py     (an alias; templates/pad2d.c.j2)
  (no op)      Flatten, Reshape, Input    ops/reshape.py     (aliases of a buffer)

Adding a layer kind: a module here with its OpKind subclass (@register) and `lower_<Layer>`
functions, imported below; its template; its Keras class in seqc/keras/layers.py; its tests.
"""
from . import (act_layers, activation, bidirectional, conv, dense, dropout, embedding, masking, noise, norm, permute,
               pool, resample, reshape, rnn, time_distributed)
from . import conv_transpose, depthwise, rescale, user_layer
from .base import KINDS, LAYERS, Arg, Buf, OpKind, Scratch, kind_of, register_layers

for _module in (act_layers, activation, bidirectional, conv, dense, dropout, embedding, masking, noise, norm, permute,
                pool, resample, reshape, rnn, time_distributed):
    register_layers(_module)
for _module in (conv_transpose, depthwise, rescale, user_layer):   # transposed, depthwise, separable convs; rescaling; user layers
    register_layers(_module)

__all__ = ["KINDS", "LAYERS", "Arg", "Buf", "OpKind", "Scratch", "kind_of"]
