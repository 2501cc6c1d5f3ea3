/**
 * Invalidation buses: how an instance learns "the change feed has new rows, poll now" faster than
 * its poll. The `changes` table stays the source of truth: a message only triggers an immediate
 * poll, so a dropped message is never a lost invalidation (the poll catches it up).
 *
 * - `RedisBus`: Redis pub/sub on `<prefix>changes` (with REDIS_URL). Writers publish after their
 *   transaction commits.
 * - `PgBus`: PostgreSQL `LISTEN backbone_changes`; a trigger on `changes` NOTIFYs at commit
 *   (migration 005), so every writer — servers and the CLI — wakes every instance.
 * - `PollBus`: no channel (SQLite): the short poll does everything.
 *
 * A bus reports whether its channel is up; while it is down the poller polls at the short interval.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { PG_CHANGES_CHANNEL } from '../store/migrations/005-scale-out.js';

export type BusKind = 'redis' | 'postgres' | 'poll';

export interface BusEvents {
  /** New rows may be in the feed: poll now. */
  wake(): void;
  /** The channel went up or down. */
  health(up: boolean): void;
}

export interface InvalidationBus {
  readonly kind: BusKind;
  /** Connect and subscribe (does not wait for the channel to be up; `health` says when it is). */
  start(events: BusEvents): void;
  /** Tell every other instance to poll now (fire and forget; never throws). */
  publish(): void;
  /** Publish and wait for it to be sent, up to `timeoutMs` (the CLI, before it exits). */
  publishAndWait(timeoutMs: number): Promise<void>;
  /** Whether the channel is up now. */
  readonly up: boolean;
  close(): Promise<void>;
}

export class PollBus implements InvalidationBus {
  readonly kind = 'poll' as const;
  readonly up = false;
  start(): void {}
  publish(): void {}
  async publishAndWait(): Promise<void> {}
  async close(): Promise<void> {}
}

export class RedisBus implements InvalidationBus {
  readonly kind = 'redis' as const;
  private sub: Redis | undefined;
  private readonly pub: Redis;
  private readonly channel: string;
  private subscribed = false;
  private events: BusEvents | undefined;

  constructor(private readonly url: string, prefix: string, private readonly timeoutMs = 500) {
    this.channel = `${prefix}changes`;
    // Publishing never waits behind a reconnect: without an offline queue a publish while Redis is
    // away fails at once (and the other instances' safety poll catches the change up).
    this.pub = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: timeoutMs, lazyConnect: false });
    this.pub.on('error', () => {});
  }

  get up(): boolean {
    return this.subscribed && this.sub?.status === 'ready';
  }

  start(events: BusEvents): void {
    this.events = events;
    const sub = new Redis(this.url, { maxRetriesPerRequest: null, autoResubscribe: true, retryStrategy: (n) => Math.min(n * 200, 2000) });
    this.sub = sub;
    sub.on('error', () => {});
    sub.on('message', () => events.wake());
    sub.on('ready', () => {
      sub.subscribe(this.channel).then(() => {
        if (!this.subscribed) { this.subscribed = true; events.health(true); }
        // Anything published while we were away: catch up now.
        events.wake();
      }, () => {});
    });
    const down = () => {
      if (this.subscribed) { this.subscribed = false; events.health(false); }
    };
    sub.on('close', down);
    sub.on('end', down);
  }

  publish(): void {
    if (this.pub.status !== 'ready') return;
    this.pub.publish(this.channel, '1').catch(() => {});
  }

  async publishAndWait(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.pub.status !== 'ready' && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (this.pub.status === 'ready') await this.pub.publish(this.channel, '1').catch(() => {});
  }

  async close(): Promise<void> {
    this.events = undefined;
    this.sub?.removeAllListeners('close');
    this.sub?.removeAllListeners('end');
    this.sub?.disconnect();
    await this.pub.quit().catch(() => this.pub.disconnect());
  }
}

export class PgBus implements InvalidationBus {
  readonly kind = 'postgres' as const;
  private client: pg.Client | undefined;
  private listening = false;
  private closed = false;
  private retryMs = 250;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private events: BusEvents | undefined;

  /** `heartbeatMs`: a query on the LISTEN connection, so a silently dead connection is noticed. */
  constructor(private readonly url: string, private readonly heartbeatMs = 5000) {}

  get up(): boolean {
    return this.listening;
  }

  start(events: BusEvents): void {
    this.events = events;
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.url, application_name: 'backbone-listen', connectionTimeoutMillis: 3000, keepAlive: true, keepAliveInitialDelayMillis: 10_000, query_timeout: 3000 });
    this.client = client;
    const lost = () => {
      if (this.client !== client) return;
      this.client = undefined;
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = undefined;
      client.end().catch(() => {});
      if (this.listening) { this.listening = false; this.events?.health(false); }
      if (!this.closed) {
        this.timer = setTimeout(() => void this.connect(), this.retryMs);
        this.timer.unref();
        this.retryMs = Math.min(this.retryMs * 2, 5000);
      }
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => this.events?.wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${PG_CHANGES_CHANNEL}`);
      if (this.closed || this.client !== client) { await client.end().catch(() => {}); return; }
      this.retryMs = 250;
      this.heartbeat = setInterval(() => { client.query('select 1').catch(lost); }, this.heartbeatMs);
      this.heartbeat.unref();
      this.listening = true;
      this.events?.health(true);
      this.events?.wake();
    } catch {
      lost();
    }
  }

  /** The trigger on `changes` NOTIFYs at commit: nothing to send from here. */
  publish(): void {}
  async publishAndWait(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const c = this.client;
    this.client = undefined;
    this.listening = false;
    await c?.end().catch(() => {});
  }
}
