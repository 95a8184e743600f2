"""Golden reference data for the transposed, depthwise and separable convolutions and bilinear
upsampling (seqc/ops/conv_transpose.py, depthwise.py, resample.py), from real Keras 3 (torch).

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_convx_goldens.py

Writes tests/golden/convx_manifest.json and tests/golden/convx_<case>.npz (deleting only
convx_*.npz first). Each case is a small Sequential model (the layer under test, alone or
between others; whole models: a convolutional autoencoder and two DCGAN-style generators;
final layers whose activation fuses with the loss), its weights drawn from a fixed numpy seed
and installed with set_weights:
  x, y          a batch and the model's output
  r, dx, dw_i   a cotangent, and the gradients of sum(y * r) with respect to x and each weight
                (torch autograd through the Keras model)
  target        labels for `loss`
  sgd_losses, sgd_i / adam_losses, adam_i
                five train_on_batch steps of SGD(0.05) and of Adam(0.01) on (x, target) from the
                same weights: the losses and the final weights
Checks: the output shape against Keras's compute_output_shape, the layer under test against a
numpy reference (transposed convolution by its scatter definition, depthwise by its sum,
bilinear by the half-pixel formula), gradients by central differences of the numpy reference
for a few entries.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_common import Goldens, set_and_verify, weights_dict  # noqa: E402

import keras  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
assert keras.backend.backend() == "torch", keras.backend.backend()

OUT = Path(__file__).resolve().parent
PREFIX = "convx_"
F32 = np.float32
G = Goldens(OUT, PREFIX)
BATCH = 3


def L(cls, **cfg):
    return {"class": cls, "config": cfg}


def conv(rank, filters, k, **cfg):
    return L("Conv1D" if rank == 1 else "Conv2D", filters=filters, kernel_size=k, **cfg)


# (case, input shape, layers, index of the layer under test or None, loss)
CASES = [
    # Conv2DTranspose: strides, padding, output_padding, dilation
    ("ct2d_k3_valid", (4, 5, 3), [L("Conv2DTranspose", filters=4, kernel_size=3)], 0, "mse"),
    ("ct2d_k3_s2_same_relu", (4, 5, 3), [conv(2, 3, 1), L("Conv2DTranspose", filters=4, kernel_size=3, strides=2,
                                                          padding="same", activation="relu")], 1, "mse"),
    ("ct2d_k4_s2_same", (3, 4, 2), [conv(2, 3, 1), L("Conv2DTranspose", filters=3, kernel_size=4, strides=2,
                                                     padding="same")], 1, "mse"),
    ("ct2d_k3_s2_same_op1", (3, 4, 2), [conv(2, 2, 1), L("Conv2DTranspose", filters=3, kernel_size=3, strides=2,
                                                         padding="same", output_padding=1)], 1, "mse"),
    ("ct2d_k5_s2_same_op0", (3, 3, 2), [conv(2, 2, 1), L("Conv2DTranspose", filters=2, kernel_size=5, strides=2,
                                                         padding="same", output_padding=0)], 1, "mse"),
    ("ct2d_k3_s2_valid_op1", (3, 4, 2), [conv(2, 2, 1), L("Conv2DTranspose", filters=3, kernel_size=3, strides=2,
                                                          output_padding=1)], 1, "mse"),
    ("ct2d_k2_s3_valid", (3, 4, 2), [conv(2, 2, 1), L("Conv2DTranspose", filters=3, kernel_size=2, strides=3,
                                                      activation="tanh")], 1, "mse"),
    ("ct2d_k23_s21", (4, 5, 3), [conv(2, 2, 1), L("Conv2DTranspose", filters=3, kernel_size=[2, 3],
                                                  strides=[2, 1], padding="same", use_bias=False)], 1, "mse"),
    ("ct2d_k3_d2_same", (5, 5, 2), [conv(2, 2, 1), L("Conv2DTranspose", filters=3, kernel_size=3, dilation_rate=2,
                                                     padding="same", activation="sigmoid")], 1, "mse"),
    ("ct2d_k3_d2_valid", (4, 4, 2), [conv(2, 2, 1), L("Conv2DTranspose", filters=2, kernel_size=3,
                                                      dilation_rate=[2, 1])], 1, "mse"),
    # Conv1DTranspose
    ("ct1d_k3_s2_same", (6, 3), [conv(1, 3, 1), L("Conv1DTranspose", filters=3, kernel_size=3, strides=2,
                                                  padding="same")], 1, "mse"),
    ("ct1d_k4_s3_valid_op2", (5, 3), [conv(1, 2, 1), L("Conv1DTranspose", filters=2, kernel_size=4, strides=3,
                                                       output_padding=2, activation="tanh")], 1, "mse"),
    ("ct1d_k3_d2_valid", (6, 2), [L("Conv1DTranspose", filters=3, kernel_size=3, dilation_rate=2)], 0, "mse"),
    # DepthwiseConv2D / 1D
    ("dw2d_k3_valid", (5, 6, 3), [L("DepthwiseConv2D", kernel_size=3)], 0, "mse"),
    ("dw2d_k3_s2_same_m2_relu", (5, 6, 3), [conv(2, 3, 1), L("DepthwiseConv2D", kernel_size=3, strides=2,
                                                             padding="same", depth_multiplier=2,
                                                             activation="relu")], 1, "mse"),
    ("dw2d_k23_d2_same_m3", (7, 6, 2), [conv(2, 2, 1), L("DepthwiseConv2D", kernel_size=[2, 3], dilation_rate=2,
                                                         padding="same", depth_multiplier=3,
                                                         use_bias=False)], 1, "mse"),
    ("dw2d_k2_s2_valid", (6, 7, 2), [conv(2, 2, 1), L("DepthwiseConv2D", kernel_size=2, strides=2)], 1, "mse"),
    ("dw1d_k3_s2_same_m2", (8, 3), [conv(1, 3, 1), L("DepthwiseConv1D", kernel_size=3, strides=2, padding="same",
                                                     depth_multiplier=2, activation="tanh")], 1, "mse"),
    # SeparableConv2D / 1D
    ("sep2d_k3_valid", (5, 6, 3), [conv(2, 3, 1), L("SeparableConv2D", filters=4, kernel_size=3)], 1, "mse"),
    ("sep2d_k3_s2_same_m2_relu", (5, 6, 3), [conv(2, 3, 1), L("SeparableConv2D", filters=4, kernel_size=3,
                                                              strides=2, padding="same", depth_multiplier=2,
                                                              activation="relu")], 1, "mse"),
    ("sep2d_k3_d2_same_nobias", (6, 6, 2), [L("SeparableConv2D", filters=3, kernel_size=3, dilation_rate=2,
                                              padding="same", use_bias=False)], 0, "mse"),
    ("sep1d_k3_same_m2", (8, 3), [conv(1, 3, 1), L("SeparableConv1D", filters=5, kernel_size=3, padding="same",
                                                   depth_multiplier=2, activation="tanh")], 1, "mse"),
    # UpSampling2D(interpolation="bilinear")
    ("bilinear_2x2", (3, 4, 2), [conv(2, 2, 1), L("UpSampling2D", interpolation="bilinear")], 1, "mse"),
    ("bilinear_3x2", (3, 4, 2), [conv(2, 3, 2), L("UpSampling2D", size=[3, 2], interpolation="bilinear")], 1, "mse"),
    ("bilinear_1x4", (2, 5, 3), [conv(2, 2, 1), L("UpSampling2D", size=[1, 4], interpolation="bilinear")], 1, "mse"),
    ("bilinear_5x3", (4, 3, 1), [conv(2, 2, 1), L("UpSampling2D", size=[5, 3], interpolation="bilinear")], 1, "mse"),
    ("bilinear_2x2_1px", (1, 1, 2), [conv(2, 2, 1), L("UpSampling2D", interpolation="bilinear")], 1, "mse"),
    # whole models
    ("autoencoder", (8, 8, 1), [conv(2, 4, 3, padding="same", activation="relu"), L("MaxPooling2D", pool_size=2),
                                L("Conv2DTranspose", filters=4, kernel_size=3, strides=2, padding="same",
                                  activation="relu"),
                                conv(2, 1, 3, padding="same", activation="sigmoid")], None, "binary_crossentropy"),
    ("dcgan_transpose", (6,), [L("Dense", units=4 * 4 * 6, activation="relu"), L("Reshape", target_shape=[4, 4, 6]),
                               L("Conv2DTranspose", filters=4, kernel_size=4, strides=2, padding="same",
                                 activation="relu"),
                               L("UpSampling2D", interpolation="bilinear"),
                               conv(2, 1, 3, padding="same", activation="tanh")], None, "mse"),
    ("dcgan_upsampling", (6,), [L("Dense", units=3 * 3 * 8, activation="relu"), L("Reshape", target_shape=[3, 3, 8]),
                                L("UpSampling2D"), conv(2, 4, 3, padding="same", activation="relu"),
                                L("Conv2DTranspose", filters=3, kernel_size=3, strides=2, padding="same",
                                  activation="relu"),
                                conv(2, 1, 3, padding="same", activation="tanh")], None, "mse"),
    # final layers whose activation and loss fuse (sigmoid + binary, softmax + categorical cross-entropy)
    ("ct2d_sigmoid_bce", (3, 4, 2), [conv(2, 2, 1), L("Conv2DTranspose", filters=2, kernel_size=3, strides=2,
                                                      padding="same", activation="sigmoid")], 1,
     "binary_crossentropy"),
    ("dw2d_sigmoid_bce", (5, 5, 2), [conv(2, 2, 1), L("DepthwiseConv2D", kernel_size=3, depth_multiplier=2,
                                                      activation="sigmoid")], 1, "binary_crossentropy"),
    ("sep2d_softmax_cce", (5, 5, 2), [conv(2, 2, 1), L("SeparableConv2D", filters=3, kernel_size=3,
                                                       activation="softmax")], 1, "categorical_crossentropy"),
]


def build(input_shape, layers):
    return keras.Sequential([keras.Input(shape=input_shape)] +
                            [getattr(keras.layers, l["class"])(**l["config"]) for l in layers])


def grads(model, x, r):
    for v in model.weights:
        v.value.grad = None
    xt = torch.tensor(x, requires_grad=True)
    yt = model(xt)
    (yt * torch.tensor(r)).sum().backward()
    dws = [np.zeros(v.shape, F32) if v.value.grad is None else v.value.grad.detach().numpy().copy()
           for v in model.weights]
    return yt.detach().numpy(), xt.grad.numpy().copy(), dws


# ---- numpy references of the layers under test (float64) ----
def transpose_len(n, k, s, d, padding, op):
    keff = (k - 1) * d + 1
    if padding == "valid":
        op = max(keff, s) - keff if op is None else op
        left, right = keff - 1, keff - 1 + op
    else:
        pad = s + keff - 2 if op is None else keff + keff % 2 - 2 + op
        left = min(pad // 2 + pad % 2, keff - 1)
        right = pad - left
    return (n - 1) * s + keff - (keff - 1 - left) - (keff - 1 - right), keff - 1 - left


def as2d(h, rank):
    return h[:, None] if rank == 1 else h


def tup(v, rank):
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * rank


def ref_conv_transpose(cfg, rank, h, ws):
    k, s = tup(cfg["kernel_size"], rank), tup(cfg.get("strides", 1), rank)
    d = tup(cfg.get("dilation_rate", 1), rank)
    op = cfg.get("output_padding")
    op = None if op is None else tup(op, rank)
    if rank == 1:
        k, s, d, op = (1,) + k, (1,) + s, (1,) + d, None if op is None else (0,) + op
    pad = cfg.get("padding", "valid")
    x = as2d(h, rank).astype(np.float64)
    w = ws[0].astype(np.float64).reshape(k + ws[0].shape[-2:])
    n, H, W, C = x.shape
    (oh, pt), (ow, pl) = [transpose_len(m, k[i], s[i], d[i], "valid" if (rank == 1 and i == 0) else pad,
                                        None if op is None else op[i]) for i, m in enumerate((H, W))]
    y = np.zeros((n, oh, ow, w.shape[2]))
    for i in range(H):
        for j in range(W):
            for a in range(k[0]):
                for b in range(k[1]):
                    r, c = i * s[0] + a * d[0] - pt, j * s[1] + b * d[1] - pl
                    if 0 <= r < oh and 0 <= c < ow:
                        y[:, r, c] += x[:, i, j] @ w[a, b].T
    return y


def ref_depthwise(cfg, rank, h, ws):
    k, s = tup(cfg["kernel_size"], rank), tup(cfg.get("strides", 1), rank)
    d = tup(cfg.get("dilation_rate", 1), rank)
    if rank == 1:
        k, s, d = (1,) + k, (1,) + s, (1,) + d
    x = as2d(h, rank).astype(np.float64)
    w = ws[0].astype(np.float64).reshape(k + ws[0].shape[-2:])
    n, H, W, C = x.shape
    M = w.shape[-1]
    pads = []
    for m, kk, ss, dd in ((H, k[0], s[0], d[0]), (W, k[1], s[1], d[1])):
        span = (kk - 1) * dd + 1
        if cfg.get("padding", "valid") == "valid" or (rank == 1 and m is H):
            pads.append(((m - span) // ss + 1, 0))
        else:
            out = -(-m // ss)
            pads.append((out, max(0, (out - 1) * ss + span - m) // 2))
    (oh, pt), (ow, pl) = pads
    y = np.zeros((n, oh, ow, C * M))
    for i in range(oh):
        for j in range(ow):
            for a in range(k[0]):
                for b in range(k[1]):
                    r, c = i * s[0] + a * d[0] - pt, j * s[1] + b * d[1] - pl
                    if 0 <= r < H and 0 <= c < W:
                        y[:, i, j] += (x[:, r, c, :, None] * w[a, b]).reshape(n, C * M)
    return y


def ref_bilinear(cfg, h):
    sh, sw = tup(cfg.get("size", 2), 2)
    x = h.astype(np.float64)
    n, H, W, C = x.shape

    def axis(m, out):
        src = np.maximum((np.arange(out) + 0.5) * m / out - 0.5, 0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, m - 1)
        return i0, i1, src - i0

    h0, h1, lh = axis(H, H * sh)
    w0, w1, lw = axis(W, W * sw)
    top = x[:, h0][:, :, w0] * (1 - lw)[None, None, :, None] + x[:, h0][:, :, w1] * lw[None, None, :, None]
    bot = x[:, h1][:, :, w0] * (1 - lw)[None, None, :, None] + x[:, h1][:, :, w1] * lw[None, None, :, None]
    return top * (1 - lh)[None, :, None, None] + bot * lh[None, :, None, None]


def ref_layer(layer_desc, h, ws):
    cls, cfg = layer_desc["class"], layer_desc["config"]
    rank = 1 if cls.endswith("1D") or "1DTranspose" in cls else 2
    act = keras.activations.get(cfg.get("activation", "linear"))
    if cls.startswith("UpSampling"):
        return ref_bilinear(cfg, h)
    if "Transpose" in cls:
        z = ref_conv_transpose(cfg, rank, h, ws)
        bias = ws[1] if cfg.get("use_bias", True) else None
    elif cls.startswith("Depthwise"):
        z = ref_depthwise(cfg, rank, h, ws)
        bias = ws[1] if cfg.get("use_bias", True) else None
    else:                                            # Separable: depthwise then pointwise
        z = ref_depthwise(cfg, rank, h, ws)
        z = z @ ws[1].astype(np.float64).reshape(ws[1].shape[-2:])
        bias = ws[2] if cfg.get("use_bias", True) else None
    if bias is not None:
        z = z + bias
    if rank == 1:
        z = z[:, 0]
    return np.asarray(act(torch.tensor(z.astype(F32))).detach().numpy(), np.float64)


def train(model, ws, x, target, loss, optimizer):
    set_and_verify(model, ws)
    model.compile(optimizer=optimizer, loss=loss)
    losses = [float(model.train_on_batch(x, target)) for _ in range(5)]
    return np.array(losses, F32), model.get_weights()


def main():
    for f in OUT.glob(f"{PREFIX}*.npz"):
        f.unlink()
    for idx, (name, in_shape, layers, under_test, loss) in enumerate(CASES):
        case = PREFIX + name
        rng = np.random.default_rng(9100 + idx)
        model = build(in_shape, layers)
        ws = [rng.uniform(-0.5, 0.5, w.shape).astype(F32) for w in model.get_weights()]
        set_and_verify(model, ws)
        if loss == "binary_crossentropy":
            x = rng.uniform(0, 1, (BATCH, *in_shape)).astype(F32)
        else:
            x = rng.standard_normal((BATCH, *in_shape)).astype(F32)
        y = model.predict(x, batch_size=BATCH, verbose=0)
        G.check(f"{case}: output shape", tuple(model.output_shape[1:]) == y.shape[1:], f"{model.output_shape}")
        r = (rng.standard_normal(y.shape) / np.sqrt(y.size)).astype(F32)
        y2, dx, dws = grads(model, x, r)
        G.check(f"{case}: call == predict", np.allclose(y2, y, rtol=1e-5, atol=1e-6))
        if under_test is not None:
            before = build(in_shape, layers[:under_test])
            n_before = len(before.weights)
            set_and_verify(before, ws[:n_before])
            h = before.predict(x, verbose=0) if layers[:under_test] else x
            lw = ws[n_before:n_before + len(model.layers[under_test].weights)]
            want = ref_layer(layers[under_test], h, lw)
            got = np.asarray(model.layers[under_test](h).detach().numpy())
            G.check(f"{case}: layer == numpy", got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-5),
                    f"{got.shape} vs {want.shape}: {np.abs(got - want).max() if got.shape == want.shape else ''}")
            if under_test == len(layers) - 1 and lw:
                # dW of the layer under test by central differences of the numpy reference
                k = lw[0]
                for flat in rng.choice(k.size, size=min(4, k.size), replace=False):
                    i = np.unravel_index(flat, k.shape)
                    vals = []
                    for sgn in (1, -1):
                        lw2 = [a.astype(np.float64).copy() for a in lw]
                        lw2[0][i] += sgn * 1e-3
                        vals.append(float((ref_layer(layers[under_test], h, lw2) * r).sum()))
                    fd = (vals[0] - vals[1]) / 2e-3
                    g = dws[n_before][i]
                    G.check(f"{case}: dW fd", abs(fd - g) <= 1e-3 + 1e-2 * abs(fd), f"{fd} vs {g}")
        if loss == "binary_crossentropy":
            target = rng.uniform(0, 1, y.shape).astype(F32)
        elif loss == "categorical_crossentropy":
            target = rng.dirichlet(np.ones(y.shape[-1]), y.shape[:-1]).astype(F32)
        else:
            target = rng.standard_normal(y.shape).astype(F32)
        arrays = {"x": x, "y": y, "r": r, "dx": dx, "target": target}
        arrays.update(weights_dict("w", ws))
        arrays.update(weights_dict("dw", dws))
        for opt_name, opt in (("sgd", keras.optimizers.SGD(learning_rate=0.05)),
                              ("adam", keras.optimizers.Adam(learning_rate=0.01))):
            losses, trained = train(build(in_shape, layers), ws, x, target, loss, opt)
            G.check(f"{case}: {opt_name} finite", np.all(np.isfinite(losses)))
            arrays[f"{opt_name}_losses"] = losses
            arrays.update(weights_dict(opt_name, trained))
        G.add_case(case, {"input_shape": list(in_shape), "layers": layers, "under_test": under_test,
                          "batch": BATCH, "loss": loss, "steps": 5,
                          "optimizers": {"sgd": {"class": "SGD", "config": {"learning_rate": 0.05}},
                                         "adam": {"class": "Adam", "config": {"learning_rate": 0.01}}}}, arrays)
    sys.exit(G.finish({"keras": keras.__version__, "backend": keras.backend.backend(),
                       "torch": torch.__version__, "numpy": np.__version__}, "convx_manifest.json"))


if __name__ == "__main__":
    main()
