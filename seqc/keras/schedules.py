"""Learning-rate schedules (`keras.optimizers.schedules`), evaluated in C at every update."""
from . import validate as v
from .validate import Param


class LearningRateSchedule(v.Declared):
    """Base of the schedules: lr(step) as a formula the generated C evaluates at every update."""
    kind = None
    _spec_keys = ()

    def spec(self):
        return {"kind": self.kind, **{k: getattr(self, k) for k in self._spec_keys}}

    def __call__(self, step):
        raise NotImplementedError


class _DecaySchedule(LearningRateSchedule):
    """lr(t) = a formula of p = t / decay_steps (p floored if staircase)."""
    _spec_keys = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase")

    def __init__(self, *args, **kwargs):
        values, _ = self.checked_arguments(args, kwargs)
        self.name = values.pop("name")
        for key in self._spec_keys:
            setattr(self, key, values[key])

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = float(int(p))
        return self._decayed(p)


_DECAY_PARAMS = (Param("initial_learning_rate", Param.REQUIRED, v.non_negative),
                 Param("decay_steps", Param.REQUIRED, lambda o, a, x: v.real(o, a, x, lo=0, lo_open=True)),
                 Param("decay_rate", Param.REQUIRED, v.non_negative), Param("staircase", False, v.boolean))


class InverseTimeDecay(_DecaySchedule):
    """lr(t) = initial / (1 + decay_rate * t / decay_steps)  (t floored to steps if staircase)."""
    kind = "inverse_time"
    _params = _DECAY_PARAMS
    default_name = "InverseTimeDecay"

    def _decayed(self, p):
        return self.initial_learning_rate / (1 + self.decay_rate * p)


class ExponentialDecay(_DecaySchedule):
    """lr(t) = initial * decay_rate ** (t / decay_steps)  (t floored to steps if staircase)."""
    kind = "exponential"
    _params = _DECAY_PARAMS
    default_name = "ExponentialDecay"

    def _decayed(self, p):
        return self.initial_learning_rate * self.decay_rate ** p
