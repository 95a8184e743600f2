"""ModelSpec: the model exactly as the user wrote it, as plain data.

Both front ends (the static `ast` parser and the `seqc.keras` API) stop here; nothing after
this module knows where a model came from. Every item carries its source location so that
later passes can name the layer and line in an error.
"""
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import SourceLoc


@dataclass
class LayerSpec:
    kind: str                      # Keras class name: 'Dense', 'Dropout', 'Activation', ...
    name: str                      # unique layer name, Keras style: 'dense', 'dense_1', ...
    config: dict                   # normalised constructor arguments (defaults filled in)
    loc: Optional[SourceLoc] = None
    auto_name: bool = False        # named by the session counter ('dense_3'), not by the user


@dataclass
class OptimizerSpec:
    kind: str                      # 'SGD', 'RMSprop', 'Adagrad', 'Adam', 'Adadelta', 'Adamax', 'Nadam', 'Ftrl', 'Lion'
    config: dict                   # learning_rate, momentum, ... (Keras 3 names; `decay` kept)
    loc: Optional[SourceLoc] = None


@dataclass
class FunctionSpec:
    """A built-in loss/metric by name, or a user function traced to an expression graph."""
    name: str                      # the name Keras reports ('accuracy', 'mean_pred', ...)
    builtin: Optional[str] = None  # canonical built-in id, e.g. 'categorical_crossentropy'
    options: dict = field(default_factory=dict)   # from_logits, label_smoothing, ...
    expr: Any = None               # seqc.trace.Expr for a user function
    loc: Optional[SourceLoc] = None
    weighted: bool = False         # a metric of compile's `weighted_metrics`
    stateful: Optional[dict] = None   # a stateful metric class (seqc.keras.stateful_metrics)


@dataclass
class CompileSpec:
    optimizer: OptimizerSpec
    loss: FunctionSpec
    metrics: list                  # [FunctionSpec]
    loc: Optional[SourceLoc] = None


@dataclass
class ModelSpec:
    name: str
    layers: list                   # [LayerSpec]
    input_shape: tuple             # per-sample shape, no batch dimension
    batch_size: Optional[int] = None   # fixed batch size (batch_input_shape / batch_size)
    compile: Optional[CompileSpec] = None
    loc: Optional[SourceLoc] = None


def format_shape(shape):
    """(None, 16) -> '(None, 16)', (80,) -> '(80,)'."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def snake_case(class_name):
    """Keras's to_snake_case of a class name: 'MaxPooling2D' -> 'max_pooling2d', 'Dense' -> 'dense'."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
