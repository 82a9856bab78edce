"""A small GPT-2-style decoder used as a sequence classifier.

Architecture (Radford et al., "Language Models are Unsupervised Multitask Learners", 2019: the pre-LayerNorm
variant of the Transformer decoder of Vaswani et al., "Attention Is All You Need", NeurIPS 2017). On token ids
x [n, T] with T <= seq_len and width d = n_embd:

    h_0 = Dropout(E_tok[x] + E_pos[0..T-1])                                   [n, T, d]
    a_i = Attn(LN(h_{i-1}))         causal multi-head self-attention (block{i}.attn)
    m_i = MLP(LN(h_{i-1} + a_i))    Linear(d, 4d) -> GELU -> Linear(4d, d)     (block{i}.mlp)
    h_i = h_{i-1} + a_i + m_i       the residual stream after block i          (block{i})
    features = LN(h_L)[:, T-1]      final LayerNorm at the last position       [n, d]
    logits = Linear(d, K)(features)                                             [n, K]

Attention: softmax(q kᵀ / sqrt(d / n_head)) v per head with a causal mask, so position t only sees positions
<= t; a_i and m_i end with dropout. Initialisation follows GPT-2: weights N(0, 0.02), biases 0, and the two
projections back into the residual stream N(0, 0.02 / sqrt(2 n_layer)).
"""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

from deepscope.errors import DeepscopeError
from deepscope.models.checks import positive_int, probability

INIT_STD = 0.02


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends to positions 0..t; [n, T, d] -> [n, T, d]."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.n_head = n_head
        self.attn_dropout = dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        heads = (part.reshape(n, t, self.n_head, d // self.n_head).transpose(1, 2)
                 for part in self.qkv(x).split(d, dim=2))
        y = F.scaled_dot_product_attention(*heads, dropout_p=self.attn_dropout if self.training else 0.0,
                                           is_causal=True)
        return self.dropout(self.proj(y.transpose(1, 2).reshape(n, t, d)))


class Block(nn.Module):
    """Pre-LN decoder block: h + a + m with a = Attn(LN(h)) and m = MLP(LN(h + a))."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(OrderedDict(fc=nn.Linear(n_embd, 4 * n_embd), act=nn.GELU(approximate="tanh"),
                                             proj=nn.Linear(4 * n_embd, n_embd), dropout=nn.Dropout(dropout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """GPT-2-style causal decoder that classifies a token sequence from its last position.

    Args:
        vocab_size: number of token ids; inputs are int64 ids in [0, vocab_size).
        num_classes: output dimension K.
        seq_len: the longest sequence (the number of learned positions); shorter sequences are fine.
        n_layer: number of decoder blocks.
        n_embd: width d of the residual stream; must be divisible by ``n_head``.
        n_head: number of attention heads.
        dropout: dropout probability on the embeddings, the attention weights and both sub-block outputs.
    """

    def __init__(self, *, vocab_size: int, num_classes: int, seq_len: int = 4, n_layer: int = 2, n_embd: int = 128,
                 n_head: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.vocab_size = positive_int("transformer", "vocab_size", vocab_size)
        positive_int("transformer", "num_classes", num_classes)
        self.seq_len = positive_int("transformer", "seq_len", seq_len)
        for option, value in (("n_layer", n_layer), ("n_embd", n_embd), ("n_head", n_head)):
            positive_int("transformer", option, value)
        p = probability("transformer", "dropout", dropout)
        if n_embd % n_head:
            raise DeepscopeError(f"transformer: n_embd ({n_embd}) must be divisible by n_head ({n_head}), so each "
                                 f"head gets n_embd / n_head dimensions. Pick e.g. n_embd={n_head * 32} or a "
                                 f"divisor of {n_embd} as n_head.")
        self.tokens = nn.Embedding(vocab_size, n_embd)
        self.positions = nn.Embedding(seq_len, n_embd)
        self.dropout = nn.Dropout(p)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, p) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, num_classes)
        self._init_weights(n_layer)

    def _init_weights(self, n_layer: int) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=INIT_STD)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp.proj):
                nn.init.normal_(proj.weight, std=INIT_STD / math.sqrt(2 * n_layer))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        h = self.dropout(self.tokens(x) + self.positions(torch.arange(x.shape[1], device=x.device)))
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln_f(h[:, -1]))

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.dtype != torch.int64 or not 1 <= x.shape[1] <= self.seq_len:
            raise DeepscopeError(f"transformer expects int64 token ids [n, T] with 1 <= T <= seq_len = "
                                 f"{self.seq_len}; got a {x.dtype} tensor of shape {list(x.shape)}. Convert with "
                                 f".long(), or rebuild the model with a larger seq_len.")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.vocab_size):
            raise DeepscopeError(f"transformer: token ids must lie in [0, vocab_size = {self.vocab_size}); got ids "
                                 f"from {int(x.min())} to {int(x.max())}. Rebuild with a larger vocab_size.")

    def probe_points(self) -> dict[str, nn.Module]:
        """Per block i = 1..n_layer: ``block{i}.attn``, ``block{i}.mlp`` (sub-block outputs before the residual add),
        ``block{i}`` (the residual stream [n, T, d]); then ``features`` (final LayerNorm output at the last
        position, [n, d]) and ``logits``. In forward order."""
        points: dict[str, nn.Module] = {}
        for i, block in enumerate(self.blocks, start=1):
            points.update({f"block{i}.attn": block.attn, f"block{i}.mlp": block.mlp, f"block{i}": block})
        return {**points, "features": self.ln_f, "logits": self.head}
