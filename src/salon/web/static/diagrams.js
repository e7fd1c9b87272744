// Mermaid diagrams: every <figure class="part-diagram"> (render/parts.py _diagram) holds its
// source, as text, in <pre class="mermaid-source"> (what readers without JavaScript see). This
// module draws each one as SVG with the mermaid.js that Salon serves itself
// (/static/vendor/mermaid.min.js, see vendor/README.md), loaded only when a page has a
// diagram, then hides the source. Diagrams that arrive later (streamed answers, message lists
// swapped in) are drawn too.
//
// Include it on any page that may show diagrams:
//   <script type="module" src="/static/diagrams.js" nonce="{{ nonce }}"></script>
// It links /static/diagrams.css itself.
//
// Under the page's CSP (style-src 'self' and empty <style> elements only): Mermaid writes its
// theme as a <style> element inside the SVG and sets style="" attributes, both of which the
// CSP refuses. While Mermaid draws, those writes are redirected to what the CSP allows: the
// <style> text goes into a constructed stylesheet (document.adoptedStyleSheets; its rules are
// scoped to the diagram's id) and style attributes become CSSOM writes (element.style). The
// finished SVG is parsed as inert XML and moved into the page the same way. Mermaid runs with
// securityLevel "strict" (its own DOMPurify pass, no click callbacks) and no HTML labels; the
// server has already refused sources with HTML, callbacks or configuration directives.

import { linkStylesheet, loadScript, whenAdded } from "./vendor-loading.js";

const MERMAID_VERSION = "11.12.2";
const MERMAID_SRC = `/static/vendor/mermaid.min.js?v=${MERMAID_VERSION}`;
const STYLESHEET = "/static/diagrams.css";
const SVG_NS = "http://www.w3.org/2000/svg";
const KEPT_STYLE = "data-salon-style";

let initialised = false;
let queue = Promise.resolve();
let counter = 0;

function isDark() {
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
}

/** window.mermaid, loaded once and initialised safely. */
export async function loadMermaid() {
  const mermaid = await loadScript(MERMAID_SRC, "mermaid", "mermaid.js");
  if (!initialised) {
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      htmlLabels: false,
      flowchart: { htmlLabels: false },
      suppressErrorRendering: true,
      theme: isDark() ? "dark" : "default",
    });
    initialised = true;
  }
  return mermaid;
}

/** Add CSS text to the page as a constructed stylesheet (allowed by the CSP, unlike <style>). */
function adoptCss(css) {
  if (!css) return;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}

/**
 * ``markup`` with each tag's style attribute renamed to data-salon-style: parsing markup (even
 * with DOMParser, into an inert document) applies the page's CSP to style attributes, so they
 * are parsed as data and applied through CSSOM afterwards (svgElement).
 */
function inertStyles(markup) {
  return String(markup).replace(/<[^<>]*>/g,
    (tag) => tag.replace(/(\s)style=("[^"]*"|'[^']*')/gi, `$1${KEPT_STYLE}=$2`));
}

/**
 * Run ``work`` with inline style writes redirected (see the header); restores the DOM's own
 * methods afterwards. Only one guarded run at a time (the queue in drawDiagram). Mermaid's
 * DOMPurify pass parses the SVG markup with DOMParser: its style attributes are kept as
 * data-salon-style (inertStyles).
 */
async function withInlineStylesRedirected(work) {
  const setAttribute = Element.prototype.setAttribute;
  const parseFromString = DOMParser.prototype.parseFromString;
  DOMParser.prototype.parseFromString = function (markup, type) {
    return parseFromString.call(this, inertStyles(markup), type);
  };
  const styleTypes = [HTMLStyleElement.prototype, SVGStyleElement.prototype];
  Element.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === "style" && this.style) {
      this.style.cssText = String(value);
      return;
    }
    return setAttribute.call(this, name, value);
  };
  const collect = { get: () => "", set: (css) => adoptCss(String(css)), configurable: true };
  for (const proto of styleTypes) {
    Object.defineProperty(proto, "innerHTML", collect);
    Object.defineProperty(proto, "textContent", collect);
  }
  try {
    return await work();
  } finally {
    Element.prototype.setAttribute = setAttribute;
    DOMParser.prototype.parseFromString = parseFromString;
    for (const proto of styleTypes) {
      delete proto.innerHTML;
      delete proto.textContent;
    }
  }
}

/**
 * The SVG markup Mermaid returned, as an element of this page: parsed as inert XML, with no
 * <style>, <script> or <foreignObject>, no event handler attributes, no links out, and its
 * style attributes (parsed as data-salon-style) applied through CSSOM after it is adopted.
 */
function svgElement(markup) {
  const parsed = new DOMParser().parseFromString(inertStyles(markup), "image/svg+xml");
  const svg = parsed.documentElement;
  if (svg.namespaceURI !== SVG_NS || svg.localName !== "svg") throw new Error("no SVG drawn");
  for (const el of svg.querySelectorAll("style, script, foreignObject")) el.remove();
  const styled = [];
  for (const el of [svg, ...svg.querySelectorAll("*")]) {
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase();
      const link = name === "href" || name.endsWith(":href");
      if (name.startsWith("on") || (link && !attr.value.startsWith("#"))) {
        el.removeAttribute(attr.name);
      }
    }
    if (el.hasAttribute(KEPT_STYLE)) {
      styled.push([el, el.getAttribute(KEPT_STYLE)]);
      el.removeAttribute(KEPT_STYLE);
    }
  }
  document.adoptNode(svg);
  for (const [el, css] of styled) el.style.cssText = css;
  return svg;
}

function showProblem(figure, message) {
  let note = figure.querySelector(".diagram-problem");
  if (!note) {
    note = Object.assign(document.createElement("p"), { className: "diagram-note diagram-problem" });
    figure.append(note);
  }
  note.textContent = message;
}

async function render(figure) {
  const source = figure.querySelector("pre.mermaid-source")?.textContent ?? "";
  try {
    const mermaid = await loadMermaid();
    counter += 1;
    const id = `salon-diagram-${counter}`;
    const { svg } = await withInlineStylesRedirected(() => mermaid.render(id, source));
    const holder = Object.assign(document.createElement("div"), { className: "diagram-svg" });
    holder.append(svgElement(svg));
    figure.querySelector("pre.mermaid-source")?.before(holder);
    figure.querySelector("pre.mermaid-source")?.setAttribute("hidden", "");
    figure.dataset.diagramState = "drawn";
  } catch (error) {
    figure.dataset.diagramState = "failed";
    showProblem(figure, `This diagram could not be drawn: ${error?.message ?? error}`);
  }
}

/** Draw one diagram; diagrams are drawn one after the other (the redirection is global). */
function drawDiagram(figure) {
  figure.dataset.diagramState = "loading";
  queue = queue.then(() => render(figure));
  return queue;
}

/** Draw every diagram under ``root`` that is not drawn yet; resolves when all are done. */
export async function drawDiagrams(root = document) {
  const figures = [...root.querySelectorAll("figure.part-diagram:not([data-diagram-state])")];
  if (!figures.length) return;
  linkStylesheet(STYLESHEET);
  await Promise.all(figures.map(drawDiagram));
}

drawDiagrams();
whenAdded(drawDiagrams);
