"""Shared by make_summary_goldens.py (real Keras) and tests/test_summary.py (seqc.keras): the
optimizer of a case and the 'params' lines of a summary, written once as functions of the
Keras module they are given."""


def optimizer(keras, cls, args):
    """The optimizer `cls(**args)`; a learning rate given as [schedule class, its arguments]."""
    args = dict(args)
    lr = args.get("learning_rate")
    if isinstance(lr, list):
        args["learning_rate"] = getattr(keras.optimizers.schedules, lr[0])(**lr[1])
    return getattr(keras.optimizers, cls)(**args)


def params_lines(model):
    """The lines of model.summary() that count parameters."""
    lines = []
    model.summary(print_fn=lambda line, **kw: lines.append(line))
    return [l for l in "\n".join(lines).splitlines() if "params" in l]
