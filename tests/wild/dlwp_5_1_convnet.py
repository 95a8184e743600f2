# Source: fchollet/deep-learning-with-python-notebooks, first_edition/5.1-introduction-to-convnets.ipynb, code cells 1-9 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's code cells named above, in order (each marked `# --- code cell N`; the other
# cells plot with matplotlib or only display values).
# Changed for the test (marked `seqc-test`): MNIST's loading swapped for random arrays of its
# shapes and dtypes (fewer rows), epochs cut to 1.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
from keras import layers
from keras import models

model = models.Sequential()
model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation='relu'))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation='relu'))

# --- code cell 3
model.summary()

# --- code cell 4
model.add(layers.Flatten())
model.add(layers.Dense(64, activation='relu'))
model.add(layers.Dense(10, activation='softmax'))

# --- code cell 5
model.summary()

# --- code cell 6
from keras.datasets import mnist
import numpy as np  # seqc-test: for the synthetic data
from keras.utils import to_categorical

(train_images, train_labels), (test_images, test_labels) = (np.random.randint(0, 256, (256, 28, 28)).astype('uint8'), np.random.randint(0, 10, 256).astype('uint8')), (np.random.randint(0, 256, (64, 28, 28)).astype('uint8'), np.random.randint(0, 10, 64).astype('uint8'))  # seqc-test: synthetic data

train_images = train_images.reshape((256, 28, 28, 1))  # seqc-test: 60000 rows
train_images = train_images.astype('float32') / 255

test_images = test_images.reshape((64, 28, 28, 1))  # seqc-test: 10000 rows
test_images = test_images.astype('float32') / 255

train_labels = to_categorical(train_labels)
test_labels = to_categorical(test_labels)

# --- code cell 7
model.compile(optimizer='rmsprop',
              loss='categorical_crossentropy',
              metrics=['accuracy'])
model.fit(train_images, train_labels, epochs=1, batch_size=64)  # seqc-test: was epochs=5

# --- code cell 8
test_loss, test_acc = model.evaluate(test_images, test_labels)

# --- code cell 9
test_acc
