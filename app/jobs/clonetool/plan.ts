// What clonetool does with one file, from its live copy count (spec §10.2).
// Pure: the selection rules and the manual actions, without I/O.
//
// Selection, by the current count of live copies:
//   --at n          count = n (alone: it cannot be combined)
//   --above a       count > a
//   --below b       count < b
//   --above + --below   a < count < b (OOSE let one silently override the other)
//   none            count < desired (with --clone, --drop or --verify: every file)
// A selected file below `desired` gets desired − count copies; above it loses
// count − desired (never from protected stores). --clone, --drop and --verify
// replace that analysis for every selected file.

export interface Selector {
  desired: number;
  above?: number;
  below?: number;
  at?: number;
}

export interface Manual {
  clone?: string;
  drop?: string;
  verify?: boolean;
}

export type Action =
  | { kind: "copy"; count: number }
  | { kind: "unlink"; count: number }
  | { kind: "verify" }
  | { kind: "clone"; store: string }
  | { kind: "drop"; store: string }
  | { kind: "none"; reason: "missing" | "unavailable" | "unselected" | "at-desired" | "already-there" | "not-there" };

export function selectorProblem(s: Selector): string | undefined {
  if (s.at !== undefined && (s.above !== undefined || s.below !== undefined))
    return "--at cannot be combined with --above or --below";
  if (s.above !== undefined && s.below !== undefined && s.above + 1 >= s.below)
    return `--above ${s.above} --below ${s.below} selects nothing`;
  if (s.desired < 1) return "--desired must be at least 1";
  return undefined;
}

export function manualProblem(m: Manual): string | undefined {
  const n = [m.clone !== undefined, m.drop !== undefined, Boolean(m.verify)].filter(Boolean).length;
  return n > 1 ? "--clone, --drop and --verify are alternatives: pick one" : undefined;
}

export function selected(count: number, s: Selector): boolean {
  if (s.at !== undefined) return count === s.at;
  if (s.above === undefined && s.below === undefined) return count < s.desired;
  return (s.above === undefined || count > s.above) && (s.below === undefined || count < s.below);
}

/**
 * The action for one file: `live` are the stores holding a live copy, `known`
 * whether the inventory has any copy at all (live or not).
 */
export function plan(live: string[], known: boolean, s: Selector, m: Manual = {}): Action {
  const count = live.length;
  if (!known) return { kind: "none", reason: "missing" };
  if (count === 0) return { kind: "none", reason: "unavailable" };
  const manual = m.verify || m.clone !== undefined || m.drop !== undefined;
  const explicit = s.at !== undefined || s.above !== undefined || s.below !== undefined;
  // A manual action applies to every file given, unless a selector narrows them.
  if ((explicit || !manual) && !selected(count, s)) return { kind: "none", reason: "unselected" };
  if (m.verify) return { kind: "verify" };
  if (m.clone !== undefined)
    return live.includes(m.clone) ? { kind: "none", reason: "already-there" } : { kind: "clone", store: m.clone };
  if (m.drop !== undefined)
    return live.includes(m.drop) ? { kind: "drop", store: m.drop } : { kind: "none", reason: "not-there" };
  if (count < s.desired) return { kind: "copy", count: s.desired - count };
  if (count > s.desired) return { kind: "unlink", count: count - s.desired };
  return { kind: "none", reason: "at-desired" };
}

/** An action in words, for verbose output. */
export function describe(a: Action): string {
  switch (a.kind) {
    case "copy":
      return `add ${a.count} cop${a.count === 1 ? "y" : "ies"}`;
    case "unlink":
      return `remove ${a.count} cop${a.count === 1 ? "y" : "ies"}`;
    case "verify":
      return "verify every copy";
    case "clone":
      return `copy onto ${a.store}`;
    case "drop":
      return `remove from ${a.store}`;
    case "none":
      return `nothing (${a.reason})`;
  }
}
