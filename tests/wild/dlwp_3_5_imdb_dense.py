# Source: fchollet/deep-learning-with-python-notebooks, first_edition/3.5-classifying-movie-reviews.ipynb, code cells 1-17, 20-22 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's code cells named above, in order (each marked `# --- code cell N`; the other
# cells plot with matplotlib or only display values).
# Changed for the test (marked `seqc-test`): IMDB's loading swapped for random word-index
# sequences of its kind (fewer rows), epochs cut to 1. The validation split takes 100 rows instead of 10000.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
from keras.datasets import imdb
import numpy as np  # seqc-test: for the synthetic data

(train_data, train_labels), (test_data, test_labels) = ([list(np.random.randint(1, 10000, np.random.randint(10, 300))) for _ in range(400)], np.random.randint(0, 2, 400)), ([list(np.random.randint(1, 10000, np.random.randint(10, 300))) for _ in range(100)], np.random.randint(0, 2, 100))  # seqc-test: synthetic data

# --- code cell 3
train_data[0]

# --- code cell 4
train_labels[0]

# --- code cell 5
max([max(sequence) for sequence in train_data])

# --- code cell 6
# word_index is a dictionary mapping words to an integer index
word_index = {'w%d' % i: i for i in range(1, 30000)}  # seqc-test: synthetic word index (was imdb.get_word_index(), a download)
# We reverse it, mapping integer indices to words
reverse_word_index = dict([(value, key) for (key, value) in word_index.items()])
# We decode the review; note that our indices were offset by 3
# because 0, 1 and 2 are reserved indices for "padding", "start of sequence", and "unknown".
decoded_review = ' '.join([reverse_word_index.get(i - 3, '?') for i in train_data[0]])

# --- code cell 7
decoded_review

# --- code cell 8
import numpy as np

def vectorize_sequences(sequences, dimension=10000):
    # Create an all-zero matrix of shape (len(sequences), dimension)
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        results[i, sequence] = 1.  # set specific indices of results[i] to 1s
    return results

# Our vectorized training data
x_train = vectorize_sequences(train_data)
# Our vectorized test data
x_test = vectorize_sequences(test_data)

# --- code cell 9
x_train[0]

# --- code cell 10
# Our vectorized labels
y_train = np.asarray(train_labels).astype('float32')
y_test = np.asarray(test_labels).astype('float32')

# --- code cell 11
from keras import models
from keras import layers

model = models.Sequential()
model.add(layers.Dense(16, activation='relu', input_shape=(10000,)))
model.add(layers.Dense(16, activation='relu'))
model.add(layers.Dense(1, activation='sigmoid'))

# --- code cell 12
model.compile(optimizer='rmsprop',
              loss='binary_crossentropy',
              metrics=['accuracy'])

# --- code cell 13
from keras import optimizers

model.compile(optimizer=optimizers.RMSprop(lr=0.001),
              loss='binary_crossentropy',
              metrics=['accuracy'])

# --- code cell 14
from keras import losses
from keras import metrics

model.compile(optimizer=optimizers.RMSprop(lr=0.001),
              loss=losses.binary_crossentropy,
              metrics=[metrics.binary_accuracy])

# --- code cell 15
x_val = x_train[:100]  # seqc-test: was 10000
partial_x_train = x_train[100:]  # seqc-test: was 10000

y_val = y_train[:100]  # seqc-test: was 10000
partial_y_train = y_train[100:]  # seqc-test: was 10000

# --- code cell 16
history = model.fit(partial_x_train,
                    partial_y_train,
                    epochs=1,  # seqc-test: was 20
                    batch_size=512,
                    validation_data=(x_val, y_val))

# --- code cell 17
history_dict = history.history
history_dict.keys()

# --- code cell 20
model = models.Sequential()
model.add(layers.Dense(16, activation='relu', input_shape=(10000,)))
model.add(layers.Dense(16, activation='relu'))
model.add(layers.Dense(1, activation='sigmoid'))

model.compile(optimizer='rmsprop',
              loss='binary_crossentropy',
              metrics=['accuracy'])

model.fit(x_train, y_train, epochs=1, batch_size=512)  # seqc-test: was epochs=4
results = model.evaluate(x_test, y_test)

# --- code cell 21
results

# --- code cell 22
model.predict(x_test)
