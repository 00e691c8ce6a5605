"""Tasks: each knows its problems, its exams, its prompts, and how answers are read, graded and
grouped (the contract is `lbt.tasks.base.Task`; `lbt.tasks.registry.make_task` builds one by name)."""
