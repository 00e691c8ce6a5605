"""The toy world: a synthetic task with the structure of the paper's, and the tiny models trained on it."""
