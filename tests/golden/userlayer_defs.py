"""The user-written layers of the user-layer goldens, written once for both sides: `define`
takes the Keras modules (real Keras 3 in make_userlayer_goldens.py, seqc.keras in
tests/test_user_layers.py) and returns the model cases, so both build exactly the same code."""


def define(keras, layers, ops):
    class Antirectifier(layers.Layer):
        """keras-io's antirectifier example (examples/keras_recipes/antirectifier.py), unchanged."""

        def __init__(self, initializer="he_normal", **kwargs):
            super().__init__(**kwargs)
            self.initializer = keras.initializers.get(initializer)

        def build(self, input_shape):
            output_dim = input_shape[-1]
            self.kernel = self.add_weight(
                shape=(output_dim * 2, output_dim),
                initializer=self.initializer,
                name="kernel",
                trainable=True,
            )

        def call(self, inputs):
            inputs -= ops.mean(inputs, axis=-1, keepdims=True)
            pos = ops.relu(inputs)
            neg = ops.relu(-inputs)
            concatenated = ops.concatenate([pos, neg], axis=-1)
            mixed = ops.matmul(concatenated, self.kernel)
            return mixed

    class AntirectifierL2(layers.Layer):
        """The original Keras-2 antirectifier: centre, l2-normalise, concatenate both relu parts."""

        def compute_output_shape(self, input_shape):
            shape = list(input_shape)
            shape[-1] *= 2
            return tuple(shape)

        def call(self, inputs):
            inputs -= ops.mean(inputs, axis=1, keepdims=True)
            inputs = ops.normalize(inputs, axis=1)
            pos = ops.relu(inputs)
            neg = ops.relu(-inputs)
            return ops.concatenate([pos, neg], axis=1)

    class MyDense(layers.Layer):
        """A Dense-like layer: kernel and bias from add_weight, an activation."""

        def __init__(self, units, activation=None, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.activation = keras.activations.get(activation)

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                     trainable=True, name="kernel")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True, name="bias")

        def call(self, inputs):
            return self.activation(ops.matmul(inputs, self.w) + self.b)

    class ScaleShift(layers.Layer):
        """A frozen per-feature scale (non-trainable, created first) and a trainable shift."""

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", trainable=False,
                                         name="scale")
            self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="shift")

        def call(self, x):
            return ops.tanh(x * self.scale + self.shift)

    D = layers.Dense
    return {
        # case: (input shape, layer list factory)
        "antirectifier_mlp": ((8,), lambda: [D(6), Antirectifier(), D(6), Antirectifier(), D(3)]),
        "antirectifier_l2": ((7,), lambda: [D(5), AntirectifierL2(), D(3)]),
        "lambda_scale": ((6,), lambda: [layers.Lambda(lambda x: x / 255.0), D(4, activation="tanh"), D(3)]),
        "lambda_mean": ((12,), lambda: [D(12), layers.Reshape((4, 3)),
                                         layers.Lambda(lambda x: ops.mean(x, axis=1)), D(3)]),
        "lambda_last_step": ((12,), lambda: [D(12), layers.Reshape((4, 3)), layers.Lambda(lambda x: x[:, -1, :]),
                                              D(3)]),
        "lambda_expand_dims": ((6,), lambda: [D(6), layers.Lambda(lambda x: ops.expand_dims(x, -1)),
                                              layers.Conv1D(2, 3), layers.Flatten(), D(3)]),
        "lambda_normalize": ((6,), lambda: [D(5), layers.Lambda(lambda x: ops.normalize(x, axis=-1)), D(3)]),
        "lambda_elementwise": ((6,), lambda: [D(5), layers.Lambda(lambda x, s: ops.tanh(x) * s + ops.square(x),
                                                                  arguments={"s": 0.5}),
                                              layers.Lambda(lambda x: ops.maximum(x, 0.1) - ops.abs(x) / 3.0),
                                              D(3)]),
        "mydense": ((6,), lambda: [MyDense(5, activation="tanh"), MyDense(4, activation="relu"), D(3)]),
        "nontrainable": ((6,), lambda: [D(5), ScaleShift(), D(3)]),
    }
