/**
 * A background task run every `everyMs` while the service runs (the first run after
 * `firstAfterMs`, by default one period). The timer does not keep the process alive, a run
 * never starts while the previous one is still going, a failed run waits for the next tick (the
 * task logs what it must), and `stop` ends it at shutdown.
 */
export class IntervalTask {
  private timer: NodeJS.Timeout | null = null;
  private first: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly everyMs: number,
    private readonly firstAfterMs = everyMs,
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => this.tick(), this.everyMs);
    this.timer.unref();
    if (this.firstAfterMs < this.everyMs) {
      this.first = setTimeout(() => this.tick(), this.firstAfterMs);
      this.first.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.first) clearTimeout(this.first);
    this.timer = null;
    this.first = null;
  }

  private tick(): void {
    if (this.running) return;
    this.running = true;
    void this.run()
      .catch(() => {})
      .finally(() => {
        this.running = false;
      });
  }
}
