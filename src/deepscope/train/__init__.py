"""Training: the loop, optimisers, augmentation, held-out evaluation, checkpoint schedules, stacked seeds."""
from deepscope.train.augment import Augment
from deepscope.train.evaluate import evaluate
from deepscope.train.optim import OPTIMIZERS, build_optimizer
from deepscope.train.schedule import Schedule, Step
from deepscope.train.stacked import StackedTrainer
from deepscope.train.trainer import TrainConfig, Trainer, TrainResult, TrainState

__all__ = ["OPTIMIZERS", "Augment", "Schedule", "StackedTrainer", "Step", "TrainConfig", "TrainResult", "TrainState",
           "Trainer", "build_optimizer", "evaluate"]
