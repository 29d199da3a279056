// Group commit: callers submit items one by one; the items that arrive while
// a batch is in flight (or within `windowMs` of the first) go out together as
// the next one. Each caller waits for its own item's outcome: a per-item Error
// fails only that caller, a failure of the whole batch fails all of its callers.
// The queue is bounded: past `maxQueue` waiting items, submit() waits for room
// (backpressure) and never drops an item.

export interface BatchOptions {
  /** Most items in one batch. */
  maxBatch: number;
  /** Most items waiting for a batch; submitters past it wait for room. */
  maxQueue: number;
  /** How long the first item of an idle batcher waits for company (0: the current tick only). */
  windowMs: number;
}

/** Runs one batch: one outcome per item, in order (an Error fails that item alone). */
export type RunBatch<In, Out> = (items: In[]) => Promise<Array<Out | Error>>;

interface Pending<In, Out> {
  item: In;
  resolve(out: Out): void;
  reject(err: unknown): void;
}

export interface BatchStats {
  batches: number;
  items: number;
}

export class Batcher<In, Out> {
  private queue: Pending<In, Out>[] = [];
  private readonly roomWaiters: Array<() => void> = [];
  private inFlight = false;
  private scheduled = false;
  readonly stats: BatchStats = { batches: 0, items: 0 };

  constructor(
    private readonly run: RunBatch<In, Out>,
    private readonly opts: BatchOptions,
    /** Items that must not share a batch (e.g. two writes of one doc) give the same key. */
    private readonly keyOf?: (item: In) => string,
  ) {}

  async submit(item: In): Promise<Out> {
    while (this.queue.length >= this.opts.maxQueue) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    const out = new Promise<Out>((resolve, reject) => this.queue.push({ item, resolve, reject }));
    this.schedule();
    return out;
  }

  /** Items waiting for a batch. */
  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.inFlight || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      void this.flush();
    };
    if (this.opts.windowMs > 0) setTimeout(go, this.opts.windowMs);
    else setImmediate(go);
  }

  private take(): Pending<In, Out>[] {
    const batch: Pending<In, Out>[] = [];
    const keys = new Set<string>();
    const rest: Pending<In, Out>[] = [];
    for (const p of this.queue) {
      const key = this.keyOf?.(p.item);
      if (batch.length >= this.opts.maxBatch || (key !== undefined && keys.has(key))) {
        rest.push(p);
        continue;
      }
      if (key !== undefined) keys.add(key);
      batch.push(p);
    }
    this.queue = rest;
    for (const wake of this.roomWaiters.splice(0, this.opts.maxQueue - this.queue.length)) wake();
    return batch;
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = true;
    const batch = this.take();
    this.stats.batches++;
    this.stats.items += batch.length;
    try {
      const outcomes = await this.run(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        const o = outcomes[i];
        if (o instanceof Error) p.reject(o);
        else if (i >= outcomes.length) p.reject(new Error("batch answered fewer items than it was sent"));
        else p.resolve(o as Out);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight = false;
      // What queued meanwhile has waited a batch already: it goes at once.
      if (this.queue.length > 0) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.flush();
        });
      }
    }
  }
}
