"""Training: the loop, optimisers, checkpoint schedules."""
from deepscope.train.optim import OPTIMIZERS, build_optimizer
from deepscope.train.schedule import Schedule, Step
from deepscope.train.trainer import TrainConfig, Trainer, TrainResult, TrainState

__all__ = ["OPTIMIZERS", "Schedule", "Step", "TrainConfig", "TrainResult", "TrainState", "Trainer",
           "build_optimizer"]
