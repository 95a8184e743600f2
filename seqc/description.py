"""The model description: everything the runtime needs about a model besides its library.

One `ModelDescription` is built from the lowered graph (`describe`), read by the runtime, the
package loader, the summary and the CLI by attribute, and written as a compiled package's
model.json (`to_json` / `from_json`, which round-trip). Shapes are per sample (no batch
dimension); a None dimension is one an open input length leaves open.

model.json carries `"format": FORMAT`. Files written before the field existed have the same
keys and are read as format 1; a file of a newer format is refused with a clear message.
"""
import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

FORMAT = 1


def _shape(value):
    return None if value is None else tuple(value)


@dataclass(frozen=True)
class ParamInfo:
    """One weight array, in Keras's get_weights order."""
    name: str                            # 'dense/kernel'
    shape: tuple
    initializer: Optional[dict] = None   # seqc.initializers spec
    trainable: bool = True
    offset: Optional[int] = None         # element offset in the flat parameter array

    @property
    def size(self):
        return math.prod(self.shape)


@dataclass(frozen=True)
class LayerInfo:
    """One row of the summary table."""
    name: str
    kind: str                            # Keras class name
    output_shape: tuple
    params: int                          # number of weights


@dataclass(frozen=True)
class LossInfo:
    name: str
    fused: Optional[str]                 # 'softmax_xent' / 'sigmoid_xent' when fused with the output
    expr: dict                           # seqc.trace.Expr.to_json()


@dataclass(frozen=True)
class MetricInfo:
    name: str
    per_sample: bool                     # averaged over samples (else: the mean of batch values)
    expr: dict
    weighted: bool = False               # of weighted_metrics: sample weights apply
    stateful: Optional[dict] = None      # a stateful metric class (seqc/keras/stateful_metrics.py)

    @property
    def columns(self):
        """The values the C writes for this metric per batch."""
        from .runtime.metric_state import columns
        return columns(self.stateful)


@dataclass(frozen=True)
class OptimizerInfo:
    kind: str                            # 'SGD', 'Adam', ...
    config: dict                         # Keras 3 argument names


@dataclass(frozen=True)
class ScriptSource:
    """The script of a package whose input length is open, read again at load time."""
    file: str
    text: str
    defines: tuple                       # the -D NAME=VALUE arguments


@dataclass(frozen=True)
class Prebuilt:
    """A library a package ships for one length of an open model (`--seq-len N`)."""
    description: "ModelDescription"
    library: str                         # file name inside the package
    sha256: Optional[str] = None         # of the library's content, checked before it is loaded


@dataclass(frozen=True)
class ModelDescription:
    name: str
    input_shape: tuple
    output_shape: tuple
    layers: tuple = ()                   # (LayerInfo, ...)
    params: tuple = ()                   # (ParamInfo, ...)
    fused: tuple = ()                    # notes on the fused kernels, for the summary
    batch_size: Optional[int] = None     # fixed batch size (stateful models, batch_input_shape)
    # compiled models only:
    seqc_version: Optional[str] = None
    c_name: Optional[str] = None         # the name of the C files and the library (lib<c_name>.so)
    library: Optional[str] = None        # in a package: the library's file name in the package folder,
    library_sha256: Optional[str] = None  # and the sha256 of its content, checked before it is loaded
    y_shape: Optional[tuple] = None      # per-sample label shape the loss is specialised for
    loss: Optional[LossInfo] = None
    metrics: tuple = ()                  # (MetricInfo, ...)
    optimizer: Optional[OptimizerInfo] = None
    sparse_labels: bool = False          # integer class labels (sparse categorical cross-entropy)
    num_classes: Optional[int] = None
    index_range: Optional[int] = None    # inputs are indices in [0, index_range) (an Embedding)
    stateful: bool = False
    states: Optional[dict] = None        # {layer name: (offset, floats)} of stateful layers
    sparse_update: Optional[str] = None  # the Embedding weight updated by rows used (None: dense)
    sparse_reason: str = ""              # why (or why not)
    # packages whose input length is open:
    script: Optional[ScriptSource] = None
    prebuilt: tuple = ()                 # (Prebuilt, ...)

    # ---- reading -----------------------------------------------------------------------------
    @property
    def num_params(self):
        return sum(p.size for p in self.params)

    def layer(self, name):
        """The summary row of the layer called `name` (None if there is none)."""
        return next((l for l in self.layers if l.name == name), None)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    # ---- JSON --------------------------------------------------------------------------------
    def to_json(self):
        """A JSON-able dict (lists for tuples); `from_json` reads it back to an equal description."""
        out = {"format": FORMAT}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "prebuilt":     # each a whole description of its own ("desc")
                value = [{"desc": p.description.to_json(), "library": p.library, "sha256": p.sha256} for p in value]
            out[f.name] = _plain(value)
        return out

    @classmethod
    def from_json(cls, data):
        """The description of a model.json dict (this format or the unversioned one before it).
        Raises ValueError for a newer format or a malformed file."""
        if not isinstance(data, dict):
            raise ValueError("the model description is not a JSON object")
        data = dict(data)
        fmt = data.pop("format", 1)
        if fmt != FORMAT:
            raise ValueError(f"the model description has format {fmt!r}; this seqc reads format {FORMAT}: "
                             "compile the package again with this seqc")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"the model description has unknown fields {unknown}")
        try:
            return cls(**{k: _READERS.get(k, _same)(v) for k, v in data.items()})
        except (TypeError, KeyError, AttributeError) as e:
            raise ValueError(f"malformed model description: {e}") from None


