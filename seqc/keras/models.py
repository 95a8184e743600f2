"""`keras.models.Sequential` for seqc: collects layers, compiles through the pipeline and then
delegates fit / evaluate / predict to the runtime model over the generated C."""
import dataclasses
import threading

import numpy as np

from .. import initializers
from ..description import describe
from ..errors import SeqcError
from ..runtime.model import Model as _RuntimeModel, format_summary, global_rng, summary_table
from ..spec import CompileSpec, ModelSpec
from ..runtime import batches as _batches
from ..runtime import callbacks as _cbmod
from ..runtime import data
from . import layers as _layers
from . import legacy as _legacy
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from . import validate as _validate
from .variables import EagerArray, HasVariables


class Sequential(HasVariables):
    """A linear stack of layers. compile() generates and builds its C (when the input shape is
    known), after which fit / evaluate / predict run there with Keras's semantics."""

    def __init__(self, layers=None, name=None, trainable=True):
        self.trainable = _validate.boolean("Sequential", "trainable", trainable)   # False freezes every layer
        self.name = _validate.name("Sequential", name) or _layers.unique_name("sequential")
        self.loc = _layers.caller_loc()
        self._layers = []         # as added, the InputLayer (if any) first
        self._compile = None
        self._optimizer = None
        self._runtime = None
        self._variants = {}
        self._prebuilt = {}       # (input shape, label shape) -> (description, library) built beforehand
        self._seed = None         # seeds the dropout stream of each runtime (a compiled package's Model(seed))
        self._weights = None
        self._built_shape = None  # per-sample input shape bound by build() or the first data, when undeclared
        self._input_key = None
        self._fixed_runtime = None  # the runtime of a fixed input shape: _rt's fast path
        self._switching = threading.RLock()
        for layer in layers or []:
            self.add(layer)

    # ---- building ---------------------------------------------------------------------------
    def add(self, layer):
        if isinstance(layer, Sequential):
            for inner in layer._layers:
                self.add(inner)
            return
        if not isinstance(layer, _layers.Layer):
            raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential model. "
                             f"Received: {layer!r} (of type {type(layer).__name__})")
        if "name" not in vars(layer):        # a user layer whose __init__ did not reach Layer.__init__
            raise TypeError(f"{type(layer).__name__}: you forgot to call `super().__init__()` as the first "
                            "statement in the `__init__()` method")
        if any(l.name == layer.name for l in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique names. "
                             f"Name '{layer.name}' is already the name of a layer in this model.")
        if isinstance(layer, _layers.InputLayer) and self._layers:
            raise ValueError("An Input can only be the first layer of a Sequential model")
        # (Keras ignores input_shape on layers after the first)
        if self._runtime is not None:      # the trained weights, kept for the layers before the new one
            self._weights = self._runtime.get_weights()
        self._layers.append(layer)
        layer.added_to(self)
        self._forget_runtimes()
        if self._weights is not None:
            old = self._weights
            self._weights = None
            self._build_weights(keep=old)

    @property
    def layers(self):
        """The layers added, without the InputLayer of an `Input(...)` (as Keras 3)."""
        if self._layers and isinstance(self._layers[0], _layers.InputLayer):
            return self._layers[1:]
        return list(self._layers)

    def pop(self):
        if not self.layers:
            raise ValueError("There are no layers in the model.")
        kept = self.get_weights() if (self._runtime is not None or self._weights is not None) else None
        layer = self._layers.pop()
        self._forget_runtimes()
        self._weights = None
        if kept is not None and self.built:   # the remaining layers keep their weights, as in Keras
            self._build_weights(keep=kept)
        return layer                          # Keras 3 returns the layer it removed

    def _forget_runtimes(self):
        """The layers changed: every build is stale; the next use builds again (compiled or not)."""
        self._runtime = self._fixed_runtime = self._input_key = None
        self._variants, self._prebuilt = {}, {}

    def _input_shape(self):
        """The declared per-sample input shape; None dimensions are bound at first use."""
        if not self._layers:
            return None
        first = self._layers[0]
        if first.input_shape_arg is not None:
            return first.input_shape_arg
        if isinstance(first, _layers.Embedding):
            return (None,)        # an Embedding without input_length: sequences of any length
        return self._built_shape  # None until build() or the first call, as Keras 3 builds

    def build(self, input_shape=None):
        """`model.build((None, *shape))`: bind the input shape of a model whose first layer does
        not declare one (the batch dimension first, as in Keras)."""
        if not self._layers:
            raise ValueError(f"Sequential model {self.name} cannot be built because it has no layers. "
                             "Call `model.add(layer)`.")
        try:
            shape = tuple(None if d is None else int(d) for d in input_shape)
        except TypeError:
            raise ValueError(f"build(): `input_shape` must be a tuple with the batch dimension first, "
                             f"got {input_shape!r}") from None
        if len(shape) < 2 or any(d is not None and d <= 0 for d in shape):
            raise ValueError(f"build(): `input_shape` must be a tuple with the batch dimension first, "
                             f"e.g. (None, 784); got {input_shape!r}")
        declared = self._input_shape()
        if declared is not None:
            if len(declared) != len(shape) - 1 or any(d is not None and d != s for d, s in zip(declared, shape[1:])):
                raise ValueError(f"Sequential model '{self.name}' has already been configured to use input shape "
                                 f"{(None,) + tuple(declared)}. You cannot build it with input_shape {shape}")
            return
        self._built_shape = shape[1:]
        self._build_weights()

    def layer_input_shape(self, layer):
        """The input shape (batch axis first, None) of one of this model's layers, once built."""
        if self.built:
            for op in self._forward_graph().ops:
                if op.name == layer.name:
                    return (None,) + tuple(op.inputs[0].shape)
        return None

    @property
    def _open(self):
        shape = self._input_shape()
        return shape is not None and None in shape

    def _build_from(self, x):
        """Keras 3 builds a model without a declared input shape at its first call, fit or predict."""
        shape = np.shape(x)
        if len(shape) < 2:
            raise ValueError(f"Input x has shape {tuple(shape)}: the model's first call needs a batch of samples "
                             "(the batch dimension first)")
        self.build((None,) + tuple(shape[1:]))

    def spec(self, input_shape=None):
        first = self._layers[0] if self._layers else None
        batch_size = first.batch_size if first is not None else None
        layers = [l.spec() for l in self._layers]
        for spec in layers:
            spec.config["trainable"] = spec.config["trainable"] and self.trainable
        return ModelSpec(name=_c_name(self.name), layers=layers,
                         input_shape=input_shape or self._input_shape(), batch_size=batch_size,
                         compile=self._compile, loc=self.loc)

    @property
    def built(self):
        return self._input_shape() is not None

    def _forward_graph(self):
        from .. import pipeline   # imported on first use: it brings jinja2 and the code generator
        shape = self._input_shape()
        if shape is not None and None in shape:   # weight shapes do not depend on the open length
            shape = tuple(64 if d is None else d for d in shape)
        return pipeline.forward_graph(self.spec(shape))

    def _build_weights(self, keep=None):
        if self._weights is None and self.built:
            graph = self._forward_graph()
            rng = global_rng()
            self._weights = [initializers.initialize(p.initializer, p.shape, rng) for p in graph.params]
            names = [p.name for p in graph.params]
            for layer in self._layers:   # weights given to a layer's constructor replace its initial values
                if layer.initial_weights is not None:
                    idx = _param_indices(names, layer)
                    if len(idx) != len(layer.initial_weights) or any(
                            self._weights[i].shape != w.shape for i, w in zip(idx, layer.initial_weights)):
                        raise ValueError(f"layer {layer.name!r}: `weights` must be {len(idx)} arrays of shapes "
                                         f"{[self._weights[i].shape for i in idx]}, got "
                                         f"{[w.shape for w in layer.initial_weights]}")
                    for i, w in zip(idx, layer.initial_weights):
                        self._weights[i] = w.copy()
            if keep is not None:   # adding a layer keeps the weights of the layers before it
                for i, w in enumerate(keep[:len(self._weights)]):
                    if w.shape == self._weights[i].shape:
                        self._weights[i] = w
        return self._weights

    # ---- compile ----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        weights = self.get_weights() if (self._runtime or self._weights) else None
        self.set_compile(optimizer, loss, metrics, _layers.caller_loc(), loss_weights=loss_weights,
                         weighted_metrics=weighted_metrics)
        self._bind_compiled(weights)

    def set_compile(self, optimizer, loss, metrics, loc, loc_of=None, loss_weights=None, weighted_metrics=None):
        """The rules of compile(), for both front ends: resolve the optimizer, loss and metrics
        and record them (`_compile`, `_optimizer`), building nothing. `loc` is where compile()
        is written; `loc_of(identifier)` may give a better place for a loss or metric (a
        user function's `def` line)."""
        if loss is None:
            raise SeqcError("compile() needs a `loss`", loc)
        if loss_weights is not None:
            raise SeqcError(f"compile(): `loss_weights` is not supported by seqc yet (got {loss_weights!r})", loc)
        if weighted_metrics and not isinstance(weighted_metrics, (list, tuple, dict)):
            raise ValueError("Expected `weighted_metrics` argument to be a list, tuple, or dict. Received instead: "
                             f"weighted_metrics={weighted_metrics} of type {type(weighted_metrics)}")
        if isinstance(weighted_metrics, dict):
            raise SeqcError("compile(): `weighted_metrics` as a dict (per output) is not supported by seqc "
                            "(a Sequential model has one output): pass a list", loc)
        opt = _optimizers.get(optimizer)
        if opt is not optimizer:          # built here from a name: it was written at compile()
            opt.loc = loc
        if isinstance(metrics, (str, dict)) or callable(metrics):
            metrics = [metrics]
        metrics = list(metrics or [])
        mspecs = [_metrics.get(m) for m in metrics]
        # Keras 3's names in the logs (compile_utils): a repeated name gets _1, _2, ...; the
        # weighted_metrics follow the metrics, a name already taken becoming weighted_<name>
        weighted_metrics = list(weighted_metrics or [])
        mspecs = [dataclasses.replace(fs) for fs in mspecs] + \
            [dataclasses.replace(_metrics.get(raw), weighted=True) for raw in weighted_metrics]
        counters = {}
        for fs in mspecs:
            name = fs.name
            if name in counters and fs.weighted:
                name = f"weighted_{name}"
            if name not in counters:
                counters[name] = 1
            else:
                counters[name] += 1
                name = f"{name}_{counters[name] - 1}"
            fs.name = name
        names = [fs.name for fs in mspecs]
        if len(set(names)) != len(names):
            raise ValueError(f"metric names must be unique, got {names}")
        metrics = metrics + weighted_metrics
        lspec = _losses.get(loss)
        for raw, fspec in zip([loss] + metrics, [lspec] + mspecs):
            fspec.loc = (loc_of(raw) if loc_of else None) or fspec.loc or loc
        self._compile = CompileSpec(optimizer=opt.spec(), loss=lspec, metrics=mspecs, loc=loc)
        self._optimizer = opt
        self._compile_args = (opt, loss, metrics)      # as given, for a .keras file's compile_config
        self._prebuilt = {}

    def _bind_compiled(self, weights=None):
        """After `_compile` and `_optimizer` are set (by compile(), or by the static front end for
        a compiled package): a fixed input shape is built now, an open one at first use (then
        cached per length). `weights`: the initial weights, else the model's own."""
        self._variants = {}
        self._runtime = self._fixed_runtime = None
        if not self.built:              # built at the first call, fit or predict (as Keras 3)
            self._weights = weights
            return
        if self._open:
            self._weights = weights if weights is not None else self._build_weights()
            self._input_key = None
            return
        self._input_key = tuple(self._input_shape())
        self._runtime = self._fixed_runtime = self._make_runtime(None, weights)
        if self._optimizer is not None:
            self._optimizer.bind(self._runtime.engine)

    def bind_package(self, weights, seed=None, prebuilt=()):
        """A compiled package's model, after the static front end read its script (compile()
        included): seed the dropout stream, register the libraries the package ships
        (`(description, library path)` pairs, each for one input shape), bind the weights."""
        self._seed = seed
        for desc, lib in prebuilt:
            shape = tuple(desc.input_shape)
            self._prebuilt[(shape, None)] = self._prebuilt[(shape, desc.y_shape)] = (desc, lib)
        self._bind_compiled(weights)

    def _make_runtime(self, y_shape, weights):
        key = (self._input_key, None if y_shape is None else tuple(y_shape))
        if key in self._variants:
            return self._variants[key]
        if key in self._prebuilt:
            desc, lib = self._prebuilt[key]
        else:
            from .. import pipeline
            spec = self.spec(self._input_key)
            if spec.compile is None:    # predict before compile(): an inference build
                spec = dataclasses.replace(spec, compile=_inference_compile(self.loc))
            desc, lib, _ = pipeline.compile_spec(spec, y_shape=y_shape)
        if weights is None:
            weights = self._build_weights()
        rt = _RuntimeModel(desc, lib, seed=self._seed, weights=weights, respecialize=self._respecialize)
        rt.optimizer = _ProxyOptimizer(self)
        rt._keras_model = self
        self._variants[key] = rt
        self._variants[(self._input_key, desc.y_shape)] = rt
        return rt

    def _switch_to(self, rt, old):
        """Make `rt` the active runtime, carrying weights and optimizer state over from `old`."""
        if old is not None:
            rt.take_state_from(old)
        self._runtime = rt
        self._fixed_runtime = None if self._open else rt
        if self._optimizer is not None:
            self._optimizer.bind(rt.engine)
        return rt

    def _respecialize(self, y_shape):
        """Labels of another shape (e.g. integer labels for 'accuracy'): compile for them, keep
        the weights and optimizer state, and make that the active runtime."""
        with self._switching:
            old = self._runtime
            return self._switch_to(self._make_runtime(y_shape, old.get_weights()), old)

    def _rt(self, x=None, training=False):
        """The runtime model for input `x` (None: the current one). `training`: fit, evaluate
        and their batch forms need compile(), as in Keras; predict and calls do not."""
        rt = self._runtime
        if rt is not None and rt is self._fixed_runtime and (not training or self._compile is not None):
            return rt                    # fixed input shape, built: nothing to decide (batch-1 predict)
        if training and self._compile is None:
            raise ValueError("You must call `compile()` before using the model.")
        if not self.built:
            if x is None:
                raise ValueError(f"Sequential model '{self.name}' has not been built yet: call it on a batch of "
                                 "data (fit, predict) or `model.build(input_shape)` first")
            self._build_from(x)
        if self._runtime is None and self._input_key is None and not self._open:
            self._bind_compiled(self._weights)     # built since compile(), or never compiled
        if not self._open:
            return self._runtime
        if x is None:
            if self._runtime is None:
                raise ValueError("the model's sequence length is bound by its first input: call fit, evaluate "
                                 "or predict with data first")
            return self._runtime
        declared = self._input_shape()
        shape = tuple(np.shape(x)[1:])
        if len(shape) != len(declared) or any(d is not None and d != s for d, s in zip(declared, shape)):
            want = "(None, " + ", ".join("None" if d is None else str(d) for d in declared) + ")"
            raise ValueError(f"Input x has shape {tuple(np.shape(x))}, but the model expects {want}")
        with self._switching:          # threads sharing the model switch lengths one at a time
            if self._input_key != shape:
                self._switch_length(shape)
            return self._runtime

    def _switch_length(self, shape):
        """Make the specialisation for input shape `shape` the active runtime."""
        old, old_key = self._runtime, self._input_key
        self._input_key = shape
        weights = old.get_weights() if old is not None else self._weights
        # labels as the compile assumes for this length (they may have the length in their
        # shape), unless the last length was re-specialised for other labels: then those
        rt = None
        if old is not None and self._variants.get((old_key, None)) is not old:
            try:
                rt = self._make_runtime(old.desc.y_shape, weights)
            except SeqcError:      # those labels do not fit this length: fit will say what does
                rt = None
        self._switch_to(rt or self._make_runtime(None, weights), old)
        pending = self.__dict__.pop("_pending_optimizer_variables", None)
        if pending is not None and old is None:   # a loaded file's optimizer state, bound with the length
            from . import saving
            saving.set_model_optimizer_state(self, *pending)

    # ---- delegation -------------------------------------------------------------------------
    @staticmethod
    def _first(args, kwargs):
        return args[0] if args else kwargs.get("x")

    def fit(self, *args, **kwargs):
        kwargs = _legacy.renamed_fit_args("fit", kwargs)
        x = self._first(args, kwargs)
        if _batches.is_batch_source(x):
            hist = self._fit_batches(*args, **kwargs)
        elif _bind(_RuntimeModel.fit, args, kwargs)["steps_per_epoch"] is not None:
            hist = self._fit_steps(*args, **kwargs)
        else:
            rt = self._rt(x, training=True)
            rt.stop_training = False
            hist = rt.fit(*args, **kwargs)
        self.history = hist
        return hist

    def evaluate(self, *args, **kwargs):
        kwargs = _legacy.renamed_fit_args("evaluate", kwargs)
        x = self._first(args, kwargs)
        if _batches.is_batch_source(x):
            return self._evaluate_batches(*args, **kwargs)
        return self._rt(x, training=True).evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        x = self._first(args, kwargs)
        if _batches.is_batch_source(x):
            a = _bind(_RuntimeModel.predict, args, kwargs)
            x, source = _peek(a["x"])
            return _batches.predict(self._rt(x), source, a["steps"], data.check_verbose(a["verbose"]),
                                    data.check_callbacks(a["callbacks"]))
        return self._rt(x).predict(*args, **kwargs)

    # ---- batches from a generator, an iterator or a PyDataset ----
    def _fit_batches(self, *args, **kwargs):
        a = _bind(_RuntimeModel.fit, args, kwargs)
        for name, default in (("y", None), ("batch_size", None), ("sample_weight", None), ("class_weight", None)):
            if a[name] is not default:
                raise ValueError(f"fit: `{name}` is not accepted when `x` is a generator or a PyDataset (the "
                                 "batches carry their own labels and sizes)")
        if a["validation_split"]:
            raise ValueError("`validation_split` is only supported for arrays, not for generators or PyDatasets: "
                             "pass `validation_data`")
        epochs, initial_epoch = data.check_epochs(a["epochs"], a["initial_epoch"])
        steps = data.check_batch_size(a["steps_per_epoch"], None, "steps_per_epoch")
        x, source = _peek(a["x"])
        rt = self._rt(x, training=True)
        rt.stop_training = False
        return _batches.fit(rt, source, epochs, initial_epoch, steps, data.check_verbose(a["verbose"]),
                            data.check_callbacks(a["callbacks"]), a["validation_data"], a["validation_steps"],
                            data.check_shuffle(a["shuffle"]), global_rng())

    def _fit_steps(self, *args, **kwargs):
        """fit on arrays with `steps_per_epoch` (Keras 3: epochs continue the current pass)."""
        a = _bind(_RuntimeModel.fit, args, kwargs)
        for name in ("sample_weight", "class_weight"):
            if a[name] is not None:
                raise ValueError(f"fit: `{name}` with `steps_per_epoch` is not supported by seqc yet")
        steps = data.check_batch_size(a["steps_per_epoch"], None, "steps_per_epoch")
        epochs, initial_epoch = data.check_epochs(a["epochs"], a["initial_epoch"])
        rt = self._rt(a["x"], training=True)
        x = rt._x(a["x"])
        rt, y = rt._target(a["y"], x.shape[0])
        validation = a["validation_data"]
        split = data.check_validation_split(a["validation_split"])
        if validation is None and split:
            cut = int(np.floor(x.shape[0] * (1.0 - split)))
            x, y, validation = x[:cut], y[:cut], (x[cut:], y[cut:])
        batch = data.rows_per_batch(self._batch_size_or_default(rt, a["batch_size"]), x.shape[0])
        source = _batches.ArraySteps(x, y, batch, steps, bool(data.check_shuffle(a["shuffle"])), global_rng())
        rt.stop_training = False
        return _batches.fit(rt, source, epochs, initial_epoch, steps, data.check_verbose(a["verbose"]),
                            data.check_callbacks(a["callbacks"]), validation, a["validation_steps"], False, None)

    @staticmethod
    def _batch_size_or_default(rt, batch_size):
        size = data.check_batch_size(batch_size, None, "batch_size") or 32
        return rt.desc.batch_size or size

    def _evaluate_batches(self, *args, **kwargs):
        a = _bind(_RuntimeModel.evaluate, args, kwargs)
        if a["y"] is not None or a["sample_weight"] is not None:
            raise ValueError("evaluate: `y` and `sample_weight` are not accepted when `x` is a generator or a "
                             "PyDataset (the batches carry them)")
        x, source = _peek(a["x"])
        rt = self._rt(x, training=True)
        verbose = data.check_verbose(a["verbose"])
        cbs = _cbmod.CallbackList(data.check_callbacks(a["callbacks"]), add_history=False,
                                  add_progbar=verbose != 0, model=rt, verbose=verbose, epochs=1, steps=a["steps"])
        logs = _batches.evaluate_logs(rt, source, a["steps"], cbs)
        if a["return_dict"]:
            return dict(sorted(logs.items()))
        vals = [logs[k] for k in rt.metrics_names]
        return vals[0] if len(vals) == 1 else vals

    # Keras 2's generator methods: fit / evaluate / predict take generators since Keras 2.2
    def fit_generator(self, generator, *args, **kwargs):
        _legacy.warn_renamed_method("fit_generator", "fit")
        kwargs = _legacy.renamed_fit_args("fit_generator", kwargs)
        return self.fit(generator, **_fit_generator_kwargs(generator, args, kwargs))

    def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                           use_multiprocessing=False, verbose=0):
        _legacy.warn_renamed_method("evaluate_generator", "evaluate")
        return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                          use_multiprocessing=False, verbose=0):
        _legacy.warn_renamed_method("predict_generator", "predict")
        return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_proba(self, x, batch_size=32, verbose=0):
        """Keras 2's name for predict (of a model with probability outputs)."""
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def predict_classes(self, x, batch_size=32, verbose=0):
        """Keras 2: the class of each row, argmax of the outputs, or output > 0.5 for one
        (sigmoid) output."""
        proba = self.predict(x, batch_size=batch_size, verbose=verbose)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")

    def train_on_batch(self, *args, **kwargs):
        return self._rt(self._first(args, kwargs), training=True).train_on_batch(*args, **kwargs)

    def test_on_batch(self, *args, **kwargs):
        return self._rt(self._first(args, kwargs), training=True).test_on_batch(*args, **kwargs)

    def predict_on_batch(self, *args, **kwargs):
        rt = self._runtime
        if rt is not None and rt is self._fixed_runtime and len(args) == 1 and not kwargs:
            return rt.predict_on_batch(args[0])      # built, fixed input shape: _rt has nothing to decide
        return self._rt(self._first(args, kwargs)).predict_on_batch(*args, **kwargs)

    def __call__(self, x, training=False):
        """The model on a batch, as an array with Keras's tensor `numpy()` (model(x).numpy())."""
        rt = self._runtime
        if rt is not None and rt is self._fixed_runtime:
            return rt(x).view(EagerArray)
        return self._rt(x)(x).view(EagerArray)

    def _variables(self):
        """Keras 3's variables (`weights`, `trainable_weights`...: seqc/keras/variables.py), [] until built."""
        from .variables import model_variables
        return model_variables(self)

    def get_weights(self):
        if self._runtime is not None:
            return self._runtime.get_weights()
        w = self._build_weights()
        if w is None:
            return []
        return [a.copy() for a in w]

    def set_weights(self, weights):
        if self._runtime is not None:
            self._runtime.set_weights(weights)
            return
        current = self._build_weights()
        if current is None:
            raise ValueError(f"Sequential model '{self.name}' has not been built yet (its input shape is unknown): "
                             "call it on data or `build(input_shape)` before `set_weights`")
        weights = list(weights)
        if len(weights) != len(current):
            raise ValueError(f"set_weights: the model has {len(current)} weight arrays, got {len(weights)}")
        new = []
        for c, w in zip(current, weights):
            w = np.asarray(w, np.float32)
            if w.shape != c.shape:
                raise ValueError(f"set_weights: expected shape {c.shape}, got {w.shape}")
            new.append(w.copy())
        self._weights = new

    # ---- one layer's weights (Layer.get_weights / set_weights) ----
    def _layer_indices(self, layer):
        if self._runtime is not None:
            names = [p.name for p in self._runtime.desc.params]
        elif self.built:
            names = [p.name for p in self._forward_graph().params]
        else:
            names = []
        return _param_indices(names, layer)

    def layer_weights(self, layer):
        """`layer.get_weights()` of one of this model's layers."""
        idx = self._layer_indices(layer)
        weights = self.get_weights() if idx else []
        return [weights[i] for i in idx]

    def set_layer_weights(self, layer, weights):
        """`layer.set_weights(weights)` of one of this model's layers."""
        idx = self._layer_indices(layer)
        weights = list(weights)
        if len(weights) != len(idx):
            raise ValueError(f"You called `set_weights(weights)` on layer '{layer.name}' with a weight list of "
                             f"length {len(weights)}, but the layer was expecting {len(idx)} weights.")
        current = self.get_weights()
        for i, w in zip(idx, weights):
            w = np.asarray(w, np.float32)
            if w.shape != current[i].shape:
                raise ValueError(f"Layer {layer.name} weight shape {current[i].shape} is not compatible with "
                                 f"provided weight shape {w.shape}.")
            current[i] = w
        self.set_weights(current)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Keras 3's `.weights.h5` (seqc.keras.saving); `.npz` when the name ends in .npz."""
        if max_shard_size is not None:
            raise ValueError("save_weights: max_shard_size (sharded weights) is not supported by seqc")
        if not self.built:
            raise ValueError("You are saving a model that has not yet been built. Try building the model first "
                             "by calling it on some data or by using `build()`.")
        from . import saving
        saving.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """`.weights.h5` / `.keras` (Keras 3), `.h5` (Keras 2, matched by position), `.npz`."""
        if not self.built:
            raise ValueError("You are loading weights into a model that has not yet been built. Try building the "
                             "model first by calling it on some data or by using `build()`.")
        from . import saving
        saving.load_weights(self, filepath, skip_mismatch, **kwargs)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """`model.save("x.keras")`: Keras 3's zip, which Keras's load_model reads."""
        from . import saving
        saving.save_model(self, filepath, overwrite, zipped, **kwargs)

    @property
    def loss(self):
        """The loss given to compile() (Keras's `model.loss`), None before it."""
        return None if self._compile is None else self._compile_args[1]

    def to_json(self, **kwargs):
        """Keras's JSON of the model: its architecture (and compile arguments once compiled), no
        weights; `keras.models.model_from_json` reads it back."""
        from . import saving
        return saving.model_json(self, **kwargs)

    def get_config(self):
        """Keras's Sequential config (the `config` of a .keras file's config.json)."""
        from . import saving
        return saving.model_config(self)["config"]

    @classmethod
    def from_config(cls, config):
        """A Sequential from Keras's Sequential config (get_config's, or a file's)."""
        from . import saving
        return saving.sequential_from_config({"class_name": "Sequential", "config": config}, "from_config")

    def reset_states(self):
        if self._runtime is not None:
            self._runtime.reset_states()

    def reset_layer_states(self, layer_name):
        """Zero the carried state of one stateful layer (before the first run: nothing to do)."""
        if self._runtime is not None:
            self._runtime.reset_states(layer_name)

    def layer_states(self, layer_name):
        """One stateful layer's carried state ([h, c] or [h]); None before the model has run."""
        return None if self._runtime is None else self._runtime.layer_states(layer_name)

    @property
    def optimizer(self):
        return self._optimizer

    @property
    def metrics_names(self):
        """Keras 3's: ['loss'], then 'compile_metrics' for all the compiled metrics together
        (evaluate's list has their values in the order of the compile call)."""
        if self._compile is None:
            return []
        return ["loss"] + (["compile_metrics"] if len(self._rt().metrics_names) > 1 else [])

    @property
    def metrics(self):
        return self._rt().metrics if self._runtime else []

    @property
    def stop_training(self):
        return self._runtime.stop_training if self._runtime else False

    @stop_training.setter
    def stop_training(self, value):
        if self._runtime:
            self._runtime.stop_training = value

    @property
    def input_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential model '{self.name}' has not been built yet: it has no defined "
                                 "input shape (call it on data or `build(input_shape)` first)")
        return (self._layers[0].batch_size,) + tuple(self._input_shape())

    @property
    def output_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential model '{self.name}' has not been built yet: it has no defined "
                                 "output shape (call it on data or `build(input_shape)` first)")
        g = self._forward_graph()
        return (self._layers[0].batch_size,) + tuple(g.output.shape)

    def count_params(self):
        return sum(w.size for w in self.get_weights())

    def summary(self, print_fn=None, **kwargs):
        from .. import distributed
        if print_fn is None and not distributed.is_root():
            return                   # under mpirun: rank 0 prints
        print_fn = print_fn or print
        if self._runtime is not None:
            optimizer = None
            if self._runtime._engine.get_iterations() > 0:      # Keras builds its optimizer at the first step
                from .saving import model_optimizer_state
                state = model_optimizer_state(self)
                optimizer = state.variables if state is not None else None
            print_fn(format_summary(self._runtime.desc, optimizer))
            return
        if not self.built:             # as Keras 3: the layers, with no shapes or weights yet
            rows, total = [], 0
            for l in self.layers:      # but a layer adapt() built (Normalization): its shape and weights
                built = getattr(l, "adapt_summary", lambda: None)()
                if built is None:
                    rows.append((f"{l.name} ({type(l).__name__})", "?", "0 (unbuilt)"))
                else:
                    rows.append((f"{l.name} ({type(l).__name__})", built[0], f"{built[1]:,}"))
                    total += built[1]
            print_fn(summary_table(self.name, rows, total, 0))
            return
        print_fn(format_summary(describe(self._forward_graph()).replace(name=self.name)))

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for l in self.layers:
            if l.name == name:
                return l
        raise ValueError(f"No such layer: {name}")


