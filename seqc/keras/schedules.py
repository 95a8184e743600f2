"""Learning-rate schedules (`keras.optimizers.schedules`), evaluated in C at every update."""


class LearningRateSchedule:
    kind = None

    def spec(self):
        return {"kind": self.kind, **{k: v for k, v in vars(self).items()}}

    def __call__(self, step):
        raise NotImplementedError


class _DecaySchedule(LearningRateSchedule):
    """lr(t) = a formula of p = t / decay_steps (p floored if staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        if decay_steps <= 0:
            raise ValueError(f"`decay_steps` must be positive, got {decay_steps!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = float(decay_steps)
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = float(int(p))
        return self._decayed(p)


class InverseTimeDecay(_DecaySchedule):
    """lr(t) = initial / (1 + decay_rate * t / decay_steps)  (t floored to steps if staircase)."""
    kind = "inverse_time"

    def _decayed(self, p):
        return self.initial_learning_rate / (1 + self.decay_rate * p)


class ExponentialDecay(_DecaySchedule):
    """lr(t) = initial * decay_rate ** (t / decay_steps)  (t floored to steps if staircase)."""
    kind = "exponential"

    def _decayed(self, p):
        return self.initial_learning_rate * self.decay_rate ** p
