/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Waits until the wall clock is past `at` (a time the market set: a protection's or a notice's
 * end, in whole seconds from the round's commit), so tests wait for what the rows say and not
 * for a guess of it.
 */
export async function past(at: Date | string, marginMs = 100): Promise<void> {
  const wait = new Date(at).getTime() + marginMs - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
