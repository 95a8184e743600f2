"""`keras.preprocessing`: the data helpers Keras scripts import (sequence padding, the text
Tokenizer, ImageDataGenerator)."""
from . import image, sequence, text  # noqa: F401
from .sequence import pad_sequences  # noqa: F401
