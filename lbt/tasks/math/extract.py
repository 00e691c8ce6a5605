"""Reading the final answer out of a completion (or a solution).

Looked for in this order, the first hit wins: the first `[[Final Answer]]:` block (the format
the prompts ask for), the last `\\boxed{...}`/`\\fbox{...}`, the text after the last "answer is",
and the last number in the text. Pure functions over strings.
"""

from __future__ import annotations

import re

FINAL_ANSWER_MARKER = "[[Final Answer]]"

BOX_COMMANDS = ("\\boxed", "\\fbox")
_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+")
_PLACEHOLDERS = {"ANSWER", "$ANSWER$"}


def extract_answer(text: str | None, *, last_number_fallback: bool = True) -> str | None:
    """The final answer written in `text`, or None when none can be read.

    Looked for in this order, the first hit wins:
    1. the first `[[Final Answer]]:` block (the format the prompts ask for): the first non-empty
       line after the marker (a `$$`/`\\[` display continues to its closing delimiter), with a
       `\\boxed{}` inside it unwrapped and surrounding markdown bold (`**`), `$`, `\\(`/`\\)`,
       `\\[`/`\\]`, quotes and a trailing period removed;
    2. the content of the last `\\boxed{...}` or `\\fbox{...}` (balanced braces; `\\boxed 5` too);
    3. the text after the last "answer is" (to the end of its line or sentence);
    4. the last number in the text (`1,000` read as `1000`), unless `last_number_fallback` is off.
    """
    if not text or not text.strip():
        return None
    finders = [_from_final_answer_block, last_boxed_content, _from_answer_is]
    if last_number_fallback:
        finders.append(_last_number)
    for find in finders:
        answer = find(text)
        if answer:
            return answer
    return None


def last_boxed_content(text: str) -> str | None:
    """Content of the last well-formed `\\boxed{...}` / `\\fbox{...}` in `text` (None if none)."""
    starts = sorted(
        (m.start(), m.end()) for cmd in BOX_COMMANDS for m in re.finditer(re.escape(cmd) + r"(?![A-Za-z])", text)
    )
    for _, after_command in reversed(starts):
        content = _box_argument(text, after_command)
        if content is not None and content.strip():
            return content.strip()
    return None


def _box_argument(text: str, pos: int) -> str | None:
    """The argument of a box command ending at `pos`: a brace group, or `\\boxed 5`'s token."""
    rest = text[pos:]
    stripped = rest.lstrip()
    if stripped.startswith("{"):
        return brace_group(text, pos + len(rest) - len(stripped))
    if rest[:1] == " ":
        token = re.match(r"\s*([^\s$]+)", rest)
        return token.group(1) if token else None
    return None


def brace_group(text: str, open_pos: int) -> str | None:
    """Content of the brace group opening at `open_pos` (escaped `\\{`/`\\}` do not count)."""
    depth, i = 0, open_pos
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[open_pos + 1 : i]
        i += 1
    return None


def _from_final_answer_block(text: str) -> str | None:
    start = text.find(FINAL_ANSWER_MARKER)
    if start < 0:
        return None
    body = text[start + len(FINAL_ANSWER_MARKER) :].lstrip(" \t:")
    lines = [line for line in body.split("\n")]
    first = next((i for i, line in enumerate(lines) if line.strip() and line.strip() not in ("'''", "```")), None)
    if first is None:
        return None
    answer = _clean_block_answer(_display_span(lines, first))
    return None if answer in _PLACEHOLDERS else answer or None


def _display_span(lines: list[str], first: int) -> str:
    """The first answer line, extended over following lines while a math display is open."""
    span = lines[first].strip()
    for line in lines[first + 1 :]:
        if not _display_is_open(span):
            break
        span += " " + line.strip()
    return span


def _display_is_open(span: str) -> bool:
    unescaped = re.sub(r"\\\$", "", span)
    double_dollars = unescaped.count("$$")
    single_dollars = unescaped.replace("$$", "").count("$")
    return double_dollars % 2 == 1 or single_dollars % 2 == 1 or span.count("\\[") > span.count("\\]")


def _clean_block_answer(answer: str) -> str:
    answer = _strip_bold(answer.strip().strip("'`").strip())
    if any(cmd in answer for cmd in BOX_COMMANDS):
        boxed = last_boxed_content(answer)
        if boxed:
            return boxed
    return strip_math_delimiters(answer)


def _strip_bold(answer: str) -> str:
    """`**5**`, `**$5$**.`, `__5__` → the text inside (markdown bold, common from chat models)."""
    core = answer.rstrip(".,;").strip()
    for mark in ("**", "__"):
        if len(core) > 2 * len(mark) and core.startswith(mark) and core.endswith(mark):
            return core[len(mark) : -len(mark)].strip()
    return answer


def strip_math_delimiters(answer: str) -> str:
    """`$x$`, `$$x$$`, `\\(x\\)`, `\\[x\\]` → `x`; a trailing period or comma is dropped."""
    answer = answer.strip().rstrip(".,;").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
            answer = answer[len(left) : len(answer) - len(right)].strip()
            break
    return answer.rstrip(".").strip()


def _from_answer_is(text: str) -> str | None:
    matches = list(_ANSWER_IS.finditer(text))
    if not matches:
        return None
    phrase = matches[-1].group(1).strip()
    phrase = re.split(r"(?<!\d)\.(?:\s|$)|\.\s", phrase, maxsplit=1)[0]
    answer = strip_math_delimiters(phrase.strip("* "))
    boxed = last_boxed_content(answer)
    return boxed or answer or None


def _last_number(text: str) -> str | None:
    numbers = _NUMBER.findall(text)
    return numbers[-1].replace(",", "") if numbers else None
