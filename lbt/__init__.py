"""lbt: Learning by Teaching (Ning et al., NeurIPS 2024) as a reproducible DVC + papermill pipeline."""
