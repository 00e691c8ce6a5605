"""The toy-code world: the toy world's verb chains as small Python functions that the tiny
teacher and student write, graded in the sandbox (`config`, `world`, `curriculum`, `stages`)."""
