import { Presets, SingleBar } from "cli-progress";
import type { Counts, Progress } from "../../migrations/lib/types.js";

// Progress for long CLI work: a cli-progress bar on a TTY, otherwise one
// summary line per batch (at most every `everyMs`) and one at the end of a phase.

export const formatCounts = (c: Counts) =>
  `moved ${c.moved} exists ${c.exists} skipped ${c.skipped} dropped ${c.dropped} errors ${c.errors}`;

const rate = (n: number, ms: number) => (ms > 0 ? Math.round((n * 1000) / ms) : 0);

export function lineProgress(write: (line: string) => void, everyMs = 2000): Progress {
  let label = "";
  let total: number | undefined;
  let started = 0;
  let from = 0;
  let last = 0;
  let done = 0;
  let printed = -1;
  const line = (counts: Counts) => {
    printed = done;
    const pct = total ? ` (${((100 * done) / total).toFixed(1)}%)` : "";
    const speed = rate(done - from, Date.now() - started);
    write(`${label}: ${done}${total ? `/${total}` : ""} rows${pct}, ${speed}/s; ${formatCounts(counts)}`);
  };
  return {
    begin(l, t, d = 0) {
      label = l;
      total = t;
      done = from = d;
      started = Date.now();
      last = 0;
      printed = -1;
    },
    update(d, counts) {
      done = d;
      if (Date.now() - last >= everyMs) {
        last = Date.now();
        line(counts);
      }
    },
    end(counts) {
      if (printed !== done) line(counts);
    },
    note: write,
  };
}

export function barProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  let bar: SingleBar | undefined;
  let startedAt = 0;
  let from = 0;
  let value = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    begin(label, total, done = 0) {
      stop();
      bar = new SingleBar(
        {
          stream,
          format: `${label} [{bar}] {value}/{total} {percentage}% | {speed}/s | eta {eta_formatted} | {counts}`,
          hideCursor: true,
          etaBuffer: 50,
        },
        Presets.shades_classic,
      );
      startedAt = Date.now();
      from = value = done;
      bar.start(Math.max(total ?? 0, done), done, { counts: "", speed: 0 });
    },
    update(done, counts) {
      if (!bar) return;
      value = done;
      if (done > bar.getTotal()) bar.setTotal(done);
      bar.update(done, { counts: formatCounts(counts), speed: rate(done - from, Date.now() - startedAt) });
    },
    end(counts) {
      if (!bar) return;
      // The source's doc count is only an estimate: a finished phase shows as complete.
      bar.setTotal(value);
      bar.update(value, { counts: formatCounts(counts) });
      stop();
    },
    note(message) {
      if (bar) stream.write("\n");
      stream.write(`${message}\n`);
    },
  };
}
