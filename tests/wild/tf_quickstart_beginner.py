# Source: tensorflow/docs, site/en/tutorials/quickstart/beginner.ipynb, code cells 2-13 (commit 7c3650212740204359d4ceae481abc79345541be), Apache License 2.0 (the notebook's code cells also carry Francois Chollet's MIT notice).
# seqc-wild: xfail `model(x).numpy()` (seqc returns a NumPy array, Keras a backend tensor with .numpy()), then TensorFlow ops (`tf.nn.softmax`) that seqc's tf stand-in does not provide
# The notebook's code cells named above, in order (each marked `# --- code cell N`; cell 1 is
# the license header).
# Changed for the test (marked `seqc-test`): MNIST's loading swapped for random arrays of its
# shapes and dtypes (fewer rows), epochs cut to 1.
# --- code cell 2
import tensorflow as tf
import numpy as np  # seqc-test: for the synthetic data
print("TensorFlow version:", tf.__version__)

# --- code cell 3
mnist = tf.keras.datasets.mnist

(x_train, y_train), (x_test, y_test) = (np.random.randint(0, 256, (600, 28, 28)).astype('uint8'), np.random.randint(0, 10, 600).astype('uint8')), (np.random.randint(0, 256, (100, 28, 28)).astype('uint8'), np.random.randint(0, 10, 100).astype('uint8'))  # seqc-test: synthetic data
x_train, x_test = x_train / 255.0, x_test / 255.0

# --- code cell 4
model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(input_shape=(28, 28)),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dropout(0.2),
  tf.keras.layers.Dense(10)
])

# --- code cell 5
predictions = model(x_train[:1]).numpy()
predictions

# --- code cell 6
tf.nn.softmax(predictions).numpy()

# --- code cell 7
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

# --- code cell 8
loss_fn(y_train[:1], predictions).numpy()

# --- code cell 9
model.compile(optimizer='adam',
              loss=loss_fn,
              metrics=['accuracy'])

# --- code cell 10
model.fit(x_train, y_train, epochs=1)  # seqc-test: was epochs=5

# --- code cell 11
model.evaluate(x_test,  y_test, verbose=2)

# --- code cell 12
probability_model = tf.keras.Sequential([
  model,
  tf.keras.layers.Softmax()
])

# --- code cell 13
probability_model(x_test[:5])
