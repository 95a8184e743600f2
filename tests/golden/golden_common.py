"""Helpers shared by the three golden generators (make_goldens.py, make_conv_goldens.py,
make_rnn_goldens.py). It imports no Keras backend, so the RNN generator's JAX worker can
use it as well."""
import json

import numpy as np

F32 = np.float32


class Goldens:
    """The cases and sanity checks one generator writes: `<prefix><case>.npz` files and the
    manifest describing them, in `out`."""

    def __init__(self, out, prefix=""):
        self.out, self.prefix = out, prefix
        self.manifest, self.checks = {}, []   # case -> description; (name, ok, detail)

    def check(self, name, ok, detail=""):
        self.checks.append((name, bool(ok), detail))

    def add_case(self, name, desc, arrays):
        assert name.startswith(self.prefix), name
        assert name not in self.manifest, name
        self.manifest[name] = desc
        np.savez_compressed(self.out / f"{name}.npz", **arrays)

    def finish(self, meta, manifest_name):
        """Write the manifest, print the checks; the process exit code (1 if any failed)."""
        manifest = {"_meta": meta}
        manifest.update(self.manifest)
        with open(self.out / manifest_name, "w") as fh:
            json.dump(manifest, fh, indent=1, sort_keys=False)
            fh.write("\n")
        bad = [c for c in self.checks if not c[1]]
        print(f"{len(self.manifest)} cases, {len(self.checks)} checks, {len(bad)} failed")
        for name, _ok, detail in bad:
            print("  FAILED:", name, detail)
        files = [self.out / manifest_name] + sorted(self.out.glob(f"{self.prefix}*.npz"))
        print(f"size of {manifest_name} and its cases: {sum(f.stat().st_size for f in files) / 1e6:.2f} MB")
        return 1 if bad else 0


def weights_dict(prefix, ws):
    return {f"{prefix}_{i}": np.asarray(w, dtype=F32) for i, w in enumerate(ws)}


def set_and_verify(model, ws):
    model.set_weights(ws)
    got = model.get_weights()
    assert len(got) == len(ws)
    for a, b in zip(got, ws):
        assert a.shape == b.shape and np.array_equal(a, b)


def sig8(v):
    """Round float hyper-parameters (stored as float32 variables) to 8 sig. digits."""
    if isinstance(v, float):
        return float(f"{v:.8g}")
    return v


GENERIC_OPT_KEYS = {"name", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "use_ema", "ema_momentum",
                    "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps"}


def resolved_opt_config(opt):
    """The optimizer's get_config without the options every optimizer has."""
    return {k: sig8(v) for k, v in opt.get_config().items() if k not in GENERIC_OPT_KEYS}


GENERIC_LAYER_KEYS = {"name", "trainable", "dtype", "activity_regularizer", "lora_rank", "lora_alpha", "quantization_config"}


def resolved_layer_config(layer):
    """The layer's get_config with defaults filled in, without generic keys and initializers."""
    out = {}
    for k, v in layer.get_config().items():
        if k in GENERIC_LAYER_KEYS or k.endswith(("_initializer", "_regularizer", "_constraint")):
            continue
        out[k] = json.loads(json.dumps(v))  # tuples -> lists
    return out
