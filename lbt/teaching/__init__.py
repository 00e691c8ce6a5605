"""The teaching core shared by every method: teacher rationales, student exams, LbT scores,
on any split of teaching problems (eval TPs for M1, training TPs for M2) and any students."""
