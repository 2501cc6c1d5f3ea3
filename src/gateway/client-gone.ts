/**
 * Fires when the client goes away before its response is complete, so the upstream request is
 * cancelled with it. An EventEmitter, which undici accepts as a request's `signal`: building an
 * AbortController for every request costs more than the rest of the gateway's own bookkeeping
 * (Node 20's EventTarget), so a real AbortSignal is made only when an API needs one (a retry's
 * back-off timer, waiting for `drain`).
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';

/** Why a request stopped: its client went away. Recorded as 499, never answered, never logged as a failure. */
export class ClientClosed extends Error {
  readonly code = 'client_closed_request';
  constructor() {
    super('client closed the connection');
  }
}

export class ClientGone extends EventEmitter {
  aborted = false;
  reason: Error | undefined;
  private controller: AbortController | undefined;

  constructor(raw: ServerResponse) {
    super();
    raw.once('close', () => {
      if (!raw.writableFinished) this.abort(new ClientClosed());
    });
  }

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.emit('abort');
  }

  /** The same event as an AbortSignal, for APIs that accept nothing else. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
}