def _plain(value):
    """Dataclasses, tuples and dicts as JSON values."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _same(value):
    return value


def _maybe(read):
    return lambda value: None if value is None else read(value)


_READERS = {
    "input_shape": _shape, "output_shape": _shape, "y_shape": _shape, "fused": tuple,
    "layers": lambda rows: tuple(LayerInfo(r["name"], r["kind"], _shape(r["output_shape"]), r["params"])
                                 for r in rows),
    "params": lambda rows: tuple(ParamInfo(r["name"], _shape(r["shape"]), r.get("initializer"),
                                           r.get("trainable", True), r.get("offset")) for r in rows),
    "loss": _maybe(lambda r: LossInfo(r["name"], r["fused"], r["expr"])),
    "metrics": lambda rows: tuple(MetricInfo(r["name"], r["per_sample"], r["expr"], r.get("weighted", False),
                                                      r.get("stateful")) for r in rows),
    "optimizer": _maybe(lambda r: OptimizerInfo(r["kind"], dict(r["config"]))),
    "states": _maybe(lambda d: {k: tuple(v) for k, v in d.items()}),
    "script": _maybe(lambda r: ScriptSource(r["file"], r["text"], tuple(r["defines"]))),
    "prebuilt": lambda rows: tuple(Prebuilt(ModelDescription.from_json(r["desc"]), r["library"], r.get("sha256"))
                                   for r in rows),
}


def describe(graph, compile_spec=None, states=None):
    """The description of a lowered graph: shapes, parameters and summary rows; with training
    attached (`lower.attach_training`, passes run), also the loss, metrics, optimizer, label
    shape and fusions. `states` is `passes.state_layout(graph)` of a compiled graph.
    Initializers, optimizer settings and expressions are kept in their JSON form (lists for
    tuples), so that a description equals itself read back from model.json."""
    from . import __version__
    out = graph.output.shape
    desc = ModelDescription(
        name=graph.name, input_shape=tuple(graph.input.shape), output_shape=tuple(out),
        layers=tuple(LayerInfo(n, k, tuple(s), c) for n, k, s, c in graph.layers),
        params=tuple(ParamInfo(p.name, tuple(p.shape), _plain(p.initializer), p.trainable, p.offset) for p in graph.params),
        batch_size=graph.batch_size)
    if graph.loss is None:
        return desc
    states = dict(states or {})
    return desc.replace(
        seqc_version=__version__, fused=tuple(graph.fused),
        y_shape=_shape(graph.y_shape),
        loss=LossInfo(graph.loss.name, graph.loss.fused, _plain(graph.loss.expr.to_json())),
        metrics=tuple(MetricInfo(m.name, m.per_sample, _plain(m.expr.to_json()) if m.expr is not None else {},
                                  m.weighted, _plain(m.stateful)) for m in graph.metrics),
        optimizer=OptimizerInfo(graph.optimizer["kind"], _plain(graph.optimizer["config"])),
        sparse_labels=compile_spec is not None and compile_spec.loss.builtin == "sparse_categorical_crossentropy",
        num_classes=out[-1] if out else 1,
        index_range=graph.index_range,
        stateful=bool(states), states={k: tuple(v) for k, v in states.items()},
        sparse_update=graph.sparse_update["param"].name if graph.sparse_update else None,
        sparse_reason=graph.sparse_reason)
