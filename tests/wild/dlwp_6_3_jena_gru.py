# Source: fchollet/deep-learning-with-python-notebooks, first_edition/6.3-advanced-usage-of-recurrent-neural-networks.ipynb, code cells 1-3, 6-8, 11, 13, 15, 17 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's code cells named above, in order (each marked `# --- code cell N`; the other
# cells plot, show the naive baseline, or repeat a model on reversed or text data).
# Changed for the test (marked `seqc-test`): the Jena climate CSV swapped for random values of its
# shape (420451 rows of 14 floats), 2 steps per epoch instead of 500, 2 validation steps
# instead of the whole validation range, epochs cut to 1.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
import os

data_dir = '/home/ubuntu/data/'
fname = os.path.join(data_dir, 'jena_climate_2009_2016.csv')

header = ['"Date Time"'] + ['"c%d"' % i for i in range(14)]  # seqc-test: synthetic data (the CSV's 15 columns)
lines = [None] * 420451  # seqc-test: synthetic data (the CSV's 420451 rows)

print(header)
print(len(lines))

# --- code cell 3
import numpy as np

float_data = np.zeros((len(lines), len(header) - 1))
for i, line in enumerate(lines):
    values = np.random.randn(14)  # seqc-test: synthetic data
    float_data[i, :] = values

# --- code cell 6
mean = float_data[:200000].mean(axis=0)
float_data -= mean
std = float_data[:200000].std(axis=0)
float_data /= std

# --- code cell 7
def generator(data, lookback, delay, min_index, max_index,
              shuffle=False, batch_size=128, step=6):
    if max_index is None:
        max_index = len(data) - delay - 1
    i = min_index + lookback
    while 1:
        if shuffle:
            rows = np.random.randint(
                min_index + lookback, max_index, size=batch_size)
        else:
            if i + batch_size >= max_index:
                i = min_index + lookback
            rows = np.arange(i, min(i + batch_size, max_index))
            i += len(rows)

        samples = np.zeros((len(rows),
                           lookback // step,
                           data.shape[-1]))
        targets = np.zeros((len(rows),))
        for j, row in enumerate(rows):
            indices = range(rows[j] - lookback, rows[j], step)
            samples[j] = data[indices]
            targets[j] = data[rows[j] + delay][1]
        yield samples, targets

# --- code cell 8
lookback = 1440
step = 6
delay = 144
batch_size = 128

train_gen = generator(float_data,
                      lookback=lookback,
                      delay=delay,
                      min_index=0,
                      max_index=200000,
                      shuffle=True,
                      step=step, 
                      batch_size=batch_size)
val_gen = generator(float_data,
                    lookback=lookback,
                    delay=delay,
                    min_index=200001,
                    max_index=300000,
                    step=step,
                    batch_size=batch_size)
test_gen = generator(float_data,
                     lookback=lookback,
                     delay=delay,
                     min_index=300001,
                     max_index=None,
                     step=step,
                     batch_size=batch_size)

# This is how many steps to draw from `val_gen`
# in order to see the whole validation set:
val_steps = 2  # seqc-test: was (300000 - 200001 - lookback) // batch_size

# This is how many steps to draw from `test_gen`
# in order to see the whole test set:
test_steps = (len(float_data) - 300001 - lookback) // batch_size

# --- code cell 11
from keras.models import Sequential
from keras import layers
from keras.optimizers import RMSprop

model = Sequential()
model.add(layers.Flatten(input_shape=(lookback // step, float_data.shape[-1])))
model.add(layers.Dense(32, activation='relu'))
model.add(layers.Dense(1))

model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit_generator(train_gen,
                              steps_per_epoch=2,  # seqc-test: was 500
                              epochs=1,  # seqc-test: was 20
                              validation_data=val_gen,
                              validation_steps=val_steps)

# --- code cell 13
from keras.models import Sequential
from keras import layers
from keras.optimizers import RMSprop

model = Sequential()
model.add(layers.GRU(32, input_shape=(None, float_data.shape[-1])))
model.add(layers.Dense(1))

model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit_generator(train_gen,
                              steps_per_epoch=2,  # seqc-test: was 500
                              epochs=1,  # seqc-test: was 20
                              validation_data=val_gen,
                              validation_steps=val_steps)

# --- code cell 15
from keras.models import Sequential
from keras import layers
from keras.optimizers import RMSprop

model = Sequential()
model.add(layers.GRU(32,
                     dropout=0.2,
                     recurrent_dropout=0.2,
                     input_shape=(None, float_data.shape[-1])))
model.add(layers.Dense(1))

model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit_generator(train_gen,
                              steps_per_epoch=2,  # seqc-test: was 500
                              epochs=1,  # seqc-test: was 40
                              validation_data=val_gen,
                              validation_steps=val_steps)

# --- code cell 17
from keras.models import Sequential
from keras import layers
from keras.optimizers import RMSprop

model = Sequential()
model.add(layers.GRU(32,
                     dropout=0.1,
                     recurrent_dropout=0.5,
                     return_sequences=True,
                     input_shape=(None, float_data.shape[-1])))
model.add(layers.GRU(64, activation='relu',
                     dropout=0.1, 
                     recurrent_dropout=0.5))
model.add(layers.Dense(1))

model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit_generator(train_gen,
                              steps_per_epoch=2,  # seqc-test: was 500
                              epochs=1,  # seqc-test: was 40
                              validation_data=val_gen,
                              validation_steps=val_steps)
