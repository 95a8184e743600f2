"""Keras-compatible optimizers (`seqc.keras.optimizers`): argument records with Keras 3 defaults.

The update formulas live in seqc/templates/optim_*.c.j2. Keras-2 arguments found in scripts
keep their Keras-2 meaning: `lr=` is `learning_rate=`, and `decay=d` makes the learning rate
at update t equal to lr / (1 + d t).
"""
from ..errors import SeqcError
from ..spec import OptimizerSpec
from . import schedules  # noqa: F401  (keras.optimizers.schedules)
from .schedules import LearningRateSchedule

_COMMON = dict(weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, decay=None,
               name=None)


class Optimizer:
    _defaults = {}

    def __init__(self, **kwargs):
        from .layers import caller_loc
        self.loc = caller_loc()
        if "lr" in kwargs:                          # Keras 2 spelling
            if "learning_rate" in kwargs:
                raise ValueError("pass either `lr` or `learning_rate`, not both")
            kwargs["learning_rate"] = kwargs.pop("lr")
        config = {**self._defaults, **_COMMON}
        for key, value in kwargs.items():
            if key not in config:
                raise ValueError(f"Argument(s) not recognized: {{{key!r}: {value!r}}}")
            config[key] = value
        lr = config["learning_rate"]
        if isinstance(lr, LearningRateSchedule):
            pass
        elif isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr < 0:
            raise ValueError(f"`learning_rate` must be a non-negative float or a schedule, got {lr!r}")
        clips = [k for k in ("clipnorm", "clipvalue", "global_clipnorm") if config[k] is not None]
        if len(clips) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: {', '.join(f'{k}={config[k]}' for k in clips)}")
        decay = config["decay"]
        if decay is not None and (not isinstance(decay, (int, float)) or decay < 0):
            raise ValueError(f"`decay` must be a non-negative float, got {decay!r}")
        self._validate(config)
        self.config = config
        self.name = config["name"] or type(self).__name__
        self._engine = None          # set by the runtime once compiled: learning rate lives in C
        self._learning_rate = lr

    def _validate(self, config):
        pass

    # learning_rate is a settable property, as in Keras (LearningRateScheduler sets it)
    @property
    def learning_rate(self):
        if self._engine is not None:
            return self._engine.get_learning_rate()
        lr = self._learning_rate
        return lr(0) if isinstance(lr, LearningRateSchedule) else float(lr)

    @learning_rate.setter
    def learning_rate(self, value):
        value = float(value)
        self._learning_rate = value
        self.config["learning_rate"] = value
        if self._engine is not None:
            self._engine.set_learning_rate(value)

    lr = learning_rate

    @property
    def iterations(self):
        return 0 if self._engine is None else self._engine.get_iterations()

    def get_config(self):
        return dict(self.config)

    def spec(self):
        cfg = dict(self.config)
        lr = cfg["learning_rate"]
        cfg["schedule"] = None
        if isinstance(lr, LearningRateSchedule):
            cfg["schedule"] = lr.spec()
            cfg["learning_rate"] = float(lr.initial_learning_rate)
        else:
            cfg["learning_rate"] = float(lr)
        for key in ("decay", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
            cfg[key] = None if cfg[key] is None else float(cfg[key])
        for key, value in cfg.items():   # SGD(momentum=1) is the float 1.0 in the generated C
            if isinstance(value, int) and not isinstance(value, bool):
                cfg[key] = float(value)
        cfg.pop("name")
        return OptimizerSpec(kind=type(self).__name__, config=cfg, loc=self.loc)


def _check_range(config, key, lo, hi, inclusive_hi=True):
    v = config[key]
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v and (v <= hi if inclusive_hi else v < hi)
    if not ok:
        raise ValueError(f"`{key}` must be a float in [{lo}, {hi}{']' if inclusive_hi else ')'}, got {v!r}")


class SGD(Optimizer):
    _defaults = dict(learning_rate=0.01, momentum=0.0, nesterov=False)

    def _validate(self, config):
        _check_range(config, "momentum", 0, 1)
        if not isinstance(config["nesterov"], bool):
            raise ValueError(f"`nesterov` must be a boolean, got {config['nesterov']!r}")


class RMSprop(Optimizer):
    _defaults = dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)

    def _validate(self, config):
        _check_range(config, "rho", 0, 1)
        _check_range(config, "momentum", 0, 1)


class Adagrad(Optimizer):
    _defaults = dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)


class Adam(Optimizer):
    _defaults = dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)

    def _validate(self, config):
        _check_range(config, "beta_1", 0, 1)
        _check_range(config, "beta_2", 0, 1)


class AdamW(Adam):
    _defaults = dict(Adam._defaults)

    def __init__(self, **kwargs):
        kwargs.setdefault("weight_decay", 0.004)
        super().__init__(**kwargs)

    def spec(self):
        s = super().spec()
        s.kind = "Adam"
        return s


def _ctor(cls):
    """Give each optimizer Keras's positional order (SGD(0.01, 0.9) is lr, momentum)."""
    names = list(cls._defaults)

    def __init__(self, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes at most {len(names)} positional arguments")
        for n, a in zip(names, args):
            if n in kwargs:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {n!r}")
            kwargs[n] = a
        cls._base_init(self, **kwargs)
    return __init__


for _cls in (SGD, RMSprop, Adagrad, Adam, AdamW):
    _cls._base_init = _cls.__init__
    _cls.__init__ = _ctor(_cls)

_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adam": Adam, "adamw": AdamW}


def supported_message(name):
    return (f"unknown or unsupported optimizer {name!r}; seqc supports: "
            f"{', '.join(sorted(c.__name__ for c in set(_BY_NAME.values())))}")


def get(identifier):
    """An optimizer from a name ('sgd', 'rmsprop', 'adagrad', 'adam', 'adamw') or an object."""
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
        return cls(**identifier.get("config", {}))
    raise SeqcError(f"Could not interpret optimizer identifier: {identifier!r}")
