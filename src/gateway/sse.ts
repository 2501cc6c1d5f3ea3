/**
 * The one incremental decoder for upstream streams: server-sent events (WHATWG EventSource
 * "interpreting an event stream") and newline-delimited JSON (Ollama's native API).
 *
 * Bytes arrive in arbitrary chunks: a multi-byte UTF-8 sequence, a line, or a `\r\n` pair may be
 * split between two chunks. Decoding is linear in the input: each chunk is scanned once, and an
 * incomplete line is kept as a list of fragments that is joined only when its terminator arrives
 * (no repeated concatenation or re-scanning of a growing buffer).
 */
import type { SseEvent } from '../providers/types.js';

const LF = 10;
const CR = 13;

/**
 * Splits decoded text into lines terminated by `\n`, `\r\n` or a lone `\r` (the SSE rule; it is
 * also correct for NDJSON, where JSON text cannot contain raw CR or LF).
 */
class LineSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  /** Fragments of the current, not yet terminated line. */
  private parts: string[] = [];
  /** The previous chunk ended with `\r`: a `\n` starting the next chunk belongs to it. */
  private skipLeadingLf = false;

  /** Decode a chunk and call `onLine` for every complete line in it. */
  push(chunk: Uint8Array, onLine: (line: string) => void): void {
    // stream: true keeps an incomplete UTF-8 sequence in the decoder until the next chunk;
    // the decoder also drops a leading BOM once, as the SSE spec requires.
    this.feed(this.decoder.decode(chunk, { stream: true }), onLine);
  }

  /** End of input: flush the decoder and return the unterminated last line, if any. */
  end(onLine: (line: string) => void): void {
    this.feed(this.decoder.decode(), onLine);
    if (this.parts.length > 0) {
      const last = this.parts.join('');
      this.parts = [];
      onLine(last);
    }
  }

  private feed(text: string, onLine: (line: string) => void): void {
    const n = text.length;
    if (n === 0) return;
    let start = 0;
    if (this.skipLeadingLf) {
      this.skipLeadingLf = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    let i = start;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) { i++; continue; }
      const piece = text.slice(start, i);
      let line = piece;
      if (this.parts.length > 0) {
        this.parts.push(piece);
        line = this.parts.join('');
        this.parts = [];
      }
      if (c === CR) {
        if (i + 1 < n) { if (text.charCodeAt(i + 1) === LF) i++; }
        else this.skipLeadingLf = true;
      }
      i++;
      start = i;
      onLine(line);
    }
    if (start < n) this.parts.push(start === 0 ? text : text.slice(start));
  }
}

/**
 * Incremental SSE decoder. `push()` returns the events completed by a chunk; `end()` flushes.
 *
 * Follows the EventSource parsing rules: `data:` lines are joined with `\n`; `event:` and `id:`
 * set the type and id (the id persists across events, like `lastEventId`; an id containing NUL is
 * ignored); lines starting with `:` are comments; a line without a colon is a field with an empty
 * value; one space after the colon is dropped; a blank line dispatches; an event without data is
 * not dispatched. One deliberate leniency: at end of stream, a final event that lacks its blank
 * line is still dispatched (the spec discards it), because some upstreams close right after the
 * last `data:` line and the final chunk is the one that carries usage.
 */
export class SseDecoder {
  private readonly lines = new LineSplitter();
  private data = '';
  private hasData = false;
  private eventType = '';
  private lastEventId = '';
  private out: SseEvent[] = [];
  private readonly onLine = (line: string): void => this.line(line);

  /** Decode one chunk of the byte stream; returns the events it completed (often none). */
  push(chunk: Uint8Array | Buffer): SseEvent[] {
    this.lines.push(chunk, this.onLine);
    return this.take();
  }

  /** The stream ended: flush a pending line and event. */
  end(): SseEvent[] {
    this.lines.end(this.onLine);
    this.dispatch();
    return this.take();
  }

  private take(): SseEvent[] {
    if (this.out.length === 0) return [];
    const events = this.out;
    this.out = [];
    return events;
  }

  private line(line: string): void {
    if (line.length === 0) { this.dispatch(); return; }
    const colon = line.indexOf(':');
    if (colon === 0) return; // comment (keep-alive pings, OpenRouter's ": PROCESSING")
    let field: string;
    let value: string;
    if (colon < 0) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      const from = line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
      value = line.slice(from);
    }
    switch (field) {
      case 'data':
        if (this.hasData) this.data += '\n' + value;
        else { this.data = value; this.hasData = true; }
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value;
        break;
      default:
        break; // `retry` and unknown fields: nothing for a server-side consumer to do
    }
  }

  private dispatch(): void {
    if (!this.hasData) { this.eventType = ''; return; }
    const ev: SseEvent = { data: this.data };
    if (this.eventType) ev.event = this.eventType;
    if (this.lastEventId) ev.id = this.lastEventId;
    this.out.push(ev);
    this.data = '';
    this.hasData = false;
    this.eventType = '';
  }
}

/**
 * Incremental NDJSON decoder (Ollama's native streaming format): one `{ data: line }` per
 * non-blank line, unparsed (the stream translator parses it).
 */
export class NdjsonDecoder {
  private readonly lines = new LineSplitter();
  private out: SseEvent[] = [];
  private readonly onLine = (line: string): void => {
    if (line.trim().length > 0) this.out.push({ data: line });
  };

  /** Decode one chunk; returns the complete lines it finished. */
  push(chunk: Uint8Array | Buffer): SseEvent[] {
    this.lines.push(chunk, this.onLine);
    return this.take();
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(): SseEvent[] {
    this.lines.end(this.onLine);
    return this.take();
  }

  private take(): SseEvent[] {
    if (this.out.length === 0) return [];
    const lines = this.out;
    this.out = [];
    return lines;
  }
}

/** Frame one SSE `data` event. Multi-line data becomes one `data:` line per line, as the spec
 *  requires (JSON from JSON.stringify never contains a raw newline, so that is the fast path). */
export function encodeSse(data: string): string {
  if (data.indexOf('\n') < 0 && data.indexOf('\r') < 0) return `data: ${data}\n\n`;
  return data.split(/\r\n|\r|\n/).map((l) => `data: ${l}\n`).join('') + '\n';
}
