"""Keras model files, both ways: `.weights.h5`, `.keras` and the legacy `.h5` (Keras 2).

- `.weights.h5` (Keras 3): a root group `vars` (attribute `name`: the model's name), then
  `layers/<snake_case class name, numbered by position among that class: dense, dense_1>/vars/<i>`
  (a recurrent layer's weights under `layers/lstm/cell/vars/<i>`, its own `vars` empty; a layer
  without weights has an empty `vars`), then `optimizer/vars/<i>` when compiled: the iteration
  count (int32), the learning rate (unless a schedule), then the slots of the trainable weights in
  the order Keras's optimizer creates them.
- `.keras`: a zip of `metadata.json`, `config.json` (Keras's serialised Sequential, with
  `compile_config`) and `model.weights.h5` (the layout above).
- legacy `.h5`: Keras 2's `layer_names` / `weight_names` attributes (weights matched by the
  position of the layers that have weights, as Keras does), optionally inside `model_weights`
  next to the `model_config` / `training_config` attributes of a full-model file.

Everything is read into plain data first (`read_model_file`: config + weights + optimizer
variables) and only then turned into a model (`build_model`): a damaged file is a ValueError
naming the file, never half a model. Writes go to memory and then atomically to the file.
"""
import datetime
import io
import json
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import SeqcError
from ..spec import snake_case

KERAS_VERSION = "3.15.1"          # the Keras whose files seqc writes
_CONFIG_FILE, _METADATA_FILE, _WEIGHTS_FILE = "config.json", "metadata.json", "model.weights.h5"
CELL_LAYERS = ("LSTM", "GRU", "SimpleRNN")   # their weights live in the cell: layers/<name>/cell/vars


def _h5py():
    import h5py
    return h5py


# ---------------------------------------------------------------------------------------------
# values: dtype policy, initializers, activations
# ---------------------------------------------------------------------------------------------
def dtype_policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


_VARIANCE_SCALING = ("VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
                     "LecunUniform", "LecunNormal")


def serialize_initializer(spec):
    """seqc's initializer spec ({"class_name", "config"}) -> Keras's serialised initializer."""
    if spec is None:
        return None
    config = dict(spec["config"])
    if spec["class_name"] in _VARIANCE_SCALING:
        config.setdefault("input_axes", None)
        config.setdefault("output_axes", None)
    return {"module": "keras.initializers", "class_name": spec["class_name"], "config": config,
            "registered_name": None}


def deserialize_initializer(value):
    """Keras's serialised initializer (Keras 3 or 2) -> what seqc's constructors take."""
    if isinstance(value, dict) and "class_name" in value:
        config = {k: x for k, x in (value.get("config") or {}).items() if k not in ("input_axes", "output_axes")
                  or x is not None}
        return {"class_name": value["class_name"], "config": config}
    return value


def _plain(value):
    """JSON-able: tuples as lists, numpy scalars as Python numbers."""
    if isinstance(value, (list, tuple)):
        return [_plain(x) for x in value]
    if isinstance(value, dict):
        return {k: _plain(x) for k, x in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---------------------------------------------------------------------------------------------
# layer configs
# ---------------------------------------------------------------------------------------------
def _is_initializer_spec(value):
    return isinstance(value, dict) and set(value) == {"class_name", "config"}


def _init_signature(cls):
    """The signature of the first constructor in cls's MRO that names its arguments (Keras 1's
    Convolution2D(*args, **kwargs) passes them on to Conv2D's)."""
    import inspect
    for base in cls.__mro__:
        init = base.__dict__.get("__init__")
        if init is None:
            continue
        sig = inspect.signature(init)
        if base.__module__ == "seqc.keras.layers" and base.__name__ == "Layer":
            return sig.replace(parameters=[])      # a user layer without its own constructor: the base keys only
        if not any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values()):
            return sig.replace(parameters=list(sig.parameters.values())[1:])
    return inspect.signature(cls)


def layer_config(layer):
    """Keras 3's get_config() of a seqc layer, from the arguments its constructor recorded."""
    cls = type(layer)
    config = {"name": layer.name, "trainable": layer.trainable, "dtype": dtype_policy()}
    arguments = getattr(layer, "_init_arguments", {})
    for p in _init_signature(cls).parameters.values():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name in cls._config_exclude:
            continue
        value = arguments.get(p.name, p.default)
        if p.name in layer.__dict__:          # the normalised value the constructor kept
            value = layer.__dict__[p.name]
        if _is_initializer_spec(value):
            value = serialize_initializer(value)
        config[p.name] = _plain(layer._config_value(p.name, value))
    for key, value in cls._config_extra.items():
        config[key] = value
    return config


def serialize_layer(layer):
    """A layer as Keras serialises it (in a Sequential's layers, TimeDistributed's `layer`...):
    a user's own class by its module and registered name (its class name), as Keras does."""
    cls = type(layer)
    if not cls.__module__.startswith("seqc."):
        return {"module": cls.__module__, "class_name": cls.__name__, "config": layer.get_config(),
                "registered_name": cls.__name__}
    return {"module": "keras.layers", "class_name": layer.kind, "config": layer.get_config(), "registered_name": None}


def deserialize_layer(value, owner, arg="layer"):
    """A seqc layer from a serialised nested layer ({"class_name", "config"}); a layer object as is."""
    from .layers import Layer
    if isinstance(value, Layer) or value is None:
        return value
    if not isinstance(value, dict) or "class_name" not in value:
        raise ValueError(f"{owner}: `{arg}` in the config must be a serialised layer, got {value!r}")
    return _layer_class(value["class_name"]).from_config(dict(value.get("config") or {}))


# keys a Keras config may carry that seqc's constructors do not take, harmless at these values
_INERT = {"zero_output_for_mask": (False,), "quantization_config": (None,), "activity_regularizer": (None,),
          "time_major": (False,), "implementation": (0, 1, 2), "ragged": (False,), "sparse": (False,),
          "optional": (False,), "lora_alpha": (None,), "autocast": (True, False)}


