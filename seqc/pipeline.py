"""The compile pipeline: ModelSpec -> IR -> passes -> C -> shared library + description.

The description (plain JSON) is all the runtime needs besides the library: parameter table,
shapes, loss/metric names and averaging, optimizer settings, summary. A compiled package
stores it as model.json.
"""
import math
import os

from . import __version__, build, codegen, lower, passes


def describe(graph, spec):
    return {
        "seqc_version": __version__,
        "name": graph.name,
        "input_shape": list(graph.input.shape),
        "output_shape": list(graph.output.shape),
        "y_shape": list(graph.y_shape) if graph.y_shape else None,
        "batch_size": graph.batch_size,
        "params": [{"name": p.name, "shape": list(p.shape), "offset": p.offset, "initializer": p.initializer,
                    "trainable": p.trainable} for p in graph.params],
        "layers": [{"name": n, "kind": k, "output_shape": list(s), "params": c} for n, k, s, c in graph.layers],
        "loss": None if graph.loss is None else {"name": graph.loss.name, "fused": graph.loss.fused,
                                                 "expr": graph.loss.expr.to_json()},
        "metrics": [{"name": m.name, "per_sample": m.per_sample, "expr": m.expr.to_json()} for m in graph.metrics],
        "optimizer": graph.optimizer,
        "fused": list(graph.fused),
        "sparse_labels": bool(graph.loss is not None and spec.compile.loss.builtin == "sparse_categorical_crossentropy"),
        "num_classes": graph.output.shape[-1] if graph.output.shape else 1,
        "index_range": graph.index_range,
        "stateful": any(op.attrs.get("stateful") for op in graph.ops),
        # the Embedding weight whose training update follows the rows used (None: dense), and why
        "sparse_update": graph.sparse_update["param"].name if graph.sparse_update else None,
        "sparse_reason": graph.sparse_reason,
    }


def forward_graph(spec):
    """Shape-inferred forward graph (for summaries and weight shapes before compile)."""
    return lower.lower_model(spec)


def compile_spec(spec, y_shape=None, flags=None, c_name="model", sparse_embedding=True):
    """Full pipeline. Returns (description dict, library path, C source).

    `c_name` names the C files and symbols' header; it defaults to a fixed name so that the
    same model built twice in a session (as 'sequential' and 'sequential_1') shares one build.
    `sparse_embedding=False` forces the dense Embedding update (for comparisons)."""
    graph = lower.lower_model(spec)
    display_name = graph.name
    graph.name = c_name
    if y_shape is None:
        y_shape = lower.default_y_shape(spec.compile, graph.output.shape)
    lower.attach_training(graph, spec.compile, y_shape)
    passes.run_passes(graph, sparse_embedding=sparse_embedding)
    flags = tuple(flags or build.default_flags())
    c, h = codegen.generate(graph, flags, source=_source_name(spec))
    lib = build.build(graph.name, c, h, flags)
    desc = describe(graph, spec)
    desc["name"] = display_name
    desc["c_name"] = c_name
    return desc, lib, c


def _source_name(spec):
    if spec.loc is not None and spec.loc.file:
        return os.path.basename(spec.loc.file)
    return "<seqc.keras API>"


def n_params(desc):
    return sum(math.prod(p["shape"]) for p in desc["params"])
