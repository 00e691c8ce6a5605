"""M3: the teacher refines its in-context exemplars from several students' failures (paper §5)."""