def layer_from_config(cls, config):
    """A seqc layer from Keras's config dict of class `cls` (Keras 3's or Keras 2's)."""
    owner = cls.__name__
    if not isinstance(config, dict):
        raise ValueError(f"{owner}: a layer config must be a dict, got {type(config).__name__}")
    config = dict(config)
    dtype = config.pop("dtype", None)
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    if dtype not in (None, "float32"):
        raise ValueError(f"{owner}: seqc computes in float32; the file's layer has dtype {dtype!r}")
    params = _init_signature(cls).parameters
    takes = set(params) | {"name", "trainable", "input_shape", "input_dim", "batch_size", "batch_input_shape",
                           "input_length"}
    kwargs = {}
    for key, value in config.items():
        if key not in takes or key in cls._config_exclude:
            if key in cls._config_extra and value == cls._config_extra[key]:
                continue
            if key in _INERT and value in _INERT[key]:
                continue
            if key in cls._config_exclude and value in (None, "auto"):    # lora_rank=None, use_cudnn='auto'
                continue
            raise ValueError(f"{owner}: the file's config has {key}={value!r}, which seqc does not support")
        kwargs[key] = deserialize_initializer(value) if key.endswith("_initializer") else value
    if kwargs.get("batch_input_shape") is not None and kwargs.get("batch_size") is not None:
        kwargs.pop("batch_size")
    return cls(**kwargs)


def _input_layer_entry(model, batch_shape):
    first = model._layers[0] if model._layers else None
    from .layers import InputLayer
    name = first.name if isinstance(first, InputLayer) and not first._auto_name else "input_layer"
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": list(batch_shape), "dtype": getattr(first, "input_dtype", "float32"),
                       "sparse": False, "ragged": False, "name": name, "optional": False},
            "registered_name": None}


def model_config(model):
    """Keras's serialised Sequential (`config.json` without compile_config): the InputLayer
    entry, each layer's get_config, and build_config where Keras builds the layer (the layers
    that have weights)."""
    shape = model._input_shape()
    if shape is None:
        raise ValueError("You are saving a model that has not yet been built: give the first layer `input_shape=` "
                         "or start with `Input(shape=...)`")
    batch = model._layers[0].batch_size
    batch_shape = [batch] + list(shape)
    shapes = _layer_input_shapes(model)
    layers = [_input_layer_entry(model, batch_shape)]
    for layer, in_shape in zip(model.layers, shapes):
        entry = serialize_layer(layer)
        if not layer._keras_built_at_init:
            entry["build_config"] = {"input_shape": [batch] + list(in_shape)}
        _nested_build_configs(layer, entry["config"], [batch] + list(in_shape))
        layers.append(entry)
    config = {"name": model.name, "trainable": model.trainable, "dtype": dtype_policy(), "layers": layers,
              "build_input_shape": batch_shape}
    return {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None,
            "build_config": {"input_shape": batch_shape}}


def _nested_build_configs(layer, config, input_shape):
    """What a layer's config becomes in a model (built): the build_config Keras writes for the
    layers inside a wrapper (TimeDistributed's layer sees one time step, Bidirectional's layers
    the whole input); LayerNormalization's axis as a list."""
    kind = type(layer).__name__
    if kind == "LayerNormalization" and isinstance(config.get("axis"), int):
        config["axis"] = [config["axis"]]        # Keras's build makes it a list
    if kind == "TimeDistributed" and not layer.layer._keras_built_at_init:
        config["layer"]["build_config"] = {"input_shape": [input_shape[0]] + list(input_shape[2:])}
    elif kind == "Bidirectional":
        for key in ("layer", "backward_layer"):
            config[key]["build_config"] = {"input_shape": list(input_shape)}


def _param_names(model):
    if model._runtime is not None:
        return [p.name for p in model._runtime.desc.params]
    return [p.name for p in model._forward_graph().params] if model.built else []


def _layer_input_shapes(model):
    """Each layer's per-sample input shape (the length axis None again for an open length)."""
    rows = {r.name: tuple(r.output_shape) for r in _desc_rows(model)}
    shape = tuple(model._input_shape())
    out = []
    for layer in model.layers:
        out.append(shape)
        if layer.name in rows:
            shape = rows[layer.name]
            if model._open and len(shape) >= 2:
                shape = (None,) + shape[1:]
    return out


def _desc_rows(model):
    if model._runtime is not None:
        return model._runtime.desc.layers
    from ..description import describe
    return describe(model._forward_graph()).layers


