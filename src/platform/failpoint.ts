/**
 * Crash injection for the crash-consistency tests: with GPUMARKET_FAILPOINT=<name>[@<n>] the
 * process kills itself with SIGKILL the n-th time (default the first) it reaches that point,
 * exactly as a power cut would. Unset in production; the points are named where they are used
 * (`round.commit`: inside the round's transaction after every write, before COMMIT;
 * `outbox.relay`: after the queue accepted a batch, before it is marked relayed).
 */
const spec = process.env.GPUMARKET_FAILPOINT ?? '';
const [armed, nth] = spec.split('@');
let reached = 0;

export function failpoint(name: string): void {
  if (armed !== name) return;
  reached += 1;
  if (reached === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
