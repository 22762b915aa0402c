import * as assert from 'uvu/assert';

/** Awaits fn and asserts it rejects with an error whose message matches `pattern`; returns the error. */
export async function rejects(fn: () => Promise<unknown>, pattern: RegExp, msg?: string): Promise<Error> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof Error)) assert.unreachable(msg ?? `expected a rejection matching ${pattern}`);
  assert.match((caught as Error).message, pattern, msg);
  return caught as Error;
}