def compile_config(model):
    """Keras's compile_config of a compiled seqc model ({} when not compiled)."""
    args = getattr(model, "_compile_args", None)
    if model._compile is None or args is None:
        return {}
    optimizer, loss, metrics = args
    return {"optimizer": serialize_optimizer(optimizer), "loss": _serialize_function(loss, "keras.losses"),
            "loss_weights": None, "metrics": None if metrics is None else [
                _serialize_function(m, "keras.metrics") for m in metrics],
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _serialize_function(fn, module):
    if fn is None or isinstance(fn, str):
        return fn
    if isinstance(fn, (list, tuple)):
        return [_serialize_function(f, module) for f in fn]
    from .stateful_metrics import StatefulMetric
    if isinstance(fn, StatefulMetric):                          # AUC, Precision, TopK...: their arguments
        return {"module": module, "class_name": type(fn).__name__, "config": _plain(fn.get_config()),
                "registered_name": None}
    if hasattr(fn, "fn_name") and hasattr(fn, "options"):      # a Loss / Metric object
        config = {"name": fn.name, **_plain(fn.options)}
        if module == "keras.losses":
            config["reduction"] = "sum_over_batch_size"
        return {"module": module, "class_name": type(fn).__name__, "config": config, "registered_name": None}
    name = getattr(fn, "__name__", None)
    if name is None:
        raise ValueError(f"cannot save the loss or metric {fn!r} in a Keras file")
    return name


def serialize_optimizer(opt):
    cfg = {k: x for k, x in opt.config.items() if k != "decay" or x is not None}
    lr = cfg["learning_rate"]
    if hasattr(lr, "_spec_keys"):      # a LearningRateSchedule
        cfg["learning_rate"] = {"module": "keras.optimizers.schedules", "class_name": type(lr).__name__,
                                "config": {**{k: getattr(lr, k) for k in lr._spec_keys}, "name": lr.name},
                                "registered_name": None}
    name = opt.name
    if name == getattr(type(opt), "default_name", None) or name == "adagrad" and type(opt).__name__ == "Adagrad":
        name = snake_case(type(opt).__name__)       # Keras 3's automatic name: adam, sgd, rm_sprop
    if not hasattr(cfg["learning_rate"], "_spec_keys") and not isinstance(cfg["learning_rate"], dict):
        cfg["learning_rate"] = float(np.float32(cfg["learning_rate"]))    # Keras's float32 variable
    base = {"name": name, "learning_rate": cfg.pop("learning_rate"), "weight_decay": cfg.pop("weight_decay", None),
            "clipnorm": cfg.pop("clipnorm", None), "global_clipnorm": cfg.pop("global_clipnorm", None),
            "clipvalue": cfg.pop("clipvalue", None), "use_ema": False, "ema_momentum": 0.99,
            "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None}
    return {"module": "keras.optimizers", "class_name": type(opt).__name__, "config": _plain({**base, **cfg}),
            "registered_name": None}


# ---------------------------------------------------------------------------------------------
# reading a config back
# ---------------------------------------------------------------------------------------------
_SAFE_MODE = [True]      # load_model(safe_mode=...): Lambda.from_config reads it (Keras's safe mode scope)
GLOBAL_SAFE_MODE = [None]   # keras.config.enable_unsafe_deserialization(): False, above any load_model argument
_CUSTOM_OBJECTS = [{}]   # load_model(custom_objects=...): the user's own Layer subclasses by name


def safe_mode():
    return _SAFE_MODE[-1]


def _custom_layer_classes(custom_objects):
    """load_model's custom_objects: {name: a Layer subclass}; anything else is refused."""
    from .layers import Layer
    if custom_objects is None:
        return {}
    if not isinstance(custom_objects, dict):
        raise TypeError(f"load_model: `custom_objects` must be a dict, got {type(custom_objects).__name__}")
    for name, obj in custom_objects.items():
        if not (isinstance(obj, type) and issubclass(obj, Layer)):
            raise ValueError(f"load_model: custom object {name!r} is {obj!r}; seqc loads custom Layer subclasses "
                             "only (custom losses, metrics and functions are not supported)")
    return dict(custom_objects)


def _layer_class(class_name):
    from . import layers as L
    custom = _CUSTOM_OBJECTS[-1]
    if class_name in custom:
        return custom[class_name]
    cls = L.LAYERS.get(class_name)
    if cls is None or not isinstance(cls, type):
        raise ValueError(f"the file's model uses the layer class {class_name!r}, which seqc does not support "
                         f"(seqc supports: {', '.join(sorted(k for k, c in L.LAYERS.items() if isinstance(c, type)))})")
    return cls


def sequential_from_config(config, where="the file"):
    """A seqc Sequential from Keras's serialised Sequential (config.json, or a legacy model_config)."""
    from .layers import InputLayer
    from .models import Sequential
    if not isinstance(config, dict) or config.get("class_name") != "Sequential":
        got = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"{where}: seqc loads Sequential models; the file holds a {got!r}")
    inner = config.get("config")
    if isinstance(inner, list):          # Keras 2.2: the layer list itself
        inner = {"layers": inner}
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        raise ValueError(f"{where}: the model config has no layer list")
    layers = []
    for entry in inner["layers"]:
        if not isinstance(entry, dict) or "class_name" not in entry:
            raise ValueError(f"{where}: a layer entry of the model config is not a Keras layer config")
        name, cfg = entry["class_name"], dict(entry.get("config") or {})
        if name == "InputLayer":
            shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
            if not isinstance(shape, (list, tuple)) or len(shape) < 2:
                raise ValueError(f"{where}: the InputLayer has no batch_shape")
            dtype = cfg.get("dtype")
            dtype = (dtype.get("config") or {}).get("name") if isinstance(dtype, dict) else dtype
            layers.append(InputLayer(batch_shape=tuple(shape), name=cfg.get("name"), dtype=dtype))
            continue
        layers.append(_layer_class(name).from_config(cfg))
    if not any(isinstance(l, InputLayer) for l in layers) and inner.get("build_input_shape") and layers \
            and layers[0].input_shape_arg is None:
        layers.insert(0, InputLayer(batch_shape=tuple(inner["build_input_shape"])))
    return Sequential(layers, name=inner.get("name"), trainable=inner.get("trainable", True))


_OPT_DROP = ("jit_compile", "is_legacy_optimizer", "use_ema", "ema_momentum", "ema_overwrite_frequency",
             "loss_scale_factor", "gradient_accumulation_steps")


def deserialize_optimizer(value):
    from . import optimizers, schedules
    if isinstance(value, str):
        return optimizers.get(value)
    if not isinstance(value, dict) or "class_name" not in value:
        raise ValueError(f"cannot read the optimizer {value!r}")
    cls = {c.__name__.lower(): c for c in (optimizers.SGD, optimizers.RMSprop, optimizers.Adagrad, optimizers.Adam,
                                            optimizers.AdamW, optimizers.Adadelta, optimizers.Adamax,
                                            optimizers.Nadam, optimizers.Ftrl,
                                            optimizers.Lion)}.get(str(value["class_name"]).lower())
    if cls is None:
        raise ValueError(f"the file's optimizer {value['class_name']!r} is not supported by seqc")
    cfg = dict(value.get("config") or {})
    for key in _OPT_DROP:
        if key in cfg and cfg[key] not in (None, False, 0.99):
            raise ValueError(f"the file's optimizer sets {key}={cfg[key]!r}, which seqc does not support")
        cfg.pop(key, None)
    if not cfg.get("decay"):
        cfg.pop("decay", None)
    lr = cfg.get("learning_rate", cfg.get("lr"))
    if isinstance(lr, dict):
        scls = getattr(schedules, str(lr.get("class_name")), None)
        if scls is None:
            raise ValueError(f"the file's learning-rate schedule {lr.get('class_name')!r} is not supported by seqc")
        cfg.pop("lr", None)
        cfg["learning_rate"] = scls(**(lr.get("config") or {}))
    return cls(**cfg)


def _deserialize_function(value, module):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], list):     # Keras 2: one list per output
            value = value[0]
        return [_deserialize_function(v, module) for v in value]
    if isinstance(value, dict) and value.get("class_name") == "MeanMetricWrapper":    # Keras 2
        cfg = value.get("config") or {}
        return cfg.get("name") or cfg.get("fn")
    if isinstance(value, dict) and "class_name" in value:
        from . import losses, metrics
        mod = losses if module == "losses" else metrics
        cls = getattr(mod, str(value["class_name"]), None)
        if cls is None:
            raise ValueError(f"the file's {module[:-1]} {value['class_name']!r} is not supported by seqc")
        cfg = dict(value.get("config") or {})
        if cfg.get("dtype") in ("float32", None) or isinstance(cfg.get("dtype"), dict):
            cfg.pop("dtype", None)
        return cls(**cfg)
    raise ValueError(f"cannot read the {module[:-1]} {value!r}")


# ---------------------------------------------------------------------------------------------
# the weights layout
# ---------------------------------------------------------------------------------------------
@dataclass
class LayerRef:
    kind: str                  # Keras class name
    name: str
    indices: list              # positions of its weights in get_weights()
    inner: Optional[dict] = None    # a wrapper's inner layers: {"kind", "names": [forward, backward] or [layer]}


