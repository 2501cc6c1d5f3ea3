/**
 * Upkeep of the usage table, run by the ledger: monthly partitions made ahead (PostgreSQL; at
 * start and checked hourly, so a month's partition exists before its first row), and retention
 * once a day (whole months older than `retentionDays`; 0 keeps everything).
 */
import type { PartitionReport } from '../store/usage-partitions.js';
import { monthStart } from '../store/usage-partitions.js';
import type { RetentionReport } from '../store/usage-events.js';

export interface UpkeepStore {
  ensurePartitions(now: number): Promise<PartitionReport>;
  dropBefore(month: number, signal?: AbortSignal): Promise<RetentionReport>;
}

export interface UpkeepLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

const DAY_MS = 86_400_000;

export class UsageUpkeep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastRetention = 0;
  private readonly abort = new AbortController();

  constructor(
    private readonly store: UpkeepStore,
    private readonly log: UpkeepLog,
    private readonly opts: { retentionDays: number; intervalMs: number; now: () => number },
  ) {}

  /** Partitions now (awaited: they exist before the first request), retention in the background. */
  async start(): Promise<void> {
    this.timer = setInterval(() => void this.run(true), this.opts.intervalMs);
    this.timer.unref();
    await this.ensurePartitions();
    void this.run(false);
  }

  /** Stop the timer and interrupt retention; resolves when a running job has let go. */
  stop(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    return this.running ?? Promise.resolve();
  }

  private run(partitions: boolean): Promise<void> {
    this.running ??= (async () => {
      if (partitions) await this.ensurePartitions();
      const now = this.opts.now();
      if (this.opts.retentionDays > 0 && now - this.lastRetention >= DAY_MS && !this.abort.signal.aborted) {
        this.lastRetention = now;
        await this.applyRetention(now);
      }
    })().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async ensurePartitions(): Promise<void> {
    try {
      const r = await this.store.ensurePartitions(this.opts.now());
      if (r.created.length) this.log.info({ partitions: r.created }, 'usage partitions created');
      for (const f of r.failed) {
        this.log.error({ partition: f.name, err: f.error },
          'could not create a usage partition; rows of that month stay in the default partition (nothing is lost)');
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'usage partition check failed; will retry');
    }
  }

  private async applyRetention(now: number): Promise<void> {
    const cutoff = monthStart(now - this.opts.retentionDays * DAY_MS);
    try {
      const r = await this.store.dropBefore(cutoff, this.abort.signal);
      if (r.deletedRows || r.droppedPartitions.length) {
        this.log.info({ before: new Date(cutoff).toISOString(), ...r }, 'usage retention: old usage removed');
      }
    } catch (err) {
      this.lastRetention = 0; // try again at the next upkeep
      this.log.warn({ err: (err as Error).message }, 'usage retention failed; will retry');
    }
  }
}
