"""The compile pipeline: ModelSpec -> IR -> passes -> C -> shared library + description.

The description (plain JSON) is all the runtime needs besides the library: parameter table,
shapes, loss/metric names and averaging, optimizer settings, summary. A compiled package
stores it as model.json.
"""
import dataclasses
import math
import os

from . import __version__, build, codegen, lower, passes
from .errors import SeqcError
from .spec import format_shape


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
        "states": {name: list(where) for name, where in passes.state_layout(graph).items()},
        # the Embedding weight whose training update follows the rows used (None: dense), and why
        "sparse_update": graph.sparse_update["param"].name if graph.sparse_update else None,
        "sparse_reason": graph.sparse_reason,
    }


def forward_graph(spec):
    """Shape-inferred forward graph (for summaries and weight shapes before compile)."""
    return lower.lower_model(spec)


def describe_spec(spec):
    """The description of a fully shaped spec: shapes, parameters and (when compiled) loss,
    metrics, optimizer and fusions, without generating or building any C."""
    graph = lower.lower_model(spec)
    if spec.compile is not None:
        lower.attach_training(graph, spec.compile, lower.default_y_shape(spec.compile, graph.output.shape))
        passes.run_passes(graph)
        return describe(graph, spec)
    return {"name": graph.name, "input_shape": list(graph.input.shape), "output_shape": list(graph.output.shape),
            "layers": [{"name": n, "kind": k, "output_shape": list(s), "params": c} for n, k, s, c in graph.layers],
            "params": [{"name": p.name, "shape": list(p.shape), "initializer": p.initializer,
                        "trainable": p.trainable} for p in graph.params], "fused": []}


# ---------------------------------------------------------------------------------------------
# open input shapes: a dimension the script leaves open (`Embedding` without `input_length`,
# `input_shape=(None, 16)`) is bound by the first data the model sees, and the model is
# specialised (and built, cached) per length.
# ---------------------------------------------------------------------------------------------
PROBE_LENGTHS = ((64, 97), (512, 769))   # 64: the length seqc.keras sizes the weights at


def is_open(spec):
    return spec.input_shape is not None and any(d is None for d in spec.input_shape)


def bind_shape(shape, length):
    """`shape` with every open dimension set to `length`."""
    return tuple(length if d is None else d for d in shape)


def describe_open(spec):
    """The description of a spec whose input shape has open dimensions, without any C: the
    model is lowered at two probe lengths and each dimension that differs between them is None
    (`(None, None, 256)` for the Embedding of an open length). Raises SeqcError when a weight's
    shape depends on the open length (e.g. Flatten then Dense), since the weights must carry
    over from one length to the next."""
    first = None
    for a, b in PROBE_LENGTHS:
        try:
            da = describe_spec(dataclasses.replace(spec, input_shape=bind_shape(spec.input_shape, a)))
            db = describe_spec(dataclasses.replace(spec, input_shape=bind_shape(spec.input_shape, b)))
            break
        except SeqcError as e:       # e.g. too short for the model's convolutions and poolings
            first = first or e
    else:
        raise first
    for pa, pb in zip(da["params"], db["params"]):
        if pa["shape"] != pb["shape"]:
            layer = next((s for s in spec.layers if pa["name"].startswith(s.name + "/")), None)
            raise SeqcError(f"the shape of the weight {pa['name']} depends on the input's open dimension "
                            f"(input shape {format_shape(spec.input_shape)}), so the model cannot be specialised "
                            "per length with the same weights: give the first layer a fixed length "
                            "(`input_length=` / `input_shape=`)", layer.loc if layer is not None else spec.loc)

    def merge(x, y):
        if x is None or y is None:
            return x if y is None else y
        return [u if u == v else None for u, v in zip(x, y)]

    desc = da
    desc["input_shape"] = list(spec.input_shape)
    for key in ("output_shape", "y_shape"):
        if key in desc:
            desc[key] = merge(da[key], db[key])
    for la, lb in zip(da["layers"], db["layers"]):
        la["output_shape"] = merge(la["output_shape"], lb["output_shape"])
    if "num_classes" in desc and desc["num_classes"] != db["num_classes"]:
        desc["num_classes"] = None
    return desc


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
        from .frontend.source import safe_file_name
        return safe_file_name(spec.loc.file)
    return "<seqc.keras API>"


def n_params(desc):
    return sum(math.prod(p["shape"]) for p in desc["params"])
