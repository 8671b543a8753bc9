/** How often, at most, one replica writes a key's `last_used_at`. */
export const LAST_USED_INTERVAL_MS = 60_000;

/**
 * Decides which uses of a key are worth a write of its `last_used_at`: the first one, then one
 * per interval. A key used a thousand times a second costs one UPDATE a minute, not a thousand
 * a second. Bounded, so that a flood of keys cannot grow memory without limit (forgetting costs
 * at most one extra write per key).
 */
export class LastUsedThrottle {
  private readonly written = new Map<string, number>();

  constructor(
    private readonly intervalMs = LAST_USED_INTERVAL_MS,
    private readonly maxKeys = 10_000,
  ) {}

  /** True when this use at `now` (ms) should be written; it then counts as written. */
  claim(keyId: string, now: number): boolean {
    const last = this.written.get(keyId);
    if (last !== undefined && now - last < this.intervalMs) return false;
    if (last === undefined && this.written.size >= this.maxKeys) this.written.clear();
    this.written.set(keyId, now);
    return true;
  }

  /** After a failed write: the next use tries again. */
  release(keyId: string): void {
    this.written.delete(keyId);
  }
}
