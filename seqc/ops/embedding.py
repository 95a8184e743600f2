"""Embedding: y[b, t] = E[idx[b, t]]; indices arrive as floats, checked in range before any C
runs. The first layer only. In seqc_train its gradient and update may follow only the rows a
batch uses (passes.plan_sparse_update; model.c.j2's row-sparse update)."""
from dataclasses import asdict, dataclass

from ..errors import SeqcError
from .base import Arg, OpKind, call, register
from .shapes import fmt


@dataclass(frozen=True)
class EmbeddingAttrs:
    T: int                   # indices per sample
    V: int                   # rows (vocabulary)
    E: int                   # floats per row


@register
class Embedding(OpKind):
    kind = "embedding"
    template = "embedding.c.j2"
    sparse_rows_param = "embeddings"

    def forward_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)),
                Arg("const float *", "emb", ctx.w(op, "embeddings")), Arg("float *", "y", ctx.y(op))]

    def backward_args(self, op, ctx):
        return [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)), Arg("const float *", "dy", ctx.dy(op)),
                Arg("float *", "demb", ctx.dw(op, "embeddings"))]

    def backward_call(self, op, ctx):
        dense = call(f"{ctx.fn(op)}_backward", self.backward_args(op, ctx))
        if not ctx.is_sparse(op):
            return dense
        rows = call(f"{ctx.fn(op)}_backward_rows", ["B", ctx.x(op), ctx.dy(op), "m->sp_map", "m->sp_grad", "m->sp_n"])
        return f"if (sparse)\n        {rows}\n    else\n        {dense}"

    def render(self, op, ctx):
        return ctx.render(self.template, op, sparse=ctx.is_sparse(op), **asdict(op.attrs))


def lower_Embedding(b, layer, x):
    cfg = layer.config
    if len(x.shape) != 1:
        raise SeqcError(f"layer {layer.name!r} (Embedding) expects integer inputs of shape (batch, length), "
                        f"got {fmt(x.shape)}", layer.loc)
    if b.ops:
        raise SeqcError(f"layer {layer.name!r}: seqc supports Embedding as the first layer only", layer.loc)
    emb = b.param(layer, "embeddings", (cfg["input_dim"], cfg["output_dim"]), cfg["embeddings_initializer"])
    b.index_range = cfg["input_dim"]
    y = b.op("embedding", layer, x, (x.shape[0], cfg["output_dim"]), {"embeddings": emb},
             EmbeddingAttrs(T=x.shape[0], V=cfg["input_dim"], E=cfg["output_dim"]))
    if cfg.get("mask_zero"):      # the following layers carry the mask `index != 0` (ops/masking.py)
        from .masking import add_mask
        add_mask(b, layer, x)
    return y


lower_Embedding.supports_masking = True     # it makes a mask (mask_zero), none reaches it
