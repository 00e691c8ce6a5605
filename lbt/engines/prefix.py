"""Which prompts of a batch share a prefix, at the token level: the hf backend prefills each shared
prefix once and copies its KV cache to every row that starts with it (the prefix caching vLLM does).

Only token ids are compared, never text: a prefix is a run of the very ids the whole prompt
tokenises to, so prefix + suffix is the whole prompt's tokenisation by construction. Every row keeps
at least its last prompt token for the suffix pass, whose logits pick the first new token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Group:
    """Rows (indices into the prompts) whose first `shared` tokens are the same."""

    shared: int
    rows: tuple[int, ...]


def common_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading ids `a` and `b` share."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def prefix_groups(prompts: Sequence[Sequence[int]], max_rows: int) -> list[Group]:
    """Split the prompts into groups of at most `max_rows` that prefill the fewest tokens in all.

    Sorted by their ids, prompts with a common prefix lie next to each other; a group is a run of
    that order, and sharing `s` tokens among `k` rows saves `(k - 1) * s` of them. An exact dynamic
    programme over the runs picks the split that saves the most. A group of one row shares all but
    its last token (its whole prompt bar one goes to the cheaper prefix pass)."""
    order = sorted(range(len(prompts)), key=lambda i: tuple(prompts[i]))
    n = len(order)
    neighbours = [common_length(prompts[order[k]], prompts[order[k + 1]]) for k in range(n - 1)]
    best = [0] * (n + 1)  # best[j]: most tokens saved by the first j prompts of the order
    cut = [0] * (n + 1)  # where the last group of that best split starts
    for j in range(1, n + 1):
        best[j], cut[j] = best[j - 1], j - 1  # the j-th prompt alone
        shared = len(prompts[order[j - 1]]) - 1
        for i in range(j - 2, max(j - max_rows, 0) - 1, -1):  # the group order[i:j]
            shared = min(shared, neighbours[i], len(prompts[order[i]]) - 1)
            if best[i] + (j - i - 1) * shared > best[j]:
                best[j], cut[j] = best[i] + (j - i - 1) * shared, i
    groups, j = [], n
    while j > 0:
        rows = tuple(order[cut[j]:j])
        shared = min([len(prompts[r]) - 1 for r in rows] + [common_length(prompts[rows[0]], prompts[r]) for r in rows])
        groups.append(Group(max(shared, 0), rows))
        j = cut[j]
    return groups[::-1]


def single_rows(prompts: Sequence[Sequence[int]]) -> list[Group]:
    """No sharing: every prompt is its own group and goes whole to the suffix pass."""
    return [Group(0, (i,)) for i in range(len(prompts))]


def pack(groups: list[Group], prompts: Sequence[Sequence[int]], batch_size: int) -> list[list[Group]]:
    """Groups into batches of at most `batch_size` rows, a group never split; groups with similar
    suffix and prefix lengths side by side, so that little padding is decoded."""
    def shape(g: Group) -> tuple[int, int]:
        return max(len(prompts[r]) for r in g.rows) - g.shared, g.shared

    batches: list[list[Group]] = []
    filled = 0
    for group in sorted(groups, key=shape):
        if not batches or filled + len(group.rows) > batch_size:
            batches.append([])
            filled = 0
        batches[-1].append(group)
        filled += len(group.rows)
    return batches
