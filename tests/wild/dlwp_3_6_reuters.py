# Source: fchollet/deep-learning-with-python-notebooks, first_edition/3.6-classifying-newswires.ipynb, code cells 1-15, 18-27 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's code cells named above, in order (each marked `# --- code cell N`; the other
# cells plot with matplotlib or only display values).
# Changed for the test (marked `seqc-test`): Reuters' loading swapped for random word-index
# sequences of its kind (46 topics; fewer rows), epochs cut to 1. The validation split takes 100 rows instead of 1000.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
from keras.datasets import reuters
import numpy as np  # seqc-test: for the synthetic data

(train_data, train_labels), (test_data, test_labels) = ([list(np.random.randint(1, 10000, np.random.randint(10, 200))) for _ in range(400)], np.arange(400) % 46), ([list(np.random.randint(1, 10000, np.random.randint(10, 200))) for _ in range(100)], np.arange(100) % 46)  # seqc-test: synthetic data

# --- code cell 3
len(train_data)

# --- code cell 4
len(test_data)

# --- code cell 5
train_data[10]

# --- code cell 6
word_index = {'w%d' % i: i for i in range(1, 30000)}  # seqc-test: synthetic word index (was reuters.get_word_index(), a download)
reverse_word_index = dict([(value, key) for (key, value) in word_index.items()])
# Note that our indices were offset by 3
# because 0, 1 and 2 are reserved indices for "padding", "start of sequence", and "unknown".
decoded_newswire = ' '.join([reverse_word_index.get(i - 3, '?') for i in train_data[0]])

# --- code cell 7
decoded_newswire

# --- code cell 8
train_labels[10]

# --- code cell 9
import numpy as np

def vectorize_sequences(sequences, dimension=10000):
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        results[i, sequence] = 1.
    return results

# Our vectorized training data
x_train = vectorize_sequences(train_data)
# Our vectorized test data
x_test = vectorize_sequences(test_data)

# --- code cell 10
def to_one_hot(labels, dimension=46):
    results = np.zeros((len(labels), dimension))
    for i, label in enumerate(labels):
        results[i, label] = 1.
    return results

# Our vectorized training labels
one_hot_train_labels = to_one_hot(train_labels)
# Our vectorized test labels
one_hot_test_labels = to_one_hot(test_labels)

# --- code cell 11
from keras.utils.np_utils import to_categorical

one_hot_train_labels = to_categorical(train_labels)
one_hot_test_labels = to_categorical(test_labels)

# --- code cell 12
from keras import models
from keras import layers

model = models.Sequential()
model.add(layers.Dense(64, activation='relu', input_shape=(10000,)))
model.add(layers.Dense(64, activation='relu'))
model.add(layers.Dense(46, activation='softmax'))

# --- code cell 13
model.compile(optimizer='rmsprop',
              loss='categorical_crossentropy',
              metrics=['accuracy'])

# --- code cell 14
x_val = x_train[:100]  # seqc-test: was 1000
partial_x_train = x_train[100:]  # seqc-test: was 1000

y_val = one_hot_train_labels[:100]  # seqc-test: was 1000
partial_y_train = one_hot_train_labels[100:]  # seqc-test: was 1000

# --- code cell 15
history = model.fit(partial_x_train,
                    partial_y_train,
                    epochs=1,  # seqc-test: was 20
                    batch_size=512,
                    validation_data=(x_val, y_val))

# --- code cell 18
model = models.Sequential()
model.add(layers.Dense(64, activation='relu', input_shape=(10000,)))
model.add(layers.Dense(64, activation='relu'))
model.add(layers.Dense(46, activation='softmax'))

model.compile(optimizer='rmsprop',
              loss='categorical_crossentropy',
              metrics=['accuracy'])
model.fit(partial_x_train,
          partial_y_train,
          epochs=1,  # seqc-test: was 8
          batch_size=512,
          validation_data=(x_val, y_val))
results = model.evaluate(x_test, one_hot_test_labels)

# --- code cell 19
results

# --- code cell 20
import copy

test_labels_copy = copy.copy(test_labels)
np.random.shuffle(test_labels_copy)
float(np.sum(np.array(test_labels) == np.array(test_labels_copy))) / len(test_labels)

# --- code cell 21
predictions = model.predict(x_test)

# --- code cell 22
predictions[0].shape

# --- code cell 23
np.sum(predictions[0])

# --- code cell 24
np.argmax(predictions[0])

# --- code cell 25
y_train = np.array(train_labels)
y_test = np.array(test_labels)

# --- code cell 26
model.compile(optimizer='rmsprop', loss='sparse_categorical_crossentropy', metrics=['acc'])

# --- code cell 27
model = models.Sequential()
model.add(layers.Dense(64, activation='relu', input_shape=(10000,)))
model.add(layers.Dense(4, activation='relu'))
model.add(layers.Dense(46, activation='softmax'))

model.compile(optimizer='rmsprop',
              loss='categorical_crossentropy',
              metrics=['accuracy'])
model.fit(partial_x_train,
          partial_y_train,
          epochs=1,  # seqc-test: was 20
          batch_size=128,
          validation_data=(x_val, y_val))
