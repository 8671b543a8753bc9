/**
 * A background task run every `everyMs` while the service runs. The timer does not keep the
 * process alive, a failed run waits for the next tick (the task logs what it must), and
 * `stop` ends it at shutdown.
 */
export class IntervalTask {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => void this.run().catch(() => {}), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
