"""`keras.callbacks`: the runtime's Keras-compatible callbacks."""
from ..runtime.callbacks import (  # noqa: F401
    BackupAndRestore, Callback, CallbackList, CSVLogger, EarlyStopping, History, LambdaCallback,
    LearningRateScheduler, ModelCheckpoint, ProgbarLogger, ReduceLROnPlateau, TensorBoard, TerminateOnNaN)
