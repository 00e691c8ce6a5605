"""Tasks: each knows its problems, its exams, its prompts, and how answers are read, graded and
grouped (the contract is `lbt.tasks.base.Task`; `lbt.tasks.registry` registers each task by name,
`lbt.tasks.make.make_task` builds one)."""
