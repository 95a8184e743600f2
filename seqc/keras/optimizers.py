"""Keras-compatible optimizers (`seqc.keras.optimizers`): argument records with Keras 3's
signatures and defaults; each argument is checked once (seqc.keras.validate).

The update formulas live in seqc/templates/optim_*.c.j2. Keras-2 arguments found in scripts
keep their Keras-2 meaning: `lr=` is `learning_rate=`, and `decay=d` makes the learning rate
at update t equal to lr / (1 + d t).
"""
import numpy as np

from ..errors import SeqcError
from ..spec import OptimizerSpec
from . import schedules  # noqa: F401  (keras.optimizers.schedules)
from . import validate as v
from .schedules import LearningRateSchedule
from .validate import Param


def _learning_rate(owner, arg, value):
    if isinstance(value, LearningRateSchedule):
        return value
    return v.real(owner, arg, value, lo=0)


_optional_non_negative = v.optional(v.non_negative)
_optional_positive = v.optional(lambda owner, arg, value: v.real(owner, arg, value, lo=0, lo_open=True))

# the arguments every Keras 3 optimizer takes after its own
_COMMON = (
    Param("weight_decay", None, _optional_non_negative),
    Param("clipnorm", None, _optional_positive),
    Param("clipvalue", None, _optional_positive),
    Param("global_clipnorm", None, _optional_positive),
    Param("use_ema", False, v.default_only(False)),
    Param("ema_momentum", 0.99, v.default_only(0.99)),
    Param("ema_overwrite_frequency", None, v.default_only(None)),
    Param("loss_scale_factor", None, v.default_only(None)),
    Param("gradient_accumulation_steps", None, v.default_only(None)),
)
# Keras's arguments seqc takes but does not model (their defaults only): not in the spec
_UNMODELLED = ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
               "gradient_accumulation_steps", "name")


class LearningRate(float):
    """The learning rate as Keras 3's optimizer variable reads: a float that also has the
    variable's assign(), numpy() and value (`model.optimizer.learning_rate.assign(1e-4)`)."""

    def __new__(cls, value, optimizer):
        obj = super().__new__(cls, value)
        obj._optimizer = optimizer
        return obj

    def assign(self, value):
        self._optimizer.learning_rate = float(np.asarray(value))
        return self._optimizer.learning_rate

    def numpy(self):
        return np.float32(self)

    @property
    def value(self):
        return np.float32(self)


