"""The Mermaid check: what passes, what is refused (and the reason given to the model)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salon.domain.diagrams import MAX_DIAGRAM_CHARS, DiagramInvalid, check_mermaid, extract_mermaid

VALID = [
    'flowchart TD\n  A["Start"] --> B{"Ready?"}\n  B -->|yes (now)| C((Done))',
    "graph LR; A-->B; B-->C[(Database)]",
    "sequenceDiagram\n  Alice->>Bob: Hello (are you there?\n  Bob-->>Alice: yes :)",
    "classDiagram\n  class Animal {\n    +int age\n    +eat()\n  }\n  Animal <|-- Duck\n"
    "  class Shape{\n    <<interface>>\n  }",
    "stateDiagram-v2\n  [*] --> Still\n  state Moving {\n    Slow --> Fast\n  }",
    "%% a comment (with [ brackets\nerDiagram\n  CUSTOMER ||--o{ ORDER : places",
    'pie title Pets\n  "Dogs" : 386\n  "Cats" : 85',
    "gantt\n  title Plan\n  section A\n  Task one :a1, 2024-01-01, 30d",
    "mindmap\n  root((Salon))\n    Sharing\n    Tools",
]


@pytest.mark.parametrize("source", VALID)
def test_valid_diagrams_pass(source: str) -> None:
    assert check_mermaid(source)


@pytest.mark.parametrize(("source", "reason"), [
    ("", "empty"),
    ("A --> B", "known diagram type"),
    ("flowchart TD\n  A[Start --> B", "never closed"),
    ("flowchart TD\n  A[Start)) --> B", "unmatched ')'"),
    ('flowchart TD\n  A["Start] --> B', 'unclosed \'"\''),
    ("flowchart TD\n  A --> B\n  click A callback", "click"),
    ("flowchart TD\n  A --> B\n  click A href \"https://x\"", "click"),
    ("classDiagram\n  class A\n  callback A \"f\"", "click and callback"),
    ('flowchart TD\n  A["<b>bold</b>"] --> B', "HTML"),
    ('flowchart TD\n  A["one<br/>two"] --> B', "HTML"),
    ("flowchart TD\n  A --> B\n  <img src=x onerror=alert(1)>", "HTML"),
    ("%%{init: {'securityLevel': 'loose'}}%%\nflowchart TD\n  A --> B", "directives"),
    ("---\nconfig:\n  htmlLabels: true\n---\nflowchart TD\n  A --> B", "front matter"),
    ("flowchart TD\n  A --> B\n  style A fill:url(https://x/y.png)", "url("),
    ('flowchart TD\n  A["javascript:alert(1)"] --> B', "javascript:"),
    ("graph TD\n" + "  A --> B\n" * (MAX_DIAGRAM_CHARS // 10), "longer than"),
])
def test_refused_diagrams_say_why(source: str, reason: str) -> None:
    with pytest.raises(DiagramInvalid, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_mermaid(source)


@pytest.mark.parametrize(("reply", "source"), [
    ("Sure!\n```mermaid\ngraph TD\n  A-->B\n```\nEnjoy.", "graph TD\n  A-->B"),
    ("```\nsequenceDiagram\n  A->>B: hi\n```", "sequenceDiagram\n  A->>B: hi"),
    ("```python\nx\n```\n```Mermaid\npie\n```", "pie"),
    ("flowchart LR\n  A --> B\n", "flowchart LR\n  A --> B"),
])
def test_the_diagram_is_taken_out_of_the_reply(reply: str, source: str) -> None:
    assert extract_mermaid(reply) == source


@pytest.mark.parametrize("reply", ["I cannot draw that.", "```a\nx\n```\n```b\ny\n```"])
def test_a_reply_without_a_diagram_is_refused(reply: str) -> None:
    with pytest.raises(DiagramInvalid, match="no Mermaid diagram"):
        extract_mermaid(reply)


@given(st.text(max_size=300))
def test_any_text_is_passed_or_refused_with_a_reason(text: str) -> None:
    try:
        check_mermaid("flowchart TD\n" + text)
    except DiagramInvalid as reason:
        assert str(reason)
