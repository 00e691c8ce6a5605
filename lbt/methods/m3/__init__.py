"""M3: the teacher refines its in-context exemplars from several students' failures (paper §5)."""

SECTIONS = {"m3": "lbt.methods.m3.config:M3Params"}
