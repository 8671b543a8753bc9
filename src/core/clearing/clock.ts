/**
 * Milliseconds, as Date.now gives them: every deadline inside a clearing is a reading of the
 * round's clock. clearRound takes one (default Date.now, at its edge) so that callers and tests
 * decide where time comes from; the phases only compare against it.
 */
export type Clock = () => number;
