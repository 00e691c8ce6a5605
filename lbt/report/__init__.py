"""The report's tables and figures, read from the pipeline's outputs: shared pieces in `common`,
one module per method (`m1`)."""
