import { createRequire } from "node:module";

// Prometheus text, parsed for tests: each family's type, and every sample
// with its labels.

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string }[];
}
const parse = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Family[];

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  types: Map<string, string>;
  samples: Sample[];
  /** The samples of `name` whose labels include `labels`. */
  find(name: string, labels?: Record<string, string>): Sample[];
  /** Their values, summed (0 when there is none). */
  sum(name: string, labels?: Record<string, string>): number;
}

/**
 * The parser folds a labelled histogram's series into one (its issue #13), so for the samples histogram TYPE
 * lines are read as untyped: each _bucket, _sum and _count series then comes through with its own labels.
 */
export function scrapeOf(text: string): Scrape {
  const types = new Map(parse(text).map((f) => [f.name, f.type]));
  const samples = parse(text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped")).flatMap((f) =>
    f.metrics.map((m) => ({ name: f.name, labels: m.labels ?? {}, value: Number(m.value) })),
  );
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return { types, samples, find, sum: (name, labels) => find(name, labels).reduce((n, s) => n + s.value, 0) };
}