class _ProxyOptimizer:
    """The runtime's `model.optimizer` is the user's optimizer object (Keras semantics)."""

    def __init__(self, seq):
        self._seq = seq

    def __getattr__(self, item):
        return getattr(self._seq._optimizer, item)

    def __setattr__(self, key, value):
        if key == "_seq":
            object.__setattr__(self, key, value)
        else:
            setattr(self._seq._optimizer, key, value)


def _bind(method, args, kwargs):
    """The arguments of a call to the runtime model's `method`, by name, defaults filled."""
    import inspect
    bound = inspect.signature(method).bind(None, *args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def _peek(source):
    """(the x of the first batch, the source with that batch still in it): the model is built
    or specialised for it before the loop."""
    import itertools
    if hasattr(source, "__next__") and not isinstance(source, _batches.PyDataset):
        try:
            first = next(source)
        except StopIteration:
            raise ValueError("the generator has no batches") from None
        source = itertools.chain([first], source)
    else:
        if len(source) == 0:
            raise ValueError("the dataset has no batches (len() is 0)")
        first = source[0]
    x = first[0] if isinstance(first, tuple) else first
    return x, source


_FIT_GENERATOR_ORDER = ("steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data",
                        "validation_steps", "class_weight", "max_queue_size", "workers", "use_multiprocessing",
                        "shuffle", "initial_epoch")


def _fit_generator_kwargs(generator, args, kwargs):
    """Keras 2's fit_generator(generator, steps_per_epoch, epochs, verbose, callbacks,
    validation_data, validation_steps, class_weight, max_queue_size, workers,
    use_multiprocessing, shuffle, initial_epoch) as fit's keywords (the queue and worker
    settings do not apply: seqc reads the batches in the calling thread)."""
    if len(args) > len(_FIT_GENERATOR_ORDER):
        raise TypeError(f"fit_generator() takes at most {len(_FIT_GENERATOR_ORDER) + 1} positional arguments")
    for name, value in zip(_FIT_GENERATOR_ORDER, args):
        if name in kwargs:
            raise TypeError(f"fit_generator() got multiple values for argument '{name}'")
        kwargs[name] = value
    # Keras 1 counted samples; Keras 2 converted them to batches as here (with the generator's
    # batch_size when it has one, else one sample a batch)
    for keras1, keras2, source in (("samples_per_epoch", "steps_per_epoch", generator),
                                   ("nb_val_samples", "validation_steps", kwargs.get("validation_data"))):
        if keras1 in kwargs:
            if keras2 in kwargs:
                raise TypeError(f"fit_generator() got both `{keras1}` and `{keras2}`")
            samples = kwargs.pop(keras1)
            size = getattr(source, "batch_size", None)
            kwargs[keras2] = max(1, samples // size) if isinstance(size, int) and size > 0 else samples
            _legacy.warn_renamed_argument("fit_generator", keras1, keras2)
    for ignored in ("max_queue_size", "workers", "use_multiprocessing"):
        kwargs.pop(ignored, None)
    return kwargs


def _inference_compile(loc):
    """The training setup of an inference build (predict before compile()): forward is all
    that runs; compile() later builds the model's own training code and keeps the weights."""
    return CompileSpec(optimizer=_optimizers.get("sgd").spec(), loss=_losses.get("mean_squared_error"),
                       metrics=[], loc=loc)


def _param_indices(names, layer):
    """Positions of a layer's weights among the model's parameter names ('layer/role')."""
    return [i for i, n in enumerate(names) if n.startswith(layer.name + "/")]


def _c_name(name):
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return out if out and not out[0].isdigit() else "m_" + out


Model = Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """`keras.models.load_model`: a `.keras` file or a legacy full-model `.h5` (seqc.keras.saving)."""
    from . import saving
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, **kwargs):
    model.save(filepath, overwrite=overwrite, **kwargs)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """`keras.models.clone_model`: a new Sequential of the same architecture (layers rebuilt from
    their configs, or by `clone_function(layer)`), with new weights, not compiled."""
    if not isinstance(model, Sequential):
        raise ValueError(f"clone_model: expected a Sequential model, got {type(model).__name__}")
    if input_tensors is not None or call_function is not None or kwargs:
        unsupported = [k for k, v in (("input_tensors", input_tensors), ("call_function", call_function)) if v is not None]
        raise ValueError(f"clone_model: {', '.join(unsupported + list(kwargs))} not supported by seqc")
    clone = clone_function or (lambda layer: type(layer).from_config(layer.get_config()))
    layers = [clone(layer) for layer in model.layers]
    if layers and model.built and layers[0].input_shape_arg is None:     # the input shape the model has
        layers.insert(0, _layers.InputLayer(batch_shape=(model.layers[0].batch_size,) + tuple(model._input_shape())))
    return Sequential(layers, name=model.name, trainable=model.trainable)


def model_from_json(json_string, custom_objects=None):
    """`keras.models.model_from_json(model.to_json())`: the architecture, compiled if it was."""
    from . import saving
    return saving.model_from_json(json_string, custom_objects)
