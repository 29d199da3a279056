// Building the page's elements: text goes in as text, never as HTML.

/** An element with attributes (`class`, `data-*`, properties for the rest) and children (nodes or text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class" || k.startsWith("data-")) el.setAttribute(k, String(v));
    else el[k] = v;
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c);
  return el;
}

export const byId = (id) => document.getElementById(id);

export function bytes(n) {
  if (n === undefined || n === null) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "-");

/** A table with a header row and one row per item. */
export function table(headings, rows) {
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headings.map((t) => h("th", {}, t)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

export const updown = (up, labels = ["up", "down"]) =>
  h("span", { class: up ? "up" : "down" }, up ? labels[0] : labels[1]);
