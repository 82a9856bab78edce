"""The CUDA path end to end (skipped where torch sees no GPU)."""
import dataclasses

import pytest
import torch

from deepscope.models import build_model
from deepscope.probe import capture
from deepscope.studies import esl as study
from deepscope.train import TrainConfig, Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_trainer_and_capture_on_cuda():
    x, y = torch.randn(256, 10), torch.arange(256) % 4
    model = build_model("mlp", in_features=10, num_classes=4, hidden_dim=32, depth=3, p=0.1)
    result = Trainer(model, x, y, TrainConfig(epochs=20, stop_loss=None, device="cuda", progress=False)).fit()
    assert next(model.parameters()).is_cuda and result.final_train_loss < 1.4
    features = capture(model, x)
    assert all(f.is_cuda for f in features.values())


def test_esl_study_on_cuda_matches_cpu_closely():
    config = study.ESLConfig(dataset="digits", data_length=300, data_size=8, hidden_dim=32, depth=4,
                             num_epochs=10, stop_loss=None, p=0.0)
    cpu = study.run(config)
    gpu = study.run(dataclasses.replace(config, device="cuda"))
    assert gpu.log_d[0] == pytest.approx(cpu.log_d[0], rel=1e-6)     # the input layer does not depend on training
    assert gpu.pearson_r < 0 and len(gpu.log_d) == len(cpu.log_d)
