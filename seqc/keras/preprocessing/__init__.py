"""`keras.preprocessing`: the data helpers Keras scripts import (sequence padding)."""
from . import sequence  # noqa: F401
from .sequence import pad_sequences  # noqa: F401
