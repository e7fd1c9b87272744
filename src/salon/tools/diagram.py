"""``/diagram``: the model writes a Mermaid diagram; Salon checks it and stores it as a part.

The model is asked for Mermaid only. Its reply's code block is checked
(``domain.diagrams.check_mermaid``); a refused diagram goes back to the model once, with the
reason, and a second refusal ends the answer with that reason (no diagram part is stored).
Works with any provider: the OpenAI-compatible client and the embedded model alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from salon.domain.diagrams import DiagramInvalid, check_mermaid, extract_mermaid
from salon.llm.base import ChatMessage, GenerationParams, Provider
from salon.tools import ToolEvent, ToolResult, ToolStatus, complete, with_instructions

DIAGRAM_INVALID = "DIAGRAM_INVALID"
INSTRUCTIONS = (
    "Answer with one Mermaid diagram for the user's request and nothing else: a single "
    "```mermaid code block that starts with the diagram type (for example flowchart TD or "
    "sequenceDiagram). Put labels in double quotes, in plain text: no HTML tags, no click or "
    "callback statements, no %%{init}%% directives, no front matter."
)
ANSWER_TEXT = "Here is the diagram."


async def write_diagram(
    provider: Provider, messages: list[ChatMessage], params: GenerationParams
) -> AsyncIterator[ToolEvent]:
    """Ask for a diagram of the last message of ``messages`` (system prompt first, then the
    conversation); yields statuses, then the result: a text part and a ``diagram`` part
    ``{"type": "diagram", "format": "mermaid", "source": ...}``, or the refusal."""
    prompt = with_instructions(messages, INSTRUCTIONS)
    usage: dict[str, int] = {}
    yield ToolStatus("Writing a Mermaid diagram")
    reply = await complete(provider, prompt, params, usage)
    yield ToolStatus("Checking the diagram")
    try:
        source = _checked(reply)
    except DiagramInvalid as first:
        yield ToolStatus(f"The diagram is not valid ({first}): asking the model to correct it")
        prompt += [ChatMessage("assistant", reply), ChatMessage("user", _retry_prompt(first))]
        reply = await complete(provider, prompt, params, usage)
        yield ToolStatus("Checking the corrected diagram")
        try:
            source = _checked(reply)
        except DiagramInvalid as second:
            yield ToolResult(text=f"The model could not write a diagram Salon can show: {second}.",
                             usage=usage, error_code=DIAGRAM_INVALID)
            return
    part = {"type": "diagram", "format": "mermaid", "source": source}
    yield ToolResult(text=ANSWER_TEXT, parts=[part], usage=usage)


def _retry_prompt(problem: DiagramInvalid) -> str:
    return (f"That diagram cannot be shown: {problem}. Answer with the corrected Mermaid "
            "diagram only, in one ```mermaid code block.")


def _checked(reply: str) -> str:
    source = extract_mermaid(reply)
    check_mermaid(source)
    return source
