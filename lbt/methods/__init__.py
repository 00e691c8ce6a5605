"""The paper's methods, one package each (`m1` answer selection by LbT score, `m2` DPO on LbT-scored
pairs, `m3` exemplars refined from students' failures). A package declares its params section in
`SECTIONS` (its __init__.py) and its stages in `dag.stages(params)`; `lbt.config` and
`lbt.pipeline` find every package here, so a new method touches no other room."""
