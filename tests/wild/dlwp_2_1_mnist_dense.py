# Source: fchollet/deep-learning-with-python-notebooks, first_edition/2.1-a-first-look-at-a-neural-network.ipynb, code cells 1-15 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's code cells named above, in order (each marked `# --- code cell N`; the other
# cells plot with matplotlib or only display values).
# Changed for the test (marked `seqc-test`): MNIST's loading swapped for random arrays of its
# shapes and dtypes (fewer rows), epochs cut to 1.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
from keras.datasets import mnist
import numpy as np  # seqc-test: for the synthetic data

(train_images, train_labels), (test_images, test_labels) = (np.random.randint(0, 256, (600, 28, 28)).astype('uint8'), np.random.randint(0, 10, 600).astype('uint8')), (np.random.randint(0, 256, (100, 28, 28)).astype('uint8'), np.random.randint(0, 10, 100).astype('uint8'))  # seqc-test: synthetic data

# --- code cell 3
train_images.shape

# --- code cell 4
len(train_labels)

# --- code cell 5
train_labels

# --- code cell 6
test_images.shape

# --- code cell 7
len(test_labels)

# --- code cell 8
test_labels

# --- code cell 9
from keras import models
from keras import layers

network = models.Sequential()
network.add(layers.Dense(512, activation='relu', input_shape=(28 * 28,)))
network.add(layers.Dense(10, activation='softmax'))

# --- code cell 10
network.compile(optimizer='rmsprop',
                loss='categorical_crossentropy',
                metrics=['accuracy'])

# --- code cell 11
train_images = train_images.reshape((600, 28 * 28))  # seqc-test: 60000 rows
train_images = train_images.astype('float32') / 255

test_images = test_images.reshape((100, 28 * 28))  # seqc-test: 10000 rows
test_images = test_images.astype('float32') / 255

# --- code cell 12
from keras.utils import to_categorical

train_labels = to_categorical(train_labels)
test_labels = to_categorical(test_labels)

# --- code cell 13
network.fit(train_images, train_labels, epochs=1, batch_size=128)  # seqc-test: was epochs=5

# --- code cell 14
test_loss, test_acc = network.evaluate(test_images, test_labels)

# --- code cell 15
print('test_acc:', test_acc)
