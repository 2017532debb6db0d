"""Connected components of small graphs given as boolean adjacency matrices."""
from __future__ import annotations

import numpy as np


def components(linked: np.ndarray) -> np.ndarray:
    """Component labels (N,) int for an (N, N) boolean matrix ``linked`` (node i linked to
    node j; taken as undirected): each node's label is the smallest index in its
    connected component, so labels in increasing order list components by first member."""
    linked = np.asarray(linked, bool)
    linked = linked | linked.T
    labels = np.arange(len(linked))
    while True:  # each node takes the smallest label among its links, until nothing changes
        spread = np.minimum(np.where(linked, labels[None, :], len(linked)).min(axis=1, initial=len(linked)),
                            labels)
        if (spread == labels).all():
            return labels
        labels = spread
