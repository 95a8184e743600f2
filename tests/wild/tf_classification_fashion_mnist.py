# Source: tensorflow/docs, site/en/tutorials/keras/classification.ipynb, code cells 3-10, 12, 14-22, 27-29 (commit 7c3650212740204359d4ceae481abc79345541be), Apache License 2.0 (the notebook's code cells also carry Francois Chollet's MIT notice).
# seqc-wild: runs
# The notebook's code cells named above, in order (each marked `# --- code cell N`; the other
# cells are license headers or plot with matplotlib).
# Changed for the test (marked `seqc-test`): Fashion-MNIST's loading swapped for random arrays of
# its shapes and dtypes (fewer rows), epochs cut to 1.
# --- code cell 3
# TensorFlow and tf.keras
import tensorflow as tf

# Helper libraries
import numpy as np
# import matplotlib.pyplot as plt  # seqc-test: matplotlib is not installed here (only the cells left out plot)

print(tf.__version__)

# --- code cell 4
fashion_mnist = tf.keras.datasets.fashion_mnist

(train_images, train_labels), (test_images, test_labels) = (np.random.randint(0, 256, (600, 28, 28)).astype('uint8'), np.random.randint(0, 10, 600).astype('uint8')), (np.random.randint(0, 256, (100, 28, 28)).astype('uint8'), np.random.randint(0, 10, 100).astype('uint8'))  # seqc-test: synthetic data

# --- code cell 5
class_names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']

# --- code cell 6
train_images.shape

# --- code cell 7
len(train_labels)

# --- code cell 8
train_labels

# --- code cell 9
test_images.shape

# --- code cell 10
len(test_labels)

# --- code cell 12
train_images = train_images / 255.0

test_images = test_images / 255.0

# --- code cell 14
model = tf.keras.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dense(10)
])

# --- code cell 15
model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])

# --- code cell 16
model.fit(train_images, train_labels, epochs=1)  # seqc-test: was epochs=10

# --- code cell 17
test_loss, test_acc = model.evaluate(test_images,  test_labels, verbose=2)

print('\nTest accuracy:', test_acc)

# --- code cell 18
probability_model = tf.keras.Sequential([model, 
                                         tf.keras.layers.Softmax()])

# --- code cell 19
predictions = probability_model.predict(test_images)

# --- code cell 20
predictions[0]

# --- code cell 21
np.argmax(predictions[0])

# --- code cell 22
test_labels[0]

# --- code cell 27
# Grab an image from the test dataset.
img = test_images[1]

print(img.shape)

# --- code cell 28
# Add the image to a batch where it's the only member.
img = (np.expand_dims(img,0))

print(img.shape)

# --- code cell 29
predictions_single = probability_model.predict(img)

print(predictions_single)
