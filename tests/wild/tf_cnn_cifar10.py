# Source: tensorflow/docs, site/en/tutorials/images/cnn.ipynb, code cells 2-3, 5-9 (commit 7c3650212740204359d4ceae481abc79345541be), Apache License 2.0 (the notebook's code cells also carry Francois Chollet's MIT notice).
# seqc-wild: runs
# The notebook's code cells named above, in order (each marked `# --- code cell N`; the other
# cells are license headers or plot with matplotlib).
# Changed for the test (marked `seqc-test`): CIFAR-10's loading swapped for random arrays of its
# shapes and dtypes (fewer rows), epochs cut to 1.
# --- code cell 2
import tensorflow as tf

from tensorflow.keras import datasets, layers, models
import numpy as np  # seqc-test: for the synthetic data
# import matplotlib.pyplot as plt  # seqc-test: matplotlib is not installed here (only the cells left out plot)

# --- code cell 3
(train_images, train_labels), (test_images, test_labels) = (np.random.randint(0, 256, (128, 32, 32, 3)).astype('uint8'), np.random.randint(0, 10, (128, 1)).astype('uint8')), (np.random.randint(0, 256, (32, 32, 32, 3)).astype('uint8'), np.random.randint(0, 10, (32, 1)).astype('uint8'))  # seqc-test: synthetic data

# Normalize pixel values to be between 0 and 1
train_images, test_images = train_images / 255.0, test_images / 255.0

# --- code cell 5
model = models.Sequential()
model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation='relu'))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation='relu'))

# --- code cell 6
model.summary()

# --- code cell 7
model.add(layers.Flatten())
model.add(layers.Dense(64, activation='relu'))
model.add(layers.Dense(10))

# --- code cell 8
model.summary()

# --- code cell 9
model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])

history = model.fit(train_images, train_labels, epochs=1,   # seqc-test: was epochs=10
                    validation_data=(test_images, test_labels))
