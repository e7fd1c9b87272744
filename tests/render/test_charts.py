"""Chart parts: a valid Plotly figure becomes a data island plus a no-JavaScript table; anything
else becomes a "could not be drawn" note without a data island."""

from __future__ import annotations

import json
from typing import Any

import pytest

from salon.render.parts import CHART_TABLE_ROWS, chart_spec, render_chart
from tests.render.test_parts import Elements, assert_inert

BAR = {"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 2], "name": "Sales"}],
       "layout": {"title": {"text": "Q1"}}}


def island(html: str) -> Any:
    scripts = Elements(html).scripts
    assert len(scripts) == 1
    return json.loads(scripts[0])


def test_a_valid_figure_gets_its_island_and_a_table() -> None:
    html = str(render_chart({"type": "chart", "title": "Sales", "spec": BAR}))
    parsed = Elements(html)
    assert parsed.named("figure") == [{"class": "part part-chart", "data-chart": None}]
    assert island(html) == BAR
    assert "<figcaption>Sales</figcaption>" in html
    assert "<caption>Sales</caption>" in html
    assert "<tr><td>a</td><td>1</td></tr><tr><td>b</td><td>2</td></tr>" in html
    assert "could not be drawn" not in html


def test_layout_is_optional() -> None:
    spec = {"data": [{"y": [3]}]}
    assert chart_spec(spec) == {"data": [{"y": [3]}], "layout": {}}


def test_pie_tables_use_labels_and_values() -> None:
    spec = {"data": [{"type": "pie", "labels": ["x", "y"], "values": [1, 3]}]}
    html = str(render_chart({"type": "chart", "spec": spec}))
    assert '<th scope="col">labels</th><th scope="col">values</th>' in html
    assert "<caption>Series 1</caption>" in html


def test_long_series_are_cut_in_the_table_only() -> None:
    ys = list(range(CHART_TABLE_ROWS + 50))
    html = str(render_chart({"type": "chart", "spec": {"data": [{"y": ys}]}}))
    assert html.count("<tr>") == CHART_TABLE_ROWS + 1
    assert f"first {CHART_TABLE_ROWS} of {len(ys)} points" in html
    assert island(html)["data"][0]["y"] == ys


def test_traces_without_lists_get_a_note() -> None:
    html = str(render_chart({"type": "chart", "spec": {"data": [{"type": "indicator"}]}}))
    assert "needs JavaScript" in html and "data-chart" in html


@pytest.mark.parametrize(("spec", "reason"), [
    (None, "has no figure"),
    ([{"y": [1]}], "has no figure"),
    ("{\"data\": []}", "has no figure"),
    ({}, "data must be a list"),
    ({"data": []}, "data must be a list"),
    ({"data": {"y": [1]}}, "data must be a list"),
    ({"data": [1, 2]}, "data must be a list"),
    ({"data": [{"y": [1]}], "layout": []}, "layout must be an object"),
    ({"data": [{"y": [1]}], "config": {"mathjax": "https://cdn"}}, "unexpected keys config"),
    ({"data": [{"y": [1]}], "frames": []}, "unexpected keys frames"),
    ({"data": [{"type": "scattergeo", "lat": [1]}]}, "map charts (scattergeo)"),
    ({"data": [{"type": "choroplethmapbox"}]}, "map charts (choroplethmapbox)"),
])
def test_invalid_specs_become_a_note(spec: Any, reason: str) -> None:
    html = str(render_chart({"type": "chart", "title": "Broken <b>", "spec": spec}))
    assert "This chart could not be drawn: " in html
    assert reason in html
    assert "data-chart" not in html and "<script" not in html
    assert "<figcaption>Broken &lt;b&gt;</figcaption>" in html


PIXEL = "data:image/png;base64,iVBORw0KGgo="
TRACKER = "https://tracker.example/beacon.png"


def test_layout_images_are_dropped() -> None:
    spec = {"data": [{"y": [1]}], "layout": {"images": [
        {"source": TRACKER}, {"source": PIXEL}, "junk", {"source": "//tracker.example/x.png"}],
        "title": {"text": "kept"}}}
    assert island(str(render_chart({"type": "chart", "spec": spec})))["layout"] == {
        "title": {"text": "kept"}}


def test_images_anywhere_in_the_figure_are_dropped() -> None:
    """A template's images, an image trace's source, a URL in any property: none is kept."""
    template = {"layout": {"images": [{"source": TRACKER, "xref": "paper"}],
                           "paper_bgcolor": "#fff"},
                "data": {"image": [{"source": PIXEL}], "bar": [{"marker": {"color": "red"}}]}}
    spec = {"data": [{"type": "image", "source": TRACKER, "z": [[[1, 2, 3]]]},
                     {"type": "bar", "y": [1], "customdata": ["https://kept.example/in-a-list"],
                      "hovertemplate": "//tracker.example/x.png"}],
            "layout": {"template": template, "xaxis": {"title": {"text": PIXEL}}}}
    html = str(render_chart({"type": "chart", "spec": spec}))
    assert "tracker.example" not in html and "data:image" not in html
    drawn = island(html)
    assert drawn["layout"]["template"] == {"layout": {"paper_bgcolor": "#fff"},
                                           "data": {"image": [{}],
                                                    "bar": [{"marker": {"color": "red"}}]}}
    assert drawn["data"][1]["customdata"] == ["https://kept.example/in-a-list"]


def test_hostile_values_stay_inert() -> None:
    spec = {"data": [{"x": ["<img src=x onerror=alert(1)>"], "y": ["</script><script>1"],
                      "name": "<script>alert(2)</script>"}]}
    html = str(render_chart({"type": "chart", "title": "<script>", "spec": spec}))
    assert_inert(html)
    assert "<img" not in html
    assert island(html) == {**spec, "layout": {}}
