"""M1: pick each teaching problem's answer by LbT score (selection rules in `select`, analyses
in `analysis`, the stage in `stages`, params and method names in `config`, its DVC stages in `dag`)."""

SECTIONS = {"selection": "lbt.methods.m1.config:SelectionParams"}