def weight_paths(kind, n, name, inner=None):
    """Where a layer's n weights go under its group: [(subgroup, its `name` attribute, first,
    stop)]. A recurrent layer keeps them in its cell (`cell/vars`); TimeDistributed in its
    `layer`; Bidirectional in `forward_layer` and `backward_layer` (half each, cells again)."""
    if kind in CELL_LAYERS:
        return [("vars", name, 0, 0), ("cell/vars", _cell_name(kind), 0, n)]
    if kind in ("TimeDistributed", "Bidirectional"):
        inner = inner or {"kind": None, "names": None}
        subs = ["layer"] if kind == "TimeDistributed" else ["forward_layer", "backward_layer"]
        names = inner["names"] or [f"{s.split('_')[0]}_{name}" if len(subs) > 1 else name for s in subs]
        out, step = [("vars", name, 0, 0)], n // len(subs)
        for k, (sub, sub_name) in enumerate(zip(subs, names)):
            lo, hi = k * step, (k + 1) * step
            if inner["kind"] in CELL_LAYERS or (inner["kind"] is None and kind == "Bidirectional"):
                cell = _cell_name(inner["kind"]) if inner["kind"] else "cell"
                out += [(f"{sub}/vars", sub_name, lo, lo), (f"{sub}/cell/vars", cell, lo, hi)]
            else:
                out.append((f"{sub}/vars", sub_name, lo, hi))
        return out
    return [("vars", name, 0, n)]


def _read_subgroups(kind):
    """The subgroups weight_paths may write for a layer kind, in order, as (path, required)."""
    if kind in CELL_LAYERS:
        return [("vars", False), ("cell/vars", True)]
    if kind == "TimeDistributed":
        return [("vars", False), ("layer/vars", False), ("layer/cell/vars", False)]
    if kind == "Bidirectional":
        return [("vars", False)] + [(f"{s}/{v}", False) for s in ("forward_layer", "backward_layer")
                                    for v in ("vars", "cell/vars")]
    return [("vars", False)]


def layer_inner(layer):
    """LayerRef.inner of a seqc layer object (None for a layer that wraps nothing)."""
    kind = type(layer).__name__
    if kind == "TimeDistributed":
        return {"kind": layer.layer.kind, "names": [layer.layer.name]}
    if kind == "Bidirectional":
        forward, backward = layer._inner_configs()
        return {"kind": layer.layer.kind, "names": [forward["config"]["name"], backward["config"]["name"]]}
    return None


def _cell_name(kind):
    return snake_case(kind) + "_cell"


def layer_refs(layers, param_names):
    """[(kind, name)] + the model's parameter names ('layer/role') -> LayerRef per layer."""
    return [LayerRef(kind, name, [i for i, p in enumerate(param_names) if p.startswith(name + "/")])
            for kind, name in layers]


def slot_groups(kind, cfg):
    """Keras's optimizer variables after iterations and learning rate: groups created by one
    add_optimizer_variables call each, interleaved per trainable weight; each entry is the
    index of that slot in seqc's slot blocks (seqc/templates/optim_*.c.j2)."""
    if kind == "SGD":
        return [[0]] if cfg.get("momentum") else []
    if kind == "RMSprop":
        n = 1 + bool(cfg.get("centered")) + bool(cfg.get("momentum"))
        return [[0]] + ([[n - 1]] if cfg.get("momentum") else []) + ([[1]] if cfg.get("centered") else [])
    if kind == "Adagrad":
        return [[0]]
    if kind in ("Adam", "AdamW"):
        return [[0, 1]] + ([[2]] if cfg.get("amsgrad") else [])
    if kind in ("Nadam", "Adamax", "Adadelta", "Ftrl"):   # two variables per weight, interleaved
        return [[0, 1]]
    if kind == "Lion":
        return [[0]]
    raise ValueError(f"no Keras optimizer layout for {kind!r}")


def slot_names(kind, cfg):
    """Keras's names of the slot groups of slot_groups (for the legacy .h5 weight names)."""
    if kind == "SGD":
        return [["momentum"]] if cfg.get("momentum") else []
    if kind == "RMSprop":
        return [["velocity"]] + ([["momentum"]] if cfg.get("momentum") else []) + \
            ([["average_gradient"]] if cfg.get("centered") else [])
    if kind == "Adagrad":
        return [["accumulator"]]
    other = {"Adamax": [["momentum", "norm"]], "Adadelta": [["accumulated_grad", "accumulated_delta_var"]],
             "Ftrl": [["accumulator", "linear"]], "Lion": [["momentum"]]}
    if kind in other:
        return other[kind]
    return [["momentum", "velocity"]] + ([["velocity_hat"]] if cfg.get("amsgrad") else [])


@dataclass
class OptimizerState:
    """A compiled model's optimizer state as Keras stores it: `variables` in Keras's order."""
    name: str
    variables: list


def optimizer_variables(engine, kind, cfg, schedule, built=False):
    """Keras's optimizer variables of a seqc engine: iterations, learning rate, and the slots
    once trained (or `built`)."""
    out = [np.array(engine.get_iterations(), np.int32)]
    if not schedule:
        out.append(np.array(engine.get_learning_rate(), np.float32))
    if not built and engine.get_iterations() == 0:
        return out       # Keras builds its optimizer (creates the slots) at the first step
    slots, n = engine.slots, engine.n_params
    params = [p for p in engine.desc.params if p.trainable]
    for group in slot_groups(kind, cfg):
        for p in params:
            for k in group:
                out.append(slots[k * n + p.offset:k * n + p.offset + p.size].reshape(p.shape).copy())
    if kind == "Nadam" and params:      # created after the slots; the C keeps it (none: nothing trained)
        out.append(np.array(engine.get_u_product(), np.float32))
    return out


def set_optimizer_variables(engine, kind, cfg, schedule, variables, where):
    """The inverse of optimizer_variables; a count or shape that does not match is skipped with
    a warning, as Keras does."""
    expected = optimizer_variables(engine, kind, cfg, schedule, built=True)
    unbuilt = 1 if schedule else 2
    if len(variables) == unbuilt and len(expected) > unbuilt and int(np.asarray(variables[0])) == 0:
        return False     # saved before the first step: nothing to restore (Keras skips it too)
    if len(variables) != len(expected) or any(np.shape(a) != e.shape for a, e in zip(variables, expected)):
        warnings.warn(f"{where}: skipping the optimizer state: the file has {len(variables)} optimizer variables, "
                      f"this model's optimizer {len(expected)}", stacklevel=4)
        return False
    with engine.lock:
        engine.set_iterations(int(np.asarray(variables[0])))
        i = 1
        if not schedule:
            engine.set_learning_rate(float(np.asarray(variables[1])))
            i = 2
        slots, n = engine.slots, engine.n_params
        params = [p for p in engine.desc.params if p.trainable]
        for group in slot_groups(kind, cfg):
            for p in params:
                for k in group:
                    slots[k * n + p.offset:k * n + p.offset + p.size] = np.asarray(variables[i], np.float32).ravel()
                    i += 1
        if kind == "Nadam" and params:     # after set_iterations: the next step continues the file's product
            engine.set_u_product(float(np.asarray(variables[i])))
    return True


