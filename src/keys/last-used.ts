/**
 * `last_used_at` is written behind, never per request: uses are collected in memory and flushed
 * in one batch every few seconds and on shutdown. A failed flush keeps its entries for the next one.
 */
export interface LastUsedSink {
  touchLastUsed(entries: ReadonlyMap<string, number>): Promise<void>;
}

export class LastUsedTracker {
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly sink: LastUsedSink, private readonly intervalMs: number, private readonly onError: (err: unknown) => void = () => {}) {}

  touch(keyId: string, at: number): void {
    this.pending.set(keyId, at);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.sink.touchLastUsed(batch).catch((err) => {
      for (const [id, at] of batch) if ((this.pending.get(id) ?? 0) < at) this.pending.set(id, at);
      this.onError(err);
    }).finally(() => { this.flushing = undefined; });
    await this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
