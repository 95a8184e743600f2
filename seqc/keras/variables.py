"""`model.weights`, `layer.weights`, `layer.kernel`...: Keras 3's variables of a built model.

A `Variable` is a live view of one weight of a seqc model (the model holds the values, in C
memory once compiled): `numpy()`, `value`, `np.asarray(v)` read the current value, `assign`,
`assign_add`, `assign_sub` write it, `path` / `name` / `shape` / `dtype` / `trainable` are
Keras's. Arithmetic on a variable gives numpy arrays (as Keras gives backend tensors).
"""
import numpy as np


class EagerArray(np.ndarray):
    """A numpy array with the `numpy()` of Keras's eager tensors: what `model(x)`, a layer called
    on an array and indexing or arithmetic on a Variable give, so a script's `.numpy()` works."""

    def numpy(self):
        return np.asarray(self)


def eager(value):
    """`value` (an array or a numpy scalar) as an EagerArray."""
    return np.asarray(value).view(EagerArray)


class Variable:
    def __init__(self, model, index, path, shape, trainable):
        self._model, self._index = model, index
        self.path, self.shape, self._trainable = path, tuple(shape), trainable
        self.name = path.rsplit("/", 1)[-1]
        self.dtype = "float32"

    @property
    def trainable(self):
        return self._trainable

    @property
    def ndim(self):
        return len(self.shape)

    def numpy(self):
        runtime = self._model._runtime
        if runtime is not None:            # compiled: this array only, from the C weights
            return runtime._engine.get_weight(self._index)
        return self._model.get_weights()[self._index]

    @property
    def value(self):
        return self.numpy()

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def assign(self, value):
        value = np.asarray(value, np.float32)
        if value.shape != self.shape:
            raise ValueError("The shape of the target variable and the shape of the target value in "
                             f"`variable.assign(value)` must match. variable.shape={self.shape}, Received: "
                             f"value.shape={value.shape}. Target variable: {self!r}")
        weights = self._model.get_weights()
        weights[self._index] = value
        self._model.set_weights(weights)
        return self

    def assign_add(self, value):
        return self.assign(self.numpy() + np.asarray(value, np.float32))

    def assign_sub(self, value):
        return self.assign(self.numpy() - np.asarray(value, np.float32))

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, value={self.numpy()}>"

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d variable")
        return self.shape[0]

    def __getitem__(self, key):
        return eager(self.numpy()[key])

    def __iter__(self):
        return iter(self.numpy())

    __array_priority__ = 100


def _arith(op):
    def forward(self, other):
        return eager(op(self.numpy(), np.asarray(other)))

    def backward(self, other):
        return eager(op(np.asarray(other), self.numpy()))
    return forward, backward


for _name, _op in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("truediv", np.true_divide),
                   ("matmul", np.matmul), ("pow", np.power)):
    _f, _b = _arith(_op)
    setattr(Variable, f"__{_name}__", _f)
    setattr(Variable, f"__r{_name}__", _b)
Variable.__neg__ = lambda self: eager(-self.numpy())
Variable.__abs__ = lambda self: eager(np.abs(self.numpy()))
for _name in ("lt", "le", "gt", "ge"):
    setattr(Variable, f"__{_name}__", (lambda op: lambda self, other: getattr(self.numpy(), op)(np.asarray(other)))(
        f"__{_name}__"))


class HasVariables:
    """`weights`, `trainable_weights`, `non_trainable_weights` and their `variables` aliases, for
    a class whose `_variables()` lists its Variables (Sequential, Layer)."""

    @property
    def weights(self):
        return self._variables()

    @property
    def trainable_weights(self):
        return [w for w in self._variables() if w.trainable]

    @property
    def non_trainable_weights(self):
        return [w for w in self._variables() if not w.trainable]

    variables = weights
    trainable_variables, non_trainable_variables = trainable_weights, non_trainable_weights


def model_variables(model, layer=None):
    """The variables of a built model (of one of its layers), in get_weights() order."""
    if not model.built:
        return []
    from . import saving
    if model._runtime is not None:
        params = [(p.name, p.shape, p.trainable) for p in model._runtime.desc.params]
    else:
        params = [(p.name, p.shape, p.trainable) for p in model._forward_graph().params]
    paths = saving.variable_paths(model)
    layers = {l.name: l for l in model.layers}
    out = []
    for i, (name, shape, trainable) in enumerate(params):
        owner = layers.get(name.split("/", 1)[0])
        if layer is not None and owner is not layer:
            continue
        frozen = not model.trainable or (owner is not None and not owner.trainable)
        out.append(Variable(model, i, paths.get(i, f"{model.name}/{name}"), shape, trainable and not frozen))
    return out
