"""The compile pipeline: ModelSpec -> IR -> passes -> C -> shared library + description.

The description (seqc.description.ModelDescription) is all the runtime needs besides the
library: parameter table, shapes, loss/metric names and averaging, optimizer settings, summary.
A compiled package stores it as model.json.
"""
import dataclasses
import os

from . import build, codegen, description, lower, passes
from .errors import SeqcError
from .spec import format_shape


def describe(graph, spec):
    """The description of a graph with training attached and passes run."""
    return description.describe(graph, spec.compile, passes.state_layout(graph))


def forward_graph(spec):
    """Shape-inferred forward graph (for summaries and weight shapes before compile)."""
    return lower.lower_model(spec)


def describe_spec(spec):
    """The description of a fully shaped spec: shapes, parameters and (when compiled) loss,
    metrics, optimizer and fusions, without generating or building any C."""
    graph = lower.lower_model(spec)
    if spec.compile is None:
        return description.describe(graph)
    lower.attach_training(graph, spec.compile, lower.default_y_shape(spec.compile, graph.output.shape))
    passes.run_passes(graph)
    return describe(graph, spec)


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
    for pa, pb in zip(da.params, db.params):
        if pa.shape != pb.shape:
            layer = next((s for s in spec.layers if pa.name.startswith(s.name + "/")), None)
            raise SeqcError(f"the shape of the weight {pa.name} depends on the input's open dimension "
                            f"(input shape {format_shape(spec.input_shape)}), so the model cannot be specialised "
                            "per length with the same weights: give the first layer a fixed length "
                            "(`input_length=` / `input_shape=`)", layer.loc if layer is not None else spec.loc)

    def merge(x, y):
        if x is None or y is None:
            return x if y is None else y
        return tuple(u if u == v else None for u, v in zip(x, y))

    return da.replace(
        input_shape=tuple(spec.input_shape), output_shape=merge(da.output_shape, db.output_shape),
        y_shape=merge(da.y_shape, db.y_shape),
        layers=tuple(dataclasses.replace(la, output_shape=merge(la.output_shape, lb.output_shape))
                     for la, lb in zip(da.layers, db.layers)),
        num_classes=da.num_classes if da.num_classes == db.num_classes else None)


def compile_spec(spec, y_shape=None, flags=None, c_name="model", sparse_embedding=True):
    """Full pipeline. Returns (ModelDescription, library path, C source).

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
    desc = describe(graph, spec).replace(name=display_name, c_name=c_name)
    return desc, lib, c


def _source_name(spec):
    if spec.loc is not None and spec.loc.file:
        from .frontend.source import safe_file_name
        return safe_file_name(spec.loc.file)
    return "<seqc.keras API>"