class Optimizer(v.Declared):
    """Base of the optimizers: the learning rate (a float or a schedule), weight decay and
    gradient clipping, and Keras-2's `lr` (= learning_rate) and `decay` (lr / (1 + decay t))."""
    _common_params = _COMMON
    _extra_kwargs = ("lr", "decay")

    def __init__(self, *args, **kwargs):
        from .layers import caller_loc
        self.loc = caller_loc()
        owner = type(self).__name__
        if "lr" in kwargs:                          # Keras 2 spelling
            if "learning_rate" in kwargs or args:
                raise ValueError(f"{owner}: pass either `lr` or `learning_rate`, not both")
            kwargs["learning_rate"] = kwargs.pop("lr")
        config, extra = self.checked_arguments(args, kwargs)
        config["decay"] = v.optional(v.non_negative)(owner, "decay", extra.get("decay"))
        clips = [k for k in ("clipnorm", "clipvalue", "global_clipnorm") if config[k] is not None]
        if len(clips) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: {', '.join(f'{k}={config[k]}' for k in clips)}")
        self.name = config.pop("name") or self.default_name
        for key in _UNMODELLED[:-1]:
            config.pop(key)
        self.config = config
        self._engine = None          # set by the runtime once compiled: learning rate lives in C
        self._learning_rate = config["learning_rate"]

    def bind(self, engine):
        """Called by the model once compiled: learning rate and iterations then live in `engine`."""
        self._engine = engine

    # learning_rate is a settable property, as in Keras (LearningRateScheduler sets it)
    @property
    def learning_rate(self):
        if self._engine is not None:
            return LearningRate(self._engine.get_learning_rate(), self)
        lr = self._learning_rate
        return lr(0) if isinstance(lr, LearningRateSchedule) else LearningRate(lr, self)

    @learning_rate.setter
    def learning_rate(self, value):
        value = v.real(type(self).__name__, "learning_rate", value, lo=0)
        self._learning_rate = value
        self.config["learning_rate"] = value
        if self._engine is not None:
            self._engine.set_learning_rate(value)

    lr = learning_rate

    @property
    def iterations(self):
        return 0 if self._engine is None else self._engine.get_iterations()

    def get_config(self):
        """Keras 3's optimizer config (as a .keras file holds it; the learning rate as its float32
        variable reads, the current one once compiled)."""
        from .saving import serialize_optimizer
        config = serialize_optimizer(self)["config"]
        if self._engine is not None and not isinstance(self._learning_rate, LearningRateSchedule):
            config["learning_rate"] = float(np.float32(self._engine.get_learning_rate()))
        return config

    @classmethod
    def from_config(cls, config):
        """The optimizer of a Keras config (get_config's, or a file's)."""
        from .saving import deserialize_optimizer
        return deserialize_optimizer({"class_name": cls.__name__, "config": dict(config)})

    def spec(self):
        cfg = dict(self.config)
        lr = cfg["learning_rate"]
        cfg["schedule"] = None
        if isinstance(lr, LearningRateSchedule):
            cfg["schedule"] = lr.spec()
            cfg["learning_rate"] = float(lr.initial_learning_rate)
        return OptimizerSpec(kind=type(self).__name__, config=cfg, loc=self.loc)


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum:
    m = momentum m - lr g; w += m (nesterov: w += momentum m - lr g); without momentum w -= lr g."""
    _params = (Param("learning_rate", 0.01, _learning_rate), Param("momentum", 0.0, v.unit_interval),
               Param("nesterov", False, v.boolean))
    default_name = "SGD"


class RMSprop(Optimizer):
    """RMSprop: v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + epsilon); `centered` subtracts the
    squared running mean of g inside the root; `momentum` accumulates the step."""
    _params = (Param("learning_rate", 0.001, _learning_rate), Param("rho", 0.9, v.unit_interval),
               Param("momentum", 0.0, v.unit_interval), Param("epsilon", 1e-7, v.non_negative),
               Param("centered", False, v.boolean))
    default_name = "rmsprop"


class Adagrad(Optimizer):
    """Adagrad: a = a + g^2 (a starts at initial_accumulator_value); w -= lr g / sqrt(a + epsilon)."""
    _params = (Param("learning_rate", 0.001, _learning_rate),
               Param("initial_accumulator_value", 0.1, v.non_negative), Param("epsilon", 1e-7, v.non_negative),
               Param("name", "adagrad"))


_ADAM_MOMENTS = (Param("beta_1", 0.9, v.unit_interval), Param("beta_2", 0.999, v.unit_interval),
                 Param("epsilon", 1e-7, v.non_negative), Param("amsgrad", False, v.boolean))


class Adam(Optimizer):
    """Adam: running moments m, v of g and g^2 (decays beta_1, beta_2), bias-corrected step
    lr sqrt(1 - beta_2^t) / (1 - beta_1^t) m / (sqrt(v) + epsilon); amsgrad keeps max(v)."""
    _params = (Param("learning_rate", 0.001, _learning_rate), *_ADAM_MOMENTS)
    default_name = "adam"


class AdamW(Adam):
    """Adam with decoupled weight decay: before each Adam step w -= lr weight_decay w."""
    _params = (Param("learning_rate", 0.001, _learning_rate), Param("weight_decay", 0.004, v.non_negative),
               *_ADAM_MOMENTS)
    default_name = "adamw"
    _common_params = tuple(p for p in _COMMON if p.name != "weight_decay")

    def spec(self):
        s = super().spec()
        s.kind = "Adam"
        return s


class Adadelta(Optimizer):
    """Adadelta: ag = rho ag + (1 - rho) g^2; d = -sqrt(ad + eps) g / sqrt(ag + eps);
    ad = rho ad + (1 - rho) d^2; w += lr d."""
    _params = (Param("learning_rate", 0.001, _learning_rate), Param("rho", 0.95, v.unit_interval),
               Param("epsilon", 1e-7, v.non_negative))
    default_name = "adadelta"


class Adamax(Optimizer):
    """Adamax: m += (g - m)(1 - beta_1); u = max(beta_2 u, |g|);
    w -= lr m / ((1 - beta_1^t) (u + epsilon)), t = iterations + 1."""
    _params = (Param("learning_rate", 0.001, _learning_rate), Param("beta_1", 0.9, v.unit_interval),
               Param("beta_2", 0.999, v.unit_interval), Param("epsilon", 1e-7, v.non_negative))
    default_name = "adamax"


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum and the momentum schedule
    u_t = beta_1 (1 - 0.5 * 0.96^t), and the running product of the u_t."""
    _params = (Param("learning_rate", 0.001, _learning_rate), Param("beta_1", 0.9, v.unit_interval),
               Param("beta_2", 0.999, v.unit_interval), Param("epsilon", 1e-7, v.non_negative))
    default_name = "nadam"


