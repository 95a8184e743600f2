# Source: fchollet/deep-learning-with-python-notebooks, second_edition/chapter04_getting-started-with-neural-networks.ipynb, code cells 1-13, 16-18 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's first example, code cells named above, in order (each marked `# --- code cell N`;
# cells 14-15 plot with matplotlib). Its Sequential models have no input shape: Keras builds
# them at the first fit.
# Changed for the test (marked `seqc-test`): IMDB's loading swapped for random word-index
# sequences of its kind (fewer rows), epochs cut to 1. The validation split takes 100 rows instead of 10000.
# --- code cell 1
from tensorflow.keras.datasets import imdb
import numpy as np  # seqc-test: for the synthetic data
(train_data, train_labels), (test_data, test_labels) = ([list(np.random.randint(1, 10000, np.random.randint(10, 300))) for _ in range(400)], np.random.randint(0, 2, 400)), ([list(np.random.randint(1, 10000, np.random.randint(10, 300))) for _ in range(100)], np.random.randint(0, 2, 100))  # seqc-test: synthetic data

# --- code cell 2
train_data[0]

# --- code cell 3
train_labels[0]

# --- code cell 4
max([max(sequence) for sequence in train_data])

# --- code cell 5
word_index = {'w%d' % i: i for i in range(1, 30000)}  # seqc-test: synthetic word index (was imdb.get_word_index(), a download)
reverse_word_index = dict(
    [(value, key) for (key, value) in word_index.items()])
decoded_review = " ".join(
    [reverse_word_index.get(i - 3, "?") for i in train_data[0]])

# --- code cell 6
import numpy as np
def vectorize_sequences(sequences, dimension=10000):
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        for j in sequence:
            results[i, j] = 1.
    return results
x_train = vectorize_sequences(train_data)
x_test = vectorize_sequences(test_data)

# --- code cell 7
x_train[0]

# --- code cell 8
y_train = np.asarray(train_labels).astype("float32")
y_test = np.asarray(test_labels).astype("float32")

# --- code cell 9
from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    layers.Dense(16, activation="relu"),
    layers.Dense(16, activation="relu"),
    layers.Dense(1, activation="sigmoid")
])

# --- code cell 10
model.compile(optimizer="rmsprop",
              loss="binary_crossentropy",
              metrics=["accuracy"])

# --- code cell 11
x_val = x_train[:100]  # seqc-test: was 10000
partial_x_train = x_train[100:]  # seqc-test: was 10000
y_val = y_train[:100]  # seqc-test: was 10000
partial_y_train = y_train[100:]  # seqc-test: was 10000

# --- code cell 12
history = model.fit(partial_x_train,
                    partial_y_train,
                    epochs=1,  # seqc-test: was 20
                    batch_size=512,
                    validation_data=(x_val, y_val))

# --- code cell 13
history_dict = history.history
history_dict.keys()

# --- code cell 16
model = keras.Sequential([
    layers.Dense(16, activation="relu"),
    layers.Dense(16, activation="relu"),
    layers.Dense(1, activation="sigmoid")
])
model.compile(optimizer="rmsprop",
              loss="binary_crossentropy",
              metrics=["accuracy"])
model.fit(x_train, y_train, epochs=1, batch_size=512)  # seqc-test: was epochs=4
results = model.evaluate(x_test, y_test)

# --- code cell 17
results

# --- code cell 18
model.predict(x_test)
