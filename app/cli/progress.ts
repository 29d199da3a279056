import { Presets, SingleBar } from "cli-progress";
import type { Counts, Progress } from "../../migrations/lib/types.js";

// Progress for long CLI work, one reporter for every command: a cli-progress
// bar on a TTY (a counter when the total is unknown), otherwise one line per
// update at most every `everyMs` and one at the end of a phase; nothing but
// notes under --json.

export interface Reporter {
  /** A new phase; total undefined when unknown, `done` > 0 when resuming. */
  begin(label: string, total?: number, done?: number): void;
  update(done: number, detail: string): void;
  end(detail: string): void;
  note(line: string): void;
}

const rate = (n: number, ms: number) => (ms > 0 ? Math.round((n * 1000) / ms) : 0);

export function reporter(
  flags: { json?: boolean },
  stream: NodeJS.WriteStream = process.stderr,
  everyMs = 2000,
): Reporter {
  if (flags.json) return { begin() {}, update() {}, end() {}, note: (line) => stream.write(`${line}\n`) };
  return stream.isTTY ? barReporter(stream) : lineReporter((line) => stream.write(`${line}\n`), everyMs);
}

export function lineReporter(write: (line: string) => void, everyMs = 2000): Reporter {
  let label = "";
  let total: number | undefined;
  let started = 0;
  let from = 0;
  let last = 0;
  let done = 0;
  let printed = -1;
  const line = (detail: string) => {
    printed = done;
    const pct = total ? ` (${((100 * done) / total).toFixed(1)}%)` : "";
    write(
      `${label}: ${done}${total ? `/${total}` : ""}${pct}, ${rate(done - from, Date.now() - started)}/s; ${detail}`,
    );
  };
  return {
    begin(l, t, d = 0) {
      label = l;
      total = t;
      done = from = d;
      started = last = Date.now();
      printed = -1;
    },
    update(d, detail) {
      done = d;
      if (Date.now() - last >= everyMs) {
        last = Date.now();
        line(detail);
      }
    },
    end(detail) {
      if (printed !== done) line(detail);
    },
    note: write,
  };
}

function barReporter(stream: NodeJS.WriteStream): Reporter {
  let bar: SingleBar | undefined;
  let started = 0;
  let from = 0;
  let done = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    begin(label, total, d = 0) {
      stop();
      const format = total
        ? `${label} [{bar}] {value}/{total} {percentage}% | {speed}/s | eta {eta_formatted} | {detail}`
        : `${label} {value} | {speed}/s | {detail}`;
      bar = new SingleBar({ stream, format, hideCursor: true, etaBuffer: 50 }, Presets.shades_classic);
      started = Date.now();
      from = done = d;
      bar.start(Math.max(total ?? 0, d), d, { speed: 0, detail: "" });
    },
    update(d, detail) {
      done = d;
      if (bar && d > bar.getTotal() && bar.getTotal() > 0) bar.setTotal(d);
      bar?.update(d, { speed: rate(d - from, Date.now() - started), detail });
    },
    end(detail) {
      // A total that was only an estimate: a finished phase shows as complete.
      if (bar && bar.getTotal() > 0) bar.setTotal(done);
      bar?.update(done, { speed: rate(done - from, Date.now() - started), detail });
      stop();
    },
    note(line) {
      if (bar) stream.write("\n");
      stream.write(`${line}\n`);
    },
  };
}

export const formatCounts = (c: Counts) =>
  `moved ${c.moved} exists ${c.exists} skipped ${c.skipped} dropped ${c.dropped} errors ${c.errors}`;

/** A migration's progress (counts) on a reporter. */
export function migrationProgress(r: Reporter): Progress {
  return {
    begin: (label, total, done) => r.begin(label, total, done),
    update: (done, counts) => r.update(done, formatCounts(counts)),
    end: (counts) => r.end(formatCounts(counts)),
    note: (message) => r.note(message),
  };
}
