/**
 * The services replay's event queue: a binary min-heap on (time, kind, sequence). The kind breaks
 * ties at one millisecond in a stated order (a request that completes frees its slot before an
 * arrival at the same instant is routed; a replica that gets ready serves a held request before
 * its timeout fires), and the sequence keeps everything else in the order it was scheduled, so a
 * replay is deterministic.
 */
export const EVENT_ORDER = { completion: 0, ready: 1, win: 2, arrival: 3, timeout: 4, tick: 5 } as const;
export type EventKind = keyof typeof EVENT_ORDER;

export interface ScheduledEvent {
  readonly at: number;
  readonly kind: EventKind;
  readonly seq: number;
  readonly run: () => void;
}

export class EventQueue {
  private readonly heap: ScheduledEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, kind: EventKind, run: () => void): void {
    this.heap.push({ at, kind, seq: this.seq++, run });
    let i = this.heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(this.heap[i], this.heap[parent])) break;
      [this.heap[i], this.heap[parent]] = [this.heap[parent], this.heap[i]];
      i = parent;
    }
  }

  pop(): ScheduledEvent | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (this.heap.length > 0 && last !== undefined) {
      this.heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.heap.length && before(this.heap[l], this.heap[m])) m = l;
        if (r < this.heap.length && before(this.heap[r], this.heap[m])) m = r;
        if (m === i) break;
        [this.heap[i], this.heap[m]] = [this.heap[m], this.heap[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.at !== b.at ? a.at < b.at : a.kind !== b.kind ? EVENT_ORDER[a.kind] < EVENT_ORDER[b.kind] : a.seq < b.seq;
}
