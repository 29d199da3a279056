import { bytes, h, table, updown, when } from "./dom.mjs";

// The cluster view (admins): GET /console/api/cluster, drawn as tables.

const peerState = (p) => updown(p.available && p.active, ["up", p.active ? "down" : "off"]);

function disk(d) {
  if (!d) return "-";
  return h(
    "span",
    {},
    h("progress", { class: "disk", max: d.total, value: d.used }),
    ` ${bytes(d.free)} free of ${bytes(d.total)}`,
  );
}

function scrubCell(s) {
  if (!s) return "no pass yet";
  const state = s.state === "done" ? `done ${when(s.finishedAt)}` : `running, ${s.seen} seen`;
  const bad = s.corrupt + s.missing;
  return h(
    "span",
    { class: bad ? "warn" : "" },
    `${state}; ${s.checked} checked, ${s.corrupt} corrupt, ${s.missing} missing`,
  );
}

function stores(s) {
  const scrub = new Map((s.scrub ?? []).map((x) => [x.store, x.status]));
  return table(
    ["Store", "Prism", "Zone", "State", "Writable", "Disk", "Copies", "Scrub"],
    s.stores.map((st) =>
      h(
        "tr",
        { "data-store": st.name, "data-live": String(st.live) },
        h("td", {}, st.name),
        h("td", {}, st.prism),
        h("td", {}, st.zone),
        h("td", { class: "state" }, updown(st.live, ["up", st.active ? "down" : "off"])),
        h("td", {}, st.writable ? "yes" : "no"),
        h("td", {}, disk(st.disk)),
        h("td", {}, st.copies ?? "-"),
        h("td", {}, scrubCell(scrub.get(st.name))),
      ),
    ),
  );
}

function prisms(s) {
  return table(
    ["Prism", "Zone", "Host", "URL", "State"],
    s.prisms.map((p) =>
      h(
        "tr",
        { "data-prism": p.name },
        h("td", {}, p.name),
        h("td", {}, p.zone),
        h("td", {}, p.host),
        h("td", {}, p.url),
        h("td", {}, peerState(p)),
      ),
    ),
  );
}

function votes(s) {
  if (s.votes.length === 0) return h("p", {}, "No down-votes.");
  const needed = new Map(s.downVotes.map((d) => [d.peer, d]));
  return table(
    ["Against", "By", "Cast", "Reason", "Votes / needed"],
    s.votes.map((v) => {
      const d = needed.get(v.castee);
      return h(
        "tr",
        {},
        h("td", {}, v.castee),
        h("td", {}, v.caster),
        h("td", {}, when(v.castAt)),
        h("td", {}, v.reason),
        h("td", {}, d ? `${d.votes} / ${d.needed}` : "-"),
      );
    }),
  );
}

function replication(s) {
  const i = s.inventory;
  const last = s.heal?.lastPass;
  const items = [];
  if (i)
    items.push(
      `${i.hashes} files, ${i.copies} copies (counted ${when(i.at)}): `,
      h("span", { class: i.underReplicated ? "warn" : "" }, `${i.underReplicated} under-replicated`),
      ", ",
      h("span", { class: i.unavailable ? "down" : "" }, `${i.unavailable} with no live copy`),
      `, ${i.overReplicated} over-replicated`,
    );
  if (last) items.push(h("br"), `Last heal pass left ${last.under} short (${last.noLive} with no live copy).`);
  return h("p", { id: "replication" }, items.length ? items : "No inventory pass yet.");
}

function heal(s) {
  const x = s.heal;
  if (!x) return h("p", {}, "No heal pass yet.");
  const state = x.state === "done" ? `last pass finished ${when(x.finishedAt)}` : `running since ${when(x.startedAt)}`;
  return h(
    "p",
    {},
    `${state} (runner ${x.runner}): ${x.hashes} files looked at, ${x.short} short, ${x.healed} healed, ` +
      `${x.failed} failed, ${x.unreachable} with no live copy; ${x.copied} copies (${bytes(x.bytes)}).`,
  );
}

function hot(s) {
  if (!s.hot) return h("p", {}, "Hot content unknown.");
  const extra = new Map(s.hot.extra.map((e) => [e.hash, e.stores]));
  if (s.hot.top.length === 0) return h("p", {}, `Nothing delivered in the last ${s.hot.window / 1000} s.`);
  return table(
    ["Hash", `Deliveries (${s.hot.window / 1000} s)`, "Extra copies"],
    s.hot.top.map((t) =>
      h(
        "tr",
        {},
        h("td", { class: "hash" }, t.hash),
        h("td", { class: t.deliveries >= s.hot.threshold ? "warn" : "" }, t.deliveries),
        h("td", {}, (extra.get(t.hash) ?? []).join(", ") || "-"),
      ),
    ),
  );
}

function errors(s) {
  const list = s.errors ?? [];
  if (list.length === 0) return h("p", {}, `No recent failures on ${s.seenBy ?? "this prism"}.`);
  return table(
    ["When", "Request", "Status", "Code", "Message"],
    list.map((e) =>
      h(
        "tr",
        {},
        h("td", {}, when(e.at)),
        h("td", {}, `${e.method} ${e.url}`),
        h("td", {}, e.status),
        h("td", {}, e.code),
        h("td", {}, e.error),
      ),
    ),
  );
}

/** The whole view for one status. */
export function renderCluster(s) {
  return [
    h("h3", {}, "Stores"),
    stores(s),
    h("h3", {}, "Prisms"),
    prisms(s),
    h("h3", {}, "Down-votes"),
    votes(s),
    h("h3", {}, `Replication (${s.replicas} copies each)`),
    replication(s),
    h("h3", {}, "Heal"),
    heal(s),
    h("h3", {}, "Hot content"),
    hot(s),
    h("h3", {}, `Recent failures on ${s.seenBy ?? "this prism"}`),
    errors(s),
  ];
}
