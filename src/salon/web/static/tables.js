// Tables marked data-sortable: click (or Enter/Space on) a column header to sort, and long
// tables are paged. Works on server-rendered tables and on fragments inserted later.

const PAGE_SIZE = 25;
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export function enhanceTables(root = document) {
  for (const table of root.querySelectorAll("table[data-sortable]")) {
    if (table.dataset.enhanced) continue;
    table.dataset.enhanced = "1";
    const body = table.tBodies[0];
    const head = table.tHead?.rows[0];
    if (!body || !head) continue;
    const state = { column: -1, ascending: true, page: 0, rows: [...body.rows] };
    [...head.cells].forEach((cell, index) => addSortButton(table, state, cell, index));
    if (state.rows.length > PAGE_SIZE) addPager(table, state);
    render(table, state);
  }
}

function addSortButton(table, state, cell, index) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "sort-button";
  button.append(...cell.childNodes);
  cell.append(button);
  button.addEventListener("click", () => {
    state.ascending = state.column === index ? !state.ascending : true;
    state.column = index;
    state.rows.sort((a, b) => compare(a, b, index) * (state.ascending ? 1 : -1));
    for (const th of cell.parentElement.cells) th.removeAttribute("aria-sort");
    cell.setAttribute("aria-sort", state.ascending ? "ascending" : "descending");
    state.page = 0;
    render(table, state);
  });
}

function compare(a, b, index) {
  const x = a.cells[index]?.textContent.trim() ?? "";
  const y = b.cells[index]?.textContent.trim() ?? "";
  const nx = Number(x.replace(/,/g, ""));
  const ny = Number(y.replace(/,/g, ""));
  if (x !== "" && y !== "" && !Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny;
  return collator.compare(x, y);
}

function addPager(table, state) {
  const pager = document.createElement("div");
  pager.className = "table-pager";
  const prev = pagerButton("Previous", () => { state.page -= 1; render(table, state); });
  const next = pagerButton("Next", () => { state.page += 1; render(table, state); });
  const label = document.createElement("span");
  label.setAttribute("aria-live", "polite");
  pager.append(prev, label, next);
  (table.closest(".table-wrap") ?? table).after(pager);
  state.pager = { prev, next, label };
}

function pagerButton(text, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button";
  button.textContent = text;
  button.addEventListener("click", onClick);
  return button;
}

function render(table, state) {
  const body = table.tBodies[0];
  const pages = Math.max(1, Math.ceil(state.rows.length / PAGE_SIZE));
  state.page = Math.min(Math.max(state.page, 0), pages - 1);
  const visible = state.pager
    ? state.rows.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE)
    : state.rows;
  body.replaceChildren(...visible);
  if (state.pager) {
    const first = state.page * PAGE_SIZE + 1;
    const last = first + visible.length - 1;
    state.pager.label.textContent = `Rows ${first}–${last} of ${state.rows.length}`;
    state.pager.prev.disabled = state.page === 0;
    state.pager.next.disabled = state.page === pages - 1;
  }
}
