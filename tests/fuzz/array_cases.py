"""Malformed inputs to fit / evaluate / predict / *_on_batch, generated with hypothesis.

A case is plain data (model, method, how x and y are spoiled, which keyword arguments are set
to what), so a failing case prints as something to paste into a regression test. Each part is
marked "good" (Keras accepts it and so must seqc, with the right result), "bad" (Keras refuses
it: seqc must raise ValueError or TypeError) or "either". Run as a script, this file builds the
three models and runs N cases in this process; test_array_fuzz.py runs it in subprocesses so
that a crash is a failed test, not a dead test run. The last line printed is a JSON summary.

    python tests/fuzz/array_cases.py --examples 200 --seed 1 [--models mlp,conv,emb]
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np

N = 16          # rows of the valid arrays

# ---- the models ------------------------------------------------------------------------------
# mlp: 10-unit regression (mse); conv: 3-class convnet (categorical labels); emb: Embedding +
# LSTM with integer labels (sparse loss).
MODELS = ("mlp", "conv", "emb")


def build_model(kind):
    from seqc.keras import layers as L
    from seqc.keras.models import Sequential
    if kind == "mlp":
        m = Sequential([L.Input((8,)), L.Dense(16, activation="relu"), L.Dense(10)])
        m.compile("sgd", "mse", metrics=["mae"])
    elif kind == "conv":
        m = Sequential([L.Input((10, 10, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                        L.Flatten(), L.Dense(3, activation="softmax")])
        m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    else:
        m = Sequential([L.Input((6,)), L.Embedding(30, 8), L.LSTM(8), L.Dense(4, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def valid_arrays(kind, rng, n=N):
    if kind == "mlp":
        return rng.normal(size=(n, 8)).astype(np.float32), rng.normal(size=(n, 10)).astype(np.float32)
    if kind == "conv":
        return (rng.normal(size=(n, 10, 10, 1)).astype(np.float32),
                np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)])
    return rng.integers(0, 30, size=(n, 6)).astype(np.float32), rng.integers(0, 4, size=n).astype(np.float32)


# ---- spoiling x and y -------------------------------------------------------------------------
def _ragged(a):
    rows = a.tolist()
    if rows and isinstance(rows[-1], list):
        rows[-1] = rows[-1][:-1]
    else:
        rows.append([1.0, 2.0])
    return rows


def _set(a, value):
    a = a.astype(np.float64)
    a.flat[a.size // 2] = value
    return a


# name -> (function of the valid array, verdict); the verdict may depend on the model kind
X_MUTATIONS = {
    "valid": (lambda a, k: a, "good"),
    "float64": (lambda a, k: a.astype(np.float64), "good"),
    "float16": (lambda a, k: a.astype(np.float16), "good"),
    "int64": (lambda a, k: np.round(a).astype(np.int64), "good"),
    "uint8": (lambda a, k: np.clip(np.round(a), 0, 255).astype(np.uint8), "good"),
    "bool": (lambda a, k: a > 0, "good"),
    "noncontiguous": (lambda a, k: np.repeat(a, 2, axis=0)[::2], "good"),
    "fortran": (lambda a, k: np.asfortranarray(a), "good"),
    "list": (lambda a, k: a.tolist(), "good"),
    "tuple_rows": (lambda a, k: tuple(map(tuple, a.reshape(len(a), -1).tolist())) if k != "conv" else a, "either"),
    "huge_int64": (lambda a, k: np.full(a.shape, 2 ** 62 + 1, np.int64), {"emb": "bad", "*": "either"}),
    "nan": (lambda a, k: _set(a, np.nan), {"emb": "bad", "*": "either"}),
    "inf": (lambda a, k: _set(a, np.inf), {"emb": "bad", "*": "either"}),
    "negative_index": (lambda a, k: _set(a, -1), {"emb": "bad", "*": "good"}),
    "index_out_of_range": (lambda a, k: _set(a, 30), {"emb": "bad", "*": "good"}),
    "fractional_index": (lambda a, k: _set(a, 2.5), {"emb": "bad", "*": "good"}),
    "object": (lambda a, k: a.astype(object), "bad"),
    "object_mixed": (lambda a, k: np.array([*a.tolist()[:-1], "x"], dtype=object), "bad"),
    "str": (lambda a, k: a.astype(str), "bad"),
    "complex": (lambda a, k: a.astype(np.complex64), "bad"),
    "ragged_list": (lambda a, k: _ragged(a), "bad"),
    "empty": (lambda a, k: a[:0], "either"),
    "one_row": (lambda a, k: a[:1], "good"),
    "no_batch_axis": (lambda a, k: a[0], "bad"),
    "extra_axis": (lambda a, k: a[..., None], "good"),   # Keras 3 drops a trailing axis of 1
    "wrong_feature": (lambda a, k: np.concatenate([a, a[..., :1]], axis=-1), "bad"),
    "scalar": (lambda a, k: np.float32(1.0), "bad"),
    "none": (lambda a, k: None, "bad"),
    "string": (lambda a, k: "x", "bad"),
    "fewer_rows": (lambda a, k: a[:-1], "good"),
}

Y_MUTATIONS = {
    "valid": (lambda a, k: a, "good"),
    "float64": (lambda a, k: a.astype(np.float64), "good"),
    "int64": (lambda a, k: np.round(a).astype(np.int64), "good"),
    "bool": (lambda a, k: a > 0, "good"),
    "list": (lambda a, k: a.tolist(), "good"),
    "column": (lambda a, k: a.reshape(len(a), -1)[:, :1] if k == "emb" else a, "good"),
    "noncontiguous": (lambda a, k: np.repeat(a, 2, axis=0)[::2], "good"),
    "nan": (lambda a, k: _set(a, np.nan), {"emb": "bad", "*": "either"}),
    "inf": (lambda a, k: _set(a, np.inf), {"emb": "bad", "*": "either"}),
    "label_out_of_range": (lambda a, k: _set(a, 4), {"emb": "bad", "*": "good"}),
    "negative_label": (lambda a, k: _set(a, -1), {"emb": "bad", "*": "good"}),
    "fractional_label": (lambda a, k: _set(a, 1.5), {"emb": "bad", "*": "good"}),
    "huge_int64": (lambda a, k: np.full(a.shape, 2 ** 62 + 1, np.int64), {"emb": "bad", "*": "either"}),
    "reshaped": (lambda a, k: a.reshape(len(a), 5, 2) if k == "mlp" else a.reshape(len(a), 1, -1),
                 {"emb": "either", "*": "bad"}),
    "two_columns": (lambda a, k: a.reshape(len(a), -1)[:, :1].repeat(2, axis=1), "bad"),
    "extra_axis": (lambda a, k: a[..., None], "either"),
    "object": (lambda a, k: a.astype(object), "bad"),
    "str": (lambda a, k: a.astype(str), "bad"),
    "complex": (lambda a, k: a.astype(np.complex64), "bad"),
    "ragged_list": (lambda a, k: _ragged(a.reshape(len(a), -1)), "bad"),
    "empty": (lambda a, k: a[:0], "good"),   # (the row rules decide)
    "fewer_rows": (lambda a, k: a[:-1], "good"),
    "none": (lambda a, k: None, "bad"),
    "scalar": (lambda a, k: np.float32(1.0), "bad"),
}

# keyword argument -> {value name: (value, verdict)}; values are made in the child (callbacks)
NAN = float("nan")
FIT_KWARGS = {
    "batch_size": {"none": (None, "good"), "1": (1, "good"), "5": (5, "good"), "2**31": (2 ** 31, "good"),
                   "2**40": (2 ** 40, "good"), "np_int": (np.int64(4), "good"), "0": (0, "bad"), "-1": (-1, "bad"),
                   "2.0": (2.0, "bad"), "'8'": ("8", "bad"), "True": (True, "bad"), "nan": (NAN, "bad")},
    "epochs": {"1": (1, "good"), "0": (0, "good"), "2": (2, "good"), "-1": (-1, "bad"), "1.5": (1.5, "bad"),
               "'1'": ("1", "bad")},
    "verbose": {"0": (0, "good"), "2": (2, "good"), "auto": ("auto", "good"), "'x'": ("x", "bad"),
                "-1": (-1, "bad"), "None": (None, "bad")},
    "validation_split": {"0.0": (0.0, "good"), "0.25": (0.25, "good"), "None": (None, "good"), "1.0": (1.0, "bad"),
                         "-0.1": (-0.1, "bad"), "1.5": (1.5, "bad"), "'0.1'": ("0.1", "bad"), "nan": (NAN, "bad")},
    "validation_freq": {"1": (1, "good"), "2": (2, "good"), "[1]": ([1], "good"), "0": (0, "bad"),
                        "-1": (-1, "bad"), "'x'": ("x", "bad")},
    "callbacks": {"None": ("None", "good"), "[]": ("[]", "good"), "[History]": ("[History]", "good"),
                  "'x'": ("'x'", "bad"), "[object()]": ("[object()]", "bad"), "[None]": ("[None]", "bad")},
    "shuffle": {"True": (True, "good"), "False": (False, "good"), "'batch'": ("batch", "good"),
                "'x'": ("x", "bad")},
    "validation_data": {"None": ("None", "good"), "valid": ("valid", "good"), "empty": ("empty", "bad"),
                        "()": ("()", "bad"), "(x,)": ("(x,)", "bad"), "'x'": ("'x'", "bad"),
                        "short_y": ("short_y", "bad")},
    "unknown_keyword": {"foo=1": (1, "bad")},
}
EVAL_KWARGS = {k: FIT_KWARGS[k] for k in ("batch_size", "verbose", "callbacks", "unknown_keyword")}
PREDICT_KWARGS = EVAL_KWARGS
METHODS = {"fit": FIT_KWARGS, "evaluate": EVAL_KWARGS, "predict": PREDICT_KWARGS, "train_on_batch": {},
           "test_on_batch": {}, "predict_on_batch": {}}
NEEDS_Y = {"fit", "evaluate", "train_on_batch", "test_on_batch"}
NEEDS_ROWS = {"fit", "evaluate", "train_on_batch", "test_on_batch", "predict_on_batch"}


ROWS = {"empty": 0, "one_row": 1, "fewer_rows": N - 1}   # rows of a spoiled x or y, when not N


def verdict_of(entry, kind):
    v = entry[1]
    return v.get(kind, v.get("*")) if isinstance(v, dict) else v


def case_verdict(case):
    """'bad' if any part is bad, 'good' if all are good, else 'either'."""
    kind, method = case["model"], case["method"]
    parts = [verdict_of(X_MUTATIONS[case["x"]], kind)]
    if method in NEEDS_Y:
        parts.append(verdict_of(Y_MUTATIONS[case["y"]], kind))
        if ROWS.get(case["x"], N) != ROWS.get(case["y"], N):
            parts.append("bad")       # x and y of different lengths
    if case["x"] == "empty" and method in NEEDS_ROWS:
        parts.append("bad")
    for name, value in case["kwargs"].items():
        parts.append(verdict_of(METHODS[method][name][value], kind))
    if "bad" in parts:
        return "bad"
    return "good" if all(p == "good" for p in parts) else "either"


# ---- cases, as hypothesis strategies ------------------------------------------------------------
def case_strategy(models=MODELS):
    from hypothesis import strategies as st

    @st.composite
    def case(draw):
        method = draw(st.sampled_from(sorted(METHODS)))
        kwargs_space = METHODS[method]

        def pick(space, p_spoil):
            """'valid' (a good value) most of the time, so that one spoiled thing is seen alone"""
            good = sorted(k for k, v in space.items() if k == "valid" or v[1] == "good")
            if good and draw(st.integers(0, 9)) >= 10 * p_spoil:
                return draw(st.sampled_from(good))
            return draw(st.sampled_from(sorted(space)))

        names = draw(st.lists(st.sampled_from(sorted(kwargs_space)), max_size=3, unique=True)) if kwargs_space else []
        return {
            "model": draw(st.sampled_from(list(models))),
            "method": method,
            "x": pick(X_MUTATIONS, 0.5),
            "y": pick(Y_MUTATIONS, 0.5),
            "kwargs": {n: pick(kwargs_space[n], 0.4) for n in names},
        }
    return case()


# ---- running one case ------------------------------------------------------------------------
class Outcome(Exception):
    """A fuzz case that ended other than Keras would: refused when valid, accepted when bad, an internal exception."""


def _callbacks(name):
    from seqc.keras.callbacks import History
    return {"None": None, "[]": [], "[History]": [History()], "'x'": "x", "[object()]": [object()],
            "[None]": [None]}[name]


def _validation_data(name, kind, rng):
    xv, yv = valid_arrays(kind, rng, 4)
    return {"None": None, "valid": (xv, yv), "empty": (xv[:0], yv[:0]), "()": (), "(x,)": (xv,), "'x'": "x",
            "short_y": (xv, yv[:-1])}[name]


def run_case(case, models, rng):
    """Returns 'ok' (accepted, result checked) or 'refused' (ValueError/TypeError); raises
    Outcome for anything else: another exception, a result of the wrong shape, an accepted bad
    case, a refused good one."""
    kind, method = case["model"], case["method"]
    model = models[kind]
    x0, y0 = valid_arrays(kind, rng)
    x = X_MUTATIONS[case["x"]][0](x0, kind)
    y = Y_MUTATIONS[case["y"]][0](y0, kind)
    kwargs = {}
    for name, value in case["kwargs"].items():
        v = METHODS[method][name][value][0]
        if name == "callbacks":
            v = _callbacks(v)
        elif name == "validation_data":
            v = _validation_data(v, kind, rng)
        elif name == "unknown_keyword":
            name = "foo"
        kwargs[name] = v
    if method in ("fit", "evaluate", "predict"):
        kwargs.setdefault("verbose", 0)
    verdict = case_verdict(case)
    args = (x, y) if method in NEEDS_Y else (x,)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = getattr(model, method)(*args, **kwargs)
    except (ValueError, TypeError) as e:
        if verdict == "good":
            raise Outcome(f"refused a valid case: {type(e).__name__}: {e}") from e
        if not str(e).strip():
            raise Outcome(f"{type(e).__name__} without a message") from e
        return "refused"
    except Exception as e:  # noqa: BLE001 - this is what the fuzzer looks for
        raise Outcome(f"internal exception {type(e).__name__}: {e}") from e
    if verdict == "bad":
        raise Outcome(f"accepted a case Keras refuses (returned {type(result).__name__})")
    check_result(model, method, x, result)
    return "ok"


def check_result(model, method, x, result):
    if method in ("predict", "predict_on_batch"):
        n = len(x)
        out_shape = tuple(model.output_shape[1:])
        if not isinstance(result, np.ndarray) or result.shape != (n,) + out_shape:
            raise Outcome(f"predict returned {type(result).__name__} "
                          f"{getattr(result, 'shape', '')}, expected {(n,) + out_shape}")
        ref = model.predict(np.asarray(x, dtype=np.float32), batch_size=max(1, n), verbose=0)
        if not np.allclose(result, ref, atol=1e-5, equal_nan=True):
            raise Outcome("predict's result differs from predict on the same values as float32")
    elif method == "fit":
        if not isinstance(getattr(result, "history", None), dict):
            raise Outcome(f"fit returned {result!r}")
    else:
        vals = result if isinstance(result, list) else [result]
        if not all(isinstance(v, float) for v in vals):
            raise Outcome(f"{method} returned {result!r}")


# ---- the child process -------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args(argv)
    from hypothesis import HealthCheck, given, seed, settings

    kinds = args.models.split(",")
    models = {k: build_model(k) for k in kinds}
    counts = {"ok": 0, "refused": 0}
    rng = np.random.default_rng(args.seed)

    @seed(args.seed)
    @settings(max_examples=args.examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(case_strategy(kinds))
    def fuzz(case):
        print("CASE", json.dumps(case), flush=True)     # the last one printed is the culprit of a crash
        counts[run_case(case, models, rng)] += 1

    try:
        fuzz()
    finally:
        print("SUMMARY", json.dumps(counts), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    main()
