"""The reusable pieces of iterative magnitude pruning and the lottery ticket experiments.

One round of Frankle & Carbin (ICLR 2019, "The Lottery Ticket Hypothesis"), with rewinding to
iteration k (Frankle, Dziugaite, Roy & Carbin, ICML 2020)::

    start = snapshot(model)                        # or snapshot at iteration k from a Trainer callback
    Trainer(model, x, y, config).fit()
    masks = prune_by_magnitude(model, 0.2, scope="layerwise")   # output layer at 0.1
    rewind(model, start, masks)                    # or reinitialize / random_masks_like for the controls
    sparsity(model).overall                        # 0.8 of the prunable weights remain
"""
from deepscope.prune.magnitude import SCOPES, prune_by_magnitude, random_masks_like
from deepscope.prune.masks import (Mask, Remaining, apply_masks, default_prunable, masks_of, pruning_targets,
                                   remove_masks, sparsity)
from deepscope.prune.rewind import reinitialize, rewind, snapshot

__all__ = ["SCOPES", "Mask", "Remaining", "apply_masks", "default_prunable", "masks_of", "prune_by_magnitude",
           "pruning_targets", "random_masks_like", "reinitialize", "remove_masks", "rewind", "snapshot", "sparsity"]
