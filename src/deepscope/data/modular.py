"""Modular arithmetic equations ``a ∘ b = c (mod p)`` as token sequences (grokking tasks).

After the act_ids layout of Brown et al. 2022 ("Relating regularization and generalization through
the intrinsic dimension of activations"; seed ``BradleyBrown19/act_ids``), itself after Power et
al. 2022 ("Grokking"): each equation is the 4 tokens ``[a, o, b, =]`` with the vocabulary
'o' (the operator) = 0, '=' = 1 and number k = k + 2, so ``vocab_size = p + 2``; the label is c.

- ``+``, ``-``, ``*``: a, b in 0..p-1 (p² equations), c = (a ∘ b) mod p;
- ``/``: a in 0..p-1, b in 1..p-1 (p(p-1) equations), c = a · b^(p-2) mod p (Fermat's inverse,
  so p must be prime).

All equations are shuffled with the seed and the first ``int(frac_train · N)`` are 'train', the
rest 'test'. With ``op='/'``, ``p=97``, ``frac_train=0.2`` that is the seed's 9,312 equations and
1,862 training ones (the seed shuffles with ``random.Random(9)``; here the order comes from ``seed``).
"""
from __future__ import annotations

import numbers

import torch

from deepscope.data._rng import stream
from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.errors import DeepscopeError

OPS = ("+", "-", "*", "/")
OP_TOKEN, EQUALS_TOKEN, FIRST_NUMBER = 0, 1, 2


def is_prime(p: int) -> bool:
    """Whether ``p`` is prime (trial division up to sqrt(p); the moduli here are small)."""
    return p >= 2 and all(p % d for d in range(2, int(p ** 0.5) + 1))


def _check(op: str, p: object, frac_train: object) -> int:
    """``p`` as an int after checking all three options; DeepscopeError naming the bad one."""
    if op not in OPS:
        raise DeepscopeError(f"op must be one of {', '.join(OPS)}; got {op!r}.")
    if isinstance(p, bool) or not isinstance(p, numbers.Integral) or p < 2:
        raise DeepscopeError(f"p (the modulus) must be an integer >= 2; got {p!r}.")
    if op == "/" and not is_prime(int(p)):
        raise DeepscopeError(f"op='/' divides with Fermat's inverse b^(p-2), which needs a prime p; got p={p}. "
                             f"Use a prime such as 97 or 113.")
    if isinstance(frac_train, bool) or not isinstance(frac_train, numbers.Real) or not 0 < frac_train < 1:
        raise DeepscopeError(f"frac_train must be a number strictly between 0 and 1; got {frac_train!r}.")
    return int(p)


def equations(op: str, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every equation of ``op`` mod ``p`` in (a, b) order: operands [N, 2] (columns a, b) and results c [N], int64."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(1 if op == "/" else 0, p), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    if op == "+":
        c = (a + b) % p
    elif op == "-":
        c = (a - b) % p
    elif op == "*":
        c = (a * b) % p
    else:
        inverse = torch.tensor([0] + [pow(k, p - 2, p) for k in range(1, p)])
        c = (a * inverse[b]) % p
    return torch.stack([a, b], dim=1), c


def load_modular(request: SourceRequest, *, op: str = "/", p: int = 97, frac_train: float = 0.5) -> Dataset:
    """Equations a ∘ b mod p: x int64 tokens [n, 4] = [a+2, 0, b+2, 1], y = c in 0..p-1 (class name str(c))."""
    p = _check(op, p, frac_train)
    operands, c = equations(op, p)
    order = torch.randperm(len(c), generator=stream(request.seed, "modular"))
    n_train = int(frac_train * len(c) + 1e-9)  # 1e-9: 0.3 * 10 = 2.999... must count as 3
    if n_train == 0 or n_train == len(c):
        raise DeepscopeError(f"frac_train={frac_train} leaves the {'train' if n_train == 0 else 'test'} split empty "
                             f"({len(c)} equations); choose a fraction between {1 / len(c):.2g} and "
                             f"{1 - 1 / len(c):.4g}.")
    keep = order[:n_train] if request.split == "train" else order[n_train:]
    a, b = operands[keep, 0], operands[keep, 1]
    x = torch.stack([a + FIRST_NUMBER, torch.full_like(a, OP_TOKEN), b + FIRST_NUMBER,
                     torch.full_like(a, EQUALS_TOKEN)], dim=1)
    return Dataset(x=x, y=c[keep], class_names=[str(k) for k in range(p)], task="classification", name="modular",
                   source=f"generated: a {op} b mod {p}, {len(c)} equations, first {n_train} of a seed-{request.seed} "
                          f"shuffle are train ({request.split} split)",
                   meta={"op": op, "p": p, "tokens": [op, "="] + [str(k) for k in range(p)]},
                   vocab_size=p + FIRST_NUMBER)
