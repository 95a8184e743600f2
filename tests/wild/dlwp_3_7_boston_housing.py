# Source: fchollet/deep-learning-with-python-notebooks, first_edition/3.7-predicting-house-prices.ipynb, code cells 1-10, 16-17 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's code cells named above, in order (cells 11-15, a second 500-epoch k-fold
# run and its plots, are left out; each marked `# --- code cell N`; the other
# cells plot with matplotlib or only display values).
# Changed for the test (marked `seqc-test`): Boston Housing's loading swapped for random arrays
# of its shapes and dtypes (fewer rows), epochs cut to 1.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
from keras.datasets import boston_housing
import numpy as np  # seqc-test: for the synthetic data

(train_data, train_targets), (test_data, test_targets) = (np.random.rand(80, 13) * 100, np.random.rand(80) * 50), (np.random.rand(20, 13) * 100, np.random.rand(20) * 50)  # seqc-test: synthetic data

# --- code cell 3
train_data.shape

# --- code cell 4
test_data.shape

# --- code cell 5
train_targets

# --- code cell 6
mean = train_data.mean(axis=0)
train_data -= mean
std = train_data.std(axis=0)
train_data /= std

test_data -= mean
test_data /= std

# --- code cell 7
from keras import models
from keras import layers

def build_model():
    # Because we will need to instantiate
    # the same model multiple times,
    # we use a function to construct it.
    model = models.Sequential()
    model.add(layers.Dense(64, activation='relu',
                           input_shape=(train_data.shape[1],)))
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(1))
    model.compile(optimizer='rmsprop', loss='mse', metrics=['mae'])
    return model

# --- code cell 8
import numpy as np

k = 4
num_val_samples = len(train_data) // k
num_epochs = 1  # seqc-test: was 100
all_scores = []
for i in range(k):
    print('processing fold #', i)
    # Prepare the validation data: data from partition # k
    val_data = train_data[i * num_val_samples: (i + 1) * num_val_samples]
    val_targets = train_targets[i * num_val_samples: (i + 1) * num_val_samples]

    # Prepare the training data: data from all other partitions
    partial_train_data = np.concatenate(
        [train_data[:i * num_val_samples],
         train_data[(i + 1) * num_val_samples:]],
        axis=0)
    partial_train_targets = np.concatenate(
        [train_targets[:i * num_val_samples],
         train_targets[(i + 1) * num_val_samples:]],
        axis=0)

    # Build the Keras model (already compiled)
    model = build_model()
    # Train the model (in silent mode, verbose=0)
    model.fit(partial_train_data, partial_train_targets,
              epochs=num_epochs, batch_size=1, verbose=0)
    # Evaluate the model on the validation data
    val_mse, val_mae = model.evaluate(val_data, val_targets, verbose=0)
    all_scores.append(val_mae)

# --- code cell 9
all_scores

# --- code cell 10
np.mean(all_scores)

# --- code cell 16
# Get a fresh, compiled model.
model = build_model()
# Train it on the entirety of the data.
model.fit(train_data, train_targets,
          epochs=1, batch_size=16, verbose=0)  # seqc-test: was epochs=80
test_mse_score, test_mae_score = model.evaluate(test_data, test_targets)

# --- code cell 17
test_mae_score
