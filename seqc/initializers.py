"""Keras 3 initializers, by name or object, computed with numpy.

An initializer is stored in specs as plain data: {"class_name": "GlorotUniform", "config": {...}}.
Keras's random streams are backend-specific, so values are equal in distribution only.
"""
import math

import numpy as np

# canonical class name -> default config
_DEFAULTS = {
    "Zeros": {},
    "Ones": {},
    "Constant": {"value": 0.0},
    "RandomNormal": {"mean": 0.0, "stddev": 0.05, "seed": None},
    "RandomUniform": {"minval": -0.05, "maxval": 0.05, "seed": None},
    "TruncatedNormal": {"mean": 0.0, "stddev": 0.05, "seed": None},
    "VarianceScaling": {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": None},
    "GlorotUniform": {"seed": None},
    "GlorotNormal": {"seed": None},
    "HeUniform": {"seed": None},
    "HeNormal": {"seed": None},
    "LecunUniform": {"seed": None},
    "LecunNormal": {"seed": None},
    "Orthogonal": {"gain": 1.0, "seed": None},
    "Identity": {"gain": 1.0},
}

_BY_STRING = {
    "zeros": "Zeros", "ones": "Ones", "constant": "Constant",
    "random_normal": "RandomNormal", "random_uniform": "RandomUniform",
    "truncated_normal": "TruncatedNormal", "variance_scaling": "VarianceScaling",
    "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform", "he_normal": "HeNormal",
    "lecun_uniform": "LecunUniform", "lecun_normal": "LecunNormal",
    "orthogonal": "Orthogonal", "identity": "Identity",
    "uniform": "RandomUniform", "normal": "RandomNormal",      # Keras's short aliases
}
for _cls in list(_DEFAULTS):
    _BY_STRING[_cls.lower()] = _cls
    _BY_STRING[_cls] = _cls


class Initializer:
    """Object form, as `keras.initializers.RandomNormal(stddev=0.1)`."""
    class_name = None

    def __init__(self, **config):
        defaults = _DEFAULTS[self.class_name]
        unknown = set(config) - set(defaults)
        if unknown:
            raise TypeError(f"{self.class_name}() got unexpected keyword argument(s) {sorted(unknown)}")
        self.config = {**defaults, **config}

    def get_config(self):
        return dict(self.config)

    def __call__(self, shape, dtype=None):
        return initialize(self.to_spec(), shape, np.random.default_rng(self.config.get("seed")))

    def to_spec(self):
        return {"class_name": self.class_name, "config": dict(self.config)}


def _make_class(name):
    def __init__(self, *args, **kwargs):
        keys = list(_DEFAULTS[name])
        if len(args) > len(keys):
            raise TypeError(f"{name}() takes at most {len(keys)} positional arguments")
        kwargs.update(zip(keys, args))
        Initializer.__init__(self, **kwargs)
    return type(name, (Initializer,), {"class_name": name, "__init__": __init__})


for _cls in _DEFAULTS:
    globals()[_cls] = _make_class(_cls)


def get(identifier):
    """Resolve a Keras initializer identifier to its spec dict; ValueError if unknown."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier.to_spec()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_STRING.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"Unknown initializer: {identifier['class_name']!r}")
        return {"class_name": cls, "config": {**_DEFAULTS[cls], **identifier.get("config", {})}}
    if isinstance(identifier, str):
        cls = _BY_STRING.get(identifier)
        if cls is None:
            raise ValueError(
                f"Could not interpret initializer identifier: {identifier!r}. "
                f"Valid names: {sorted(k for k in _BY_STRING if k.islower())}")
        return {"class_name": cls, "config": dict(_DEFAULTS[cls])}
    if isinstance(identifier, (int, float)) and not isinstance(identifier, bool):
        return {"class_name": "Constant", "config": {"value": float(identifier)}}
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


def compute_fans(shape):
    """Keras's fan computation: (in, out) for 2-D; receptive field x channels for conv kernels."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(rng, mean, stddev, shape):
    out = rng.normal(mean, stddev, size=shape)
    bad = np.abs(out - mean) > 2 * stddev
    while bad.any():
        out[bad] = rng.normal(mean, stddev, size=int(bad.sum()))
        bad = np.abs(out - mean) > 2 * stddev
    return out


def _variance_scaling(rng, shape, scale, mode, distribution):
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    scale = scale / max(1.0, n)
    if distribution == "truncated_normal":
        return _truncated_normal(rng, 0.0, math.sqrt(scale) / 0.87962566103423978, shape)
    if distribution in ("untruncated_normal", "normal"):
        return rng.normal(0.0, math.sqrt(scale), size=shape)
    limit = math.sqrt(3.0 * scale)
    return rng.uniform(-limit, limit, size=shape)


_SCALING = {
    "GlorotUniform": (1.0, "fan_avg", "uniform"), "GlorotNormal": (1.0, "fan_avg", "truncated_normal"),
    "HeUniform": (2.0, "fan_in", "uniform"), "HeNormal": (2.0, "fan_in", "truncated_normal"),
    "LecunUniform": (1.0, "fan_in", "uniform"), "LecunNormal": (1.0, "fan_in", "truncated_normal"),
}


def initialize(spec, shape, rng):
    """Draw a float32 array of `shape` from the initializer `spec` using numpy Generator `rng`."""
    cls, cfg = spec["class_name"], spec["config"]
    shape = tuple(shape)
    if cls == "UnitForgetBias":   # LSTM: the forget gate's block of the bias starts at 1 (Keras)
        u = cfg["units"]
        base = initialize(cfg["base"], (u,), rng)
        return np.concatenate([base, np.ones(u, np.float32), initialize(cfg["base"], (2 * u,), rng)])
    if cls == "Zeros":
        out = np.zeros(shape)
    elif cls == "Ones":
        out = np.ones(shape)
    elif cls == "Constant":
        out = np.full(shape, cfg["value"])
    elif cls == "RandomNormal":
        out = rng.normal(cfg["mean"], cfg["stddev"], size=shape)
    elif cls == "RandomUniform":
        out = rng.uniform(cfg["minval"], cfg["maxval"], size=shape)
    elif cls == "TruncatedNormal":
        out = _truncated_normal(rng, cfg["mean"], cfg["stddev"], shape)
    elif cls == "VarianceScaling":
        out = _variance_scaling(rng, shape, cfg["scale"], cfg["mode"], cfg["distribution"])
    elif cls in _SCALING:
        out = _variance_scaling(rng, shape, *_SCALING[cls])
    elif cls == "Orthogonal":
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        out = cfg["gain"] * q[:rows, :cols].reshape(shape)
    elif cls == "Identity":
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {shape}")
        out = cfg["gain"] * np.eye(*shape)
    else:  # pragma: no cover - get() validates names
        raise ValueError(f"Unknown initializer {cls}")
    return np.asarray(out, dtype=np.float32)
