/**
 * Workers of one `backbone serve --workers N` talk to their primary over the cluster IPC channel:
 *
 * - `IpcRateLimitStore`: without Redis or PostgreSQL (SQLite), the workers' limits are counted in
 *   ONE `MemoryRateLimitStore` held by the primary, so N workers enforce one set of limits (not N).
 *   The primary runs each batch to the end before the next one, so batches stay all-or-nothing.
 * - `IpcBus`: a worker that committed a change tells the primary, which wakes the other workers at
 *   once. It never reports itself "up", so the short poll stays on (changes made by the CLI, a
 *   separate process, are picked up by the poll).
 */
import cluster from 'node:cluster';
import type { BudgetState, Give, RateLimitStore, Take, TakeResult } from '../limits/store.js';
import type { BusEvents, InvalidationBus } from './notifier.js';

interface Pending { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }

export class IpcRateLimitStore implements RateLimitStore {
  readonly kind = 'memory' as const;
  /** Counted once for every worker of this machine (in the primary). */
  readonly sharedByWorkers = true;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** Calls made in the same tick go in one message (IPC costs per message, not per byte). */
  private batch: { id: number; op: string; args: unknown[] }[] = [];
  private readonly onMessage = (msg: unknown) => {
    const m = msg as { type?: string; results?: { id: number; result?: unknown; error?: string }[] };
    if (m?.type !== 'bb:limits:res' || !m.results) return;
    for (const r of m.results) {
      const p = this.pending.get(r.id);
      if (!p) continue;
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      if (r.error !== undefined) p.reject(new Error(r.error));
      else p.resolve(r.result);
    }
  };

  constructor(private readonly timeoutMs = 2000) {
    if (!cluster.isWorker || !process.send) throw new Error('IpcRateLimitStore runs in a cluster worker only');
    process.on('message', this.onMessage);
  }

  private call<T>(op: string, args: unknown[]): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error('the primary process did not answer')); }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      if (this.batch.length === 0) setImmediate(() => this.flush());
      this.batch.push({ id, op, args });
    });
  }

  private flush(): void {
    const calls = this.batch;
    this.batch = [];
    if (calls.length === 0) return;
    process.send!({ type: 'bb:limits', calls }, undefined, undefined, (err) => {
      if (!err) return;
      for (const c of calls) {
        const p = this.pending.get(c.id);
        if (!p) continue;
        this.pending.delete(c.id);
        clearTimeout(p.timer);
        p.reject(err);
      }
    });
  }

  take(takes: readonly Take[]): Promise<TakeResult> { return this.call('take', [takes]); }
  give(gives: readonly Give[]): Promise<void> { return this.call('give', [gives]); }
  seed(key: string, spent: number, ttlMs: number | null): Promise<void> { return this.call('seed', [key, spent, ttlMs]); }
  budget(key: string): Promise<BudgetState> { return this.call('budget', [key]); }

  async close(): Promise<void> {
    process.off('message', this.onMessage);
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new Error('closed')); }
    this.pending.clear();
  }
}

export class IpcBus implements InvalidationBus {
  readonly kind = 'poll' as const;
  readonly up = false;
  private events: BusEvents | undefined;
  private readonly onMessage = (msg: unknown) => {
    if ((msg as { type?: string })?.type === 'bb:wake') this.events?.wake();
  };

  start(events: BusEvents): void {
    this.events = events;
    process.on('message', this.onMessage);
  }

  publish(): void {
    if (process.connected) process.send?.({ type: 'bb:changed' });
  }

  async publishAndWait(): Promise<void> { this.publish(); }

  async close(): Promise<void> {
    this.events = undefined;
    process.off('message', this.onMessage);
  }
}
