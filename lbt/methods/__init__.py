"""The paper's methods, one package each: `m1` (answer selection by LbT score)."""
