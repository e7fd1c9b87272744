// Interactive charts: every <figure data-chart> (render/parts.py render_chart) holds a Plotly
// figure in <script type="application/json" class="chart-spec">. This module draws each one
// with the plotly.js that Salon serves itself (/static/vendor/plotly.min.js), loaded only when
// a page has a chart, and hides the figure's no-JavaScript table. Charts that arrive later
// (streamed answers, message lists swapped in) are drawn too.
//
// Include it on any page with charts:
//   <script type="module" src="/static/charts.js" nonce="{{ nonce }}"></script>
// It links /static/charts.css itself.
//
// Under the page's CSP (style-src 'self', no inline <style>): plotly adds its own rules through
// CSSOM insertRule (allowed), and the bundled map library's inline <style> is never inserted,
// because an element with that <style>'s id exists before plotly loads. Nothing is fetched from
// other sites: no MathJax, no map data (render_chart refuses map traces), no "edit in Chart
// Studio" links.

import { linkStylesheet, loadScript, whenAdded } from "./vendor-loading.js";

const PLOTLY_SRC = "/static/vendor/plotly.min.js";
const STYLESHEET = "/static/charts.css";
// plotly.js 4 injects maplibre's CSS as <style id=…> unless an element with this id exists.
const MAPLIBRE_STYLE_ID = "9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53";
const CONFIG = {
  displaylogo: false,
  responsive: true,
  typesetMath: false,
  showLink: false,
  showSendToCloud: false,
  showEditInChartStudio: false,
  topojsonURL: "/static/vendor/topojson/",
  modeBarButtonsToRemove: ["sendDataToCloud"],
};

/** window.Plotly, loading the bundle once with a <script> element (it is not an ES module). */
export function loadPlotly() {
  if (!window.Plotly && !document.getElementById(MAPLIBRE_STYLE_ID)) {
    const placeholder = document.createElement("meta");
    placeholder.id = MAPLIBRE_STYLE_ID;
    document.head.append(placeholder);
  }
  return loadScript(PLOTLY_SRC, "Plotly", "plotly.js");
}

/** The figure's spec, or null when its island is missing or not JSON. */
function readSpec(figure) {
  const island = figure.querySelector("script.chart-spec");
  try {
    const spec = JSON.parse(island?.textContent ?? "");
    return spec && Array.isArray(spec.data) ? spec : null;
  } catch {
    return null;
  }
}

/** Colours that follow the page's light or dark theme, unless the spec sets its own. */
function themed(layout, figure) {
  const color = getComputedStyle(figure).color;
  return {
    ...layout,
    paper_bgcolor: layout.paper_bgcolor ?? "rgba(0,0,0,0)",
    plot_bgcolor: layout.plot_bgcolor ?? "rgba(0,0,0,0)",
    font: { ...(layout.font ?? {}), color: layout.font?.color ?? color },
    autosize: true,
  };
}

function showProblem(figure, message) {
  let note = figure.querySelector(".chart-problem");
  if (!note) {
    note = Object.assign(document.createElement("p"), { className: "chart-note chart-problem" });
    figure.querySelector("figcaption")?.after(note);
  }
  note.textContent = message;
}

async function drawChart(figure) {
  figure.dataset.chartState = "loading";
  const spec = readSpec(figure);
  if (!spec) {
    figure.dataset.chartState = "failed";
    showProblem(figure, "This chart could not be drawn.");
    return;
  }
  try {
    const Plotly = await loadPlotly();
    const plot = Object.assign(document.createElement("div"), { className: "chart-plot" });
    figure.querySelector(".chart-fallback")?.before(plot);
    await Plotly.newPlot(plot, spec.data, themed(spec.layout ?? {}, figure), CONFIG);
    figure.querySelector(".chart-fallback")?.setAttribute("hidden", "");
    figure.dataset.chartState = "drawn";
  } catch (error) {
    figure.dataset.chartState = "failed";
    figure.querySelector(".chart-plot")?.remove();
    showProblem(figure, `This chart could not be drawn: ${error.message}`);
  }
}

/** Draw every chart under ``root`` that is not drawn yet; resolves when all are done. */
export async function drawCharts(root = document) {
  const figures = [...root.querySelectorAll("figure[data-chart]:not([data-chart-state])")];
  if (!figures.length) return;
  linkStylesheet(STYLESHEET);
  await Promise.all(figures.map(drawChart));
}

drawCharts();
whenAdded(drawCharts);
