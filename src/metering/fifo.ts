/**
 * A first-in first-out queue with O(1) amortised push, take and drop from the front (an array
 * and a head index, compacted now and then), and put-back at the front for a failed batch.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Remove and return up to `n` items from the front. */
  take(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n) as T[];
    this.advance(out.length);
    return out;
  }

  /** Drop `n` items from the front (the oldest). */
  drop(n: number): void {
    this.advance(Math.min(n, this.size));
  }

  /** Put items back at the front, in order (a batch that could not be written). */
  unshift(batch: readonly T[]): void {
    if (batch.length === 0) return;
    if (this.head >= batch.length) {
      this.head -= batch.length;
      for (let i = 0; i < batch.length; i++) this.items[this.head + i] = batch[i];
    } else {
      this.items = [...batch, ...this.items.slice(this.head)];
      this.head = 0;
    }
  }

  private advance(n: number): void {
    for (let i = this.head; i < this.head + n; i++) this.items[i] = undefined; // let the rows be collected
    this.head += n;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