def _at_most_zero(owner, arg, value):
    value = v.real(owner, arg, value)
    if value > 0:
        raise ValueError(f"{owner}: `{arg}` needs to be negative or zero. Received: {arg}={value}.")
    return value


def _zero_or_more(owner, arg, value):
    value = v.real(owner, arg, value)
    if value < 0:
        raise ValueError(f"{owner}: `{arg}` needs to be positive or zero. Received: {arg}={value}.")
    return value


class Ftrl(Optimizer):
    """FTRL-proximal: accumulator a (starts at initial_accumulator_value) and linear term z;
    a' = a + g^2; z += g + 2 l2_shrinkage w - (a'^-p - a^-p) / lr w; q = a'^-p / lr + 2 (l2 +
    beta / (2 lr)); w = (clip(z, -l1, l1) - z) / q (p = learning_rate_power)."""
    _params = (Param("learning_rate", 0.001, _learning_rate), Param("learning_rate_power", -0.5, _at_most_zero),
               Param("initial_accumulator_value", 0.1, _zero_or_more),
               Param("l1_regularization_strength", 0.0, _zero_or_more),
               Param("l2_regularization_strength", 0.0, _zero_or_more),
               Param("l2_shrinkage_regularization_strength", 0.0, _zero_or_more),
               Param("beta", 0.0, lambda o, a, x: v.real(o, a, x)))
    default_name = "ftrl"


def _lion_beta_1(owner, arg, value):
    value = v.real(owner, arg, value)
    if value <= 0 or value > 1:
        raise ValueError(f"{owner}: Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer "
                         f"degenerates to SignSGD. Received: beta_1={value}.")
    return value


class Lion(Optimizer):
    """Lion: w -= lr sign(beta_1 m + (1 - beta_1) g); m = beta_2 m + (1 - beta_2) g."""
    _params = (Param("learning_rate", 0.001, _learning_rate), Param("beta_1", 0.9, _lion_beta_1),
               Param("beta_2", 0.99, v.unit_interval))
    default_name = "lion"


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adam": Adam, "adamw": AdamW,
            "adadelta": Adadelta, "adamax": Adamax, "nadam": Nadam, "ftrl": Ftrl, "lion": Lion}


def supported_message(name):
    return (f"unknown or unsupported optimizer {name!r}; seqc supports: "
            f"{', '.join(sorted(c.__name__ for c in set(_BY_NAME.values())))}")


def get(identifier):
    """An optimizer from a name ('sgd', 'rmsprop', 'adagrad', 'adam', 'adamw', 'adadelta',
    'adamax', 'nadam', 'ftrl', 'lion') or an object."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise SeqcError(supported_message(identifier))
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_NAME.get(str(identifier["class_name"]).lower())
        if cls is None:
            raise SeqcError(f"unknown optimizer {identifier['class_name']!r}")
        config = identifier.get("config", {})
        if not isinstance(config, dict):
            raise SeqcError(f"optimizer config must be a dict, got {config!r}")
        return cls(**config)
    raise SeqcError(f"Could not interpret optimizer identifier: {identifier!r}")