def _stored(kind, j, a):
    """Weight j of a layer of class `kind` as Keras stores it: float32, but Normalization's count
    (its third weight) an int64 scalar, as Keras creates it."""
    if kind == "Normalization" and j == 2:
        return np.asarray(a).astype(np.int64)
    return np.asarray(a, np.float32)


def write_weights_h5(f, model_name, refs, weights, optimizer=None):
    """Keras 3's weights layout into the open h5py file `f` (in Keras's creation order)."""
    f.create_group("vars").attrs["name"] = model_name
    root = f.create_group("layers")
    used = {}
    for ref in refs:
        key = _unique(snake_case(ref.kind), used)
        arrays = [weights[i] for i in ref.indices]
        for sub, attr, lo, hi in weight_paths(ref.kind, len(arrays), ref.name, ref.inner):
            g = root.create_group(f"{key}/{sub}")
            g.attrs["name"] = attr
            for j, a in enumerate(arrays[lo:hi]):
                g.create_dataset(str(j), data=_stored(ref.kind, lo + j, a))
    if optimizer is not None:
        g = f.create_group("optimizer/vars")
        g.attrs["name"] = optimizer.name
        for i, a in enumerate(optimizer.variables):
            g.create_dataset(str(i), data=a)


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def read_weights_h5(f, layers, where):
    """Keras 3's layout from an open h5py file, for layers [(kind, name)] (without the
    InputLayer): ([arrays per layer], optimizer variables or None)."""
    h5py = _h5py()
    root = f.get("layers")
    if not isinstance(root, h5py.Group):
        raise ValueError(f"{where}: not a Keras weights file (no 'layers' group)")
    used, out = {}, []
    for kind, name in layers:
        key = _unique(snake_case(kind), used)
        group = root.get(key)
        if not isinstance(group, h5py.Group):
            raise ValueError(f"{where}: no weights for layer {name!r} ({kind}) at layers/{key}")
        arrays = []
        for sub, required in _read_subgroups(kind):
            g = group.get(sub)
            if g is None and not required:
                continue
            if not isinstance(g, h5py.Group):
                raise ValueError(f"{where}: layers/{key}/{sub} is missing")
            arrays.extend(_numbered(g, f"{where}: layers/{key}/{sub}"))
        out.append(arrays)
    opt = f.get("optimizer/vars")
    opt_vars = _numbered(opt, f"{where}: optimizer/vars") if isinstance(opt, h5py.Group) else None
    return out, opt_vars


def _numbered(group, where):
    keys = list(group.keys())
    try:
        order = sorted(keys, key=int)
    except ValueError:
        raise ValueError(f"{where}: unexpected entries {keys}") from None
    if [int(k) for k in order] != list(range(len(order))):
        raise ValueError(f"{where}: variables are not numbered 0..{len(order) - 1}: {order}")
    return [_read_dataset(group[k], f"{where}/{k}") for k in order]


def _read_dataset(ds, where):
    h5py = _h5py()
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{where}: not a dataset")
    try:
        return np.array(ds[()])
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"{where}: cannot read ({e})") from None


def _attr_strings(obj, name):
    """A list-of-strings attribute (Keras 2 stores bytes, maybe chunked as name0, name1...)."""
    if name in obj.attrs:
        values = list(obj.attrs[name])
    else:
        values, k = [], 0
        while f"{name}{k}" in obj.attrs:
            values.extend(obj.attrs[f"{name}{k}"])
            k += 1
    return [x.decode("utf8") if isinstance(x, bytes) else str(x) for x in values]


def read_legacy_weights(group, where):
    """Keras 2's weights layout (`layer_names`, `weight_names`): [arrays] of each layer that
    has weights, in file order."""
    out = []
    for name in _attr_strings(group, "layer_names"):
        g = group.get(name)
        if g is None:
            raise ValueError(f"{where}: layer group {name!r} named in layer_names is missing")
        names = _attr_strings(g, "weight_names")
        if names:
            arrays = []
            for wn in names:
                if wn not in g:
                    raise ValueError(f"{where}: weight {name}/{wn} is missing")
                arrays.append(_read_dataset(g[wn], f"{where}: {name}/{wn}"))
            out.append(arrays)
    return out


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------
@dataclass
class KerasFile:
    """A Keras model file read into plain data.

    `config`: Keras's serialised Sequential (None for a weights-only file); `compile_config`:
    {} when not compiled; `layer_weights`: the arrays of each layer (Keras 3 layout: every layer
    but the InputLayer; legacy: the layers that have weights), `legacy` says which;
    `optimizer_variables`: Keras 3's optimizer variables (iterations, learning rate, slots), or
    None."""
    path: str
    config: Optional[dict] = None
    compile_config: dict = field(default_factory=dict)
    layer_weights: Optional[list] = None
    legacy: bool = False
    optimizer_variables: Optional[list] = None
    keras_version: Optional[str] = None

    @property
    def weights(self):
        return [a for arrays in self.layer_weights for a in arrays]


import contextlib  # noqa: E402


@contextlib.contextmanager
def _reading(where):
    """h5py's errors on a damaged file (RuntimeError, KeyError, OSError...) as one ValueError."""
    try:
        yield
    except ValueError:
        raise
    except (OSError, RuntimeError, KeyError, TypeError, IndexError, AttributeError, UnicodeDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{where}: damaged or not a Keras file ({type(e).__name__}: {e})") from None


def _open_h5(source, where):
    h5py = _h5py()
    try:
        return h5py.File(source, "r")
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"{where}: not a readable HDF5 file ({e})") from None


def _config_layers(config):
    """[(class name, name)] of a Sequential config's layers, without InputLayer entries."""
    inner = config.get("config")
    if isinstance(inner, list):
        inner = {"layers": inner}
    return [(e.get("class_name"), (e.get("config") or {}).get("name")) for e in inner["layers"]
            if e.get("class_name") != "InputLayer"]


def read_model_file(path):
    """A `.keras` or legacy full-model `.h5` file as a KerasFile (config + weights + optimizer)."""
    path = os.fspath(path)
    if path.endswith(".keras"):
        return _read_keras_zip(path)
    if path.endswith((".h5", ".hdf5")):
        return _read_legacy_model(path)
    raise ValueError(f"File format not supported: filepath={path}. Keras 3 only supports V3 `.keras` files, "
                     "legacy H5 format files (`.h5` extension).")


def _read_keras_zip(path):
    if not os.path.exists(path):
        raise ValueError(f"File not found: filepath={path}. Please ensure the file is an accessible `.keras` zip file.")
    try:
        with zipfile.ZipFile(path, "r") as z:
            names = z.namelist()
            for need in (_CONFIG_FILE, _WEIGHTS_FILE):
                if need not in names:
                    raise ValueError(f"{path}: not a Keras model file ({need} missing from the archive)")
            config = json.loads(z.read(_CONFIG_FILE).decode("utf8"))
            meta = json.loads(z.read(_METADATA_FILE).decode("utf8")) if _METADATA_FILE in names else {}
            data = z.read(_WEIGHTS_FILE)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path}: not a valid .keras file (bad zip archive: {e})") from None
    except (zipfile.LargeZipFile, EOFError, OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read the archive ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: config.json is not a model config")
    layers = _checked_layers(config, path)
    for kind, _ in layers:          # an unknown class: said before anything else
        try:
            _layer_class(kind)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
    with _reading(f"{path}: {_WEIGHTS_FILE}"), _open_h5(io.BytesIO(data), f"{path}: {_WEIGHTS_FILE}") as f:
        weights, opt = read_weights_h5(f, layers, f"{path}: {_WEIGHTS_FILE}")
    cc = config.get("compile_config") or {}
    return KerasFile(path, config, cc if isinstance(cc, dict) else {}, weights, False, opt,
                     meta.get("keras_version") if isinstance(meta, dict) else None)


def _checked_layers(config, where):
    try:
        return _config_layers(config)
    except (AttributeError, KeyError, TypeError):
        raise ValueError(f"{where}: the model config has no layer list") from None


def _json_attr(f, name, where):
    value = f.attrs.get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf8")
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: the {name} attribute is not JSON") from None


def _read_legacy_model(path):
    with _reading(path), _open_h5(path, path) as f:
        config = _json_attr(f, "model_config", path)
        if config is None:
            raise ValueError(f"No model config found in the file at {path}.")
        training = _json_attr(f, "training_config", path) or {}
        group = f["model_weights"] if "model_weights" in f else f
        weights = read_legacy_weights(group, path)
        version = f.attrs.get("keras_version")
        opt = None
        if "optimizer_weights" in f:    # Keras 3 writes optimizer.variables in order (as .weights.h5)
            og = f["optimizer_weights"]
            opt = [_read_dataset(og[n], f"{path}: optimizer_weights/{n}") for n in _attr_strings(og, "weight_names")]
    cc = {}
    if isinstance(training, dict) and training:
        cc = {"optimizer": training.get("optimizer_config"), "loss": training.get("loss"),
              "metrics": training.get("metrics")}
    return KerasFile(path, config, cc, weights, True, opt,
                     version.decode() if isinstance(version, bytes) else version)


def model_from_file(kf, loc=None, compile=True):
    """A seqc Sequential from a KerasFile's config, its compile arguments recorded when
    `compile` (as the static front end does: nothing is built), weights not yet set."""
    model = sequential_from_config(kf.config, kf.path)
    if compile:
        set_compile_from_config(model, kf.compile_config, loc)
    return model


def set_compile_from_config(model, cc, loc=None):
    """Record a file's (or a JSON's) compile_config on a model, when it has a loss."""
    if cc and cc.get("loss") is not None:
        optimizer = deserialize_optimizer(cc.get("optimizer") or "rmsprop")
        model.set_compile(optimizer, _deserialize_function(cc["loss"], "losses"),
                          _deserialize_function(cc.get("metrics"), "metrics"), loc)


def model_json(model, **kwargs):
    """`model.to_json()`: Keras 3's serialised model (as a .keras file's config.json: the
    architecture, and the compile arguments once compiled), no weights."""
    config = model_config(model)
    cc = compile_config(model)
    if cc:
        config["compile_config"] = cc
    return json.dumps(config, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """`keras.models.model_from_json`: a Sequential from to_json()'s text (built, compiled when the
    JSON has a compile config, with fresh weights)."""
    if custom_objects:
        raise ValueError("model_from_json: seqc does not take custom_objects")
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_from_json: not a JSON model config ({e})") from None
    if not isinstance(config, dict):
        raise ValueError("model_from_json: not a JSON model config (expected an object)")
    model = sequential_from_config(config, "model_from_json")
    set_compile_from_config(model, config.get("compile_config"))
    if model._compile is not None:
        model._bind_compiled()
    return model


@dataclass
class SavedModel:
    """A saved Keras model as seqc's compiler takes it (`seqc compile x.keras`, `seqc export`):
    `spec` (seqc.spec.ModelSpec, with the compile arguments when the file's model was compiled;
    an open sequence length left open), `weights` (in get_weights order), `optimizer_variables`
    (Keras's order: iterations, learning rate, slots; or None) and `file` (the KerasFile)."""
    spec: object
    weights: list
    optimizer_variables: Optional[list]
    file: KerasFile


def read_saved_model(path):
    """A `.keras` / legacy `.h5` file as a SavedModel, without generating or building C."""
    from ..errors import SourceLoc
    from .layers import name_counters_kept
    kf = read_model_file(path)
    with name_counters_kept():       # the file's names; the session's automatic names untouched
        model = model_from_file(kf, SourceLoc(os.fspath(path), None))
    return SavedModel(model.spec(), kf.weights, kf.optimizer_variables, kf)


def weights_file_bytes(desc, weights, optimizer_variables=None):
    """A `.weights.h5` (Keras 3's layout) for a compiled model's description: what a package
    compiled from a saved model starts from (seqc.package loads it into Model())."""
    refs = layer_refs([(l.kind, l.name) for l in desc.layers if l.kind != "InputLayer"], [p.name for p in desc.params])
    if len(weights) != len(desc.params) or any(tuple(np.shape(w)) != p.shape for w, p in zip(weights, desc.params)):
        raise ValueError("the file's weights do not fit its model config")
    opt = None
    if optimizer_variables is not None and desc.optimizer is not None:
        opt = OptimizerState(snake_case(desc.optimizer.kind), optimizer_variables)
    return h5_bytes(lambda f: write_weights_h5(f, desc.name, refs, weights, opt))


def build_model(kf, compile=True):
    """A seqc Sequential from a KerasFile: layers from the config, compiled as the file says
    (when `compile`: its C generated and built), its weights and optimizer state set."""
    model = model_from_file(kf, compile=compile)
    if model._compile is not None:
        model._bind_compiled()
    set_file_weights(model, kf)
    return model


def set_file_weights(model, kf):
    """Set a KerasFile's weights (and optimizer state, if any and compiled) on a model."""
    refs = model_layer_refs(model)
    if kf.legacy:
        with_weights = [r for r in refs if r.indices]
        if len(kf.layer_weights) != len(with_weights):
            raise ValueError(f"Layer count mismatch when loading weights from file. Model expected "
                             f"{len(with_weights)} layers, found {len(kf.layer_weights)} saved layers.")
        pairs = zip(with_weights, kf.layer_weights)
    else:
        if len(kf.layer_weights) != len(refs):
            raise ValueError(f"{kf.path}: the file has {len(kf.layer_weights)} layers, the model {len(refs)}")
        pairs = zip(refs, kf.layer_weights)
    current = model.get_weights()
    for k, (ref, arrays) in enumerate(pairs):
        if len(arrays) != len(ref.indices):
            raise ValueError(f"Layer '{ref.name}' expected {len(ref.indices)} variables, but received "
                             f"{len(arrays)} variables during loading.")
        for i, a in zip(ref.indices, arrays):
            if tuple(np.shape(a)) != current[i].shape:
                raise ValueError(f"{kf.path}: layer '{ref.name}' weight shape {current[i].shape} is not compatible "
                                 f"with the file's shape {tuple(np.shape(a))}")
            current[i] = np.asarray(a, np.float32)
    model.set_weights(current)
    if kf.optimizer_variables is not None:
        set_model_optimizer_state(model, kf.optimizer_variables, kf.path)


# ---------------------------------------------------------------------------------------------
# the model side (a seqc.keras Sequential, or a compiled package's runtime Model)
# ---------------------------------------------------------------------------------------------
def _is_sequential(model):
    from .models import Sequential
    return isinstance(model, Sequential)


def model_layer_refs(model):
    if _is_sequential(model):
        refs = layer_refs([(l.kind, l.name) for l in model.layers], _param_names(model))
        for ref, layer in zip(refs, model.layers):
            ref.inner = layer_inner(layer)
        return refs
    desc = model.desc
    return layer_refs([(l.kind, l.name) for l in desc.layers if l.kind != "InputLayer"],
                      [p.name for p in desc.params])


def _engine_and_optimizer(model):
    """(engine, kind, config, schedule?, name) of a compiled model, or None."""
    if _is_sequential(model):
        rt = model._runtime
        if rt is None or model._compile is None:
            return None
        opt = model._optimizer
        return (rt.engine, type(opt).__name__, opt.config, hasattr(opt.config["learning_rate"], "_spec_keys"),
                serialize_optimizer(opt)["config"]["name"])
    desc = model.desc
    if desc.optimizer is None:
        return None
    cfg = desc.optimizer.config
    return model.engine, desc.optimizer.kind, cfg, bool(cfg.get("schedule")), snake_case(desc.optimizer.kind)


def model_optimizer_state(model):
    got = _engine_and_optimizer(model)
    if got is None:
        return None
    engine, kind, cfg, schedule, name = got
    if kind == "NoneType":
        return None
    return OptimizerState(name, optimizer_variables(engine, kind, cfg, schedule))


def set_model_optimizer_state(model, variables, where):
    got = _engine_and_optimizer(model)
    if got is None:
        if _is_sequential(model) and model._compile is not None:
            model._pending_optimizer_variables = (variables, where)    # an open length: at first use
        return False
    engine, kind, cfg, schedule, _ = got
    return set_optimizer_variables(engine, kind, cfg, schedule, variables, where)


def h5_bytes(write):
    h5py = _h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        write(f)
    return buf.getvalue()


def _weights_bytes(model):
    refs = model_layer_refs(model)
    name = model.name
    weights = model.get_weights()
    opt = model_optimizer_state(model)
    return h5_bytes(lambda f: write_weights_h5(f, name, refs, weights, opt))


def _check_overwrite(path, overwrite):
    if not overwrite and os.path.exists(path):
        raise ValueError(f"{path} exists and overwrite=False")


def save_weights(model, filepath, overwrite=True):
    """`model.save_weights`: Keras 3's `.weights.h5` (seqc's `.npz` when the name ends in .npz)."""
    from ..fileio import write_bytes_atomic
    path = os.fspath(filepath)
    if path.endswith(".npz"):
        from ..runtime.model import write_weights
        write_weights(path, model.get_weights(), [r for r in _all_param_names(model)], overwrite)
        return
    if not path.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    _check_overwrite(path, overwrite)
    write_bytes_atomic(path, _weights_bytes(model))


def _all_param_names(model):
    return _param_names(model) if _is_sequential(model) else [p.name for p in model.desc.params]


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """`model.load_weights`: `.weights.h5` / `.keras` (Keras 3), `.h5` / `.hdf5` (Keras 2's
    layout, matched by position), `.npz` (seqc's own)."""
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    if skip_mismatch:
        raise ValueError("load_weights: skip_mismatch=True is not supported by seqc")
    path = os.fspath(filepath)
    if path.endswith(".npz"):
        from ..runtime.model import read_weights
        model.set_weights(read_weights(path))
        return
    if path.endswith(".keras"):
        kf = _read_keras_zip(path)
        kf.config = None
    elif path.endswith((".weights.h5", ".weights.json")):
        if path.endswith(".weights.json"):
            raise ValueError(f"{path}: sharded weights (.weights.json) are not supported by seqc")
        layers = [(r.kind, r.name) for r in model_layer_refs(model)]
        with _reading(path), _open_h5(path, path) as f:
            weights, opt = read_weights_h5(f, layers, path)
        kf = KerasFile(path, None, {}, weights, False, opt)
    elif path.endswith((".h5", ".hdf5")):
        with _reading(path), _open_h5(path, path) as f:
            group = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
            if "layer_names" not in group.attrs:
                raise ValueError(f"{path}: not a Keras weights file (no layer_names attribute)")
            weights = read_legacy_weights(group, path)
        kf = KerasFile(path, None, {}, weights, True)
    else:
        raise ValueError(f"File format not supported: filepath={path}. Keras 3 only supports V3 `.keras` files, "
                         "`.weights.h5` files, legacy H5 format files (`.h5` extension), or Orbax checkpoints.")
    set_file_weights(model, kf)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """`model.save("x.keras")`: Keras 3's zip (config.json, metadata.json, model.weights.h5);
    `model.save("x.h5")`: Keras's legacy full-model file."""
    from ..fileio import atomic_write, write_bytes_atomic
    path = os.fspath(filepath)
    kwargs.pop("include_optimizer", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs.keys())}")
    if not path.endswith((".keras", ".h5", ".hdf5")):
        raise ValueError("Invalid filepath extension for saving. Please add either a `.keras` extension for the "
                         "native Keras format (recommended) or a `.h5` extension. Use `model.export(filepath)` if "
                         "you want to export a SavedModel for use with TFLite/TFServing/etc. "
                         f"Received: filepath={path}.")
    if not _is_sequential(model):
        raise ValueError("save('x.keras') needs the model's Keras config: save a seqc.keras model, or use "
                         "save_weights('x.weights.h5') for a compiled package's model")
    _check_overwrite(path, overwrite)
    if path.endswith((".h5", ".hdf5")):      # Keras's legacy full-model format
        write_bytes_atomic(path, h5_bytes(lambda f: write_legacy_h5(f, model)))
        return
    config = model_config(model)
    config["compile_config"] = compile_config(model)
    meta = {"keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    weights = _weights_bytes(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(_METADATA_FILE, json.dumps(meta))
        z.writestr(_CONFIG_FILE, json.dumps(config))
        z.writestr(_WEIGHTS_FILE, weights)
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue())


def write_legacy_h5(f, model):
    """Keras 3's legacy full-model `.h5` (what Keras's model.save('x.h5') writes): the
    model_config / training_config attributes, `model_weights` in Keras 2's layout (layer_names,
    weight_names = variable paths), `optimizer_weights` (optimizer.variables in order)."""
    config = model_config(model)
    inner = dict(config["config"])
    inner["layers"] = [{"class_name": e["class_name"], "config": e["config"]} for e in inner["layers"]]
    f.attrs["keras_version"] = KERAS_VERSION
    f.attrs["backend"] = "torch"
    f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": inner}).encode("utf8")
    cc = compile_config(model)
    if cc:
        opt = cc.pop("optimizer")
        cc["optimizer_config"] = {"class_name": opt["class_name"], "config": opt["config"]}
        f.attrs["training_config"] = json.dumps(cc).encode("utf8")
    refs = model_layer_refs(model)
    weights, names = model.get_weights(), _all_param_names(model)
    g = f.create_group("model_weights")
    g.attrs["layer_names"] = np.array([r.name.encode("utf8") for r in refs])
    g.attrs["backend"] = b"torch"
    g.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    paths = variable_paths(model, refs, names)
    for ref in sorted(refs, key=lambda r: r.name):
        lg = g.create_group(ref.name)
        lg.attrs["weight_names"] = np.array([paths[i].encode("utf8") for i in ref.indices])
        for j, i in enumerate(ref.indices):
            lg.create_dataset(paths[i], data=_stored(ref.kind, j, weights[i]))
    g.create_group("top_level_model_weights").attrs["weight_names"] = np.array([], np.float64)
    state = model_optimizer_state(model)
    if state is not None:
        got = _engine_and_optimizer(model)
        kind, cfg = got[1], got[2]
        opt_names = [f"{state.name}/iteration"] + ([f"{state.name}/learning_rate"] if not got[3] else [])
        trainable = [i for ref in refs for i in ref.indices if _is_trainable(model, i)]
        if len(state.variables) > len(opt_names):
            for group in slot_names(kind, cfg):
                for i in trainable:
                    opt_names.extend(f"{state.name}/{paths[i].replace('/', '_')}_{n}" for n in group)
            if kind == "Nadam":
                opt_names.append("variable")         # Keras's name of the unnamed u_product variable
        og = f.create_group("optimizer_weights")
        og.attrs["weight_names"] = np.array([n.encode("utf8") for n in opt_names])
        for n, a in zip(opt_names, state.variables):
            og.create_dataset(n, data=a)


def variable_paths(model, refs=None, names=None):
    """{weight index: its Keras 3 variable path} ('sequential/dense/kernel',
    'sequential/lstm/lstm_cell/kernel'), as `variable.path` and a legacy .h5 name them."""
    refs = model_layer_refs(model) if refs is None else refs
    names = _all_param_names(model) if names is None else names
    return {i: f"{model.name}/{ref.name}/{_legacy_weight_path(ref, names[i][len(ref.name) + 1:])}"
            for ref in refs for i in ref.indices}


def _legacy_weight_path(ref, role):
    """A weight's path under its layer in Keras's legacy .h5 (its variable path): recurrent
    weights in the cell, a wrapper's under its inner layers' names."""
    if ref.kind in CELL_LAYERS:
        return f"{_cell_name(ref.kind)}/{role}"
    if ref.kind in ("DepthwiseConv1D", "DepthwiseConv2D") and role == "depthwise_kernel":
        return "kernel"                     # Keras 3's depthwise variable is named kernel
    if ref.inner is None:
        return role
    inner_kind, names = ref.inner["kind"], ref.inner["names"]
    name = names[0]
    if ref.kind == "Bidirectional":
        side = 1 if role.startswith("backward_") else 0
        name, role = names[side], role.split("_", 1)[1]
    cell = f"{_cell_name(inner_kind)}/" if inner_kind in CELL_LAYERS else ""
    return f"{name}/{cell}{role}"


def _is_trainable(model, i):
    desc = model._runtime.desc if _is_sequential(model) else model.desc
    return desc.params[i].trainable


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """`keras.models.load_model`: a `.keras` file or a legacy full-model `.h5` file, as a
    seqc Sequential with the file's weights (compiled, with its optimizer state, when the
    file's model was compiled and `compile` is true)."""
    custom = _custom_layer_classes(custom_objects)
    path = os.fspath(filepath)
    _SAFE_MODE.append(safe_mode is not False if GLOBAL_SAFE_MODE[0] is None else GLOBAL_SAFE_MODE[0])
    _CUSTOM_OBJECTS.append(custom)
    try:
        kf = read_model_file(path)
        return build_model(kf, compile=compile)
    except SeqcError as e:
        raise ValueError(f"{path}: {e.message if hasattr(e, 'message') else e}") from None
    finally:
        _SAFE_MODE.pop()
        _CUSTOM_OBJECTS.pop()
