/**
 * Redis for the limit suites: at REDIS_TEST_URL (default redis://127.0.0.1:6379). In CI (CI=true)
 * it is required and a missing server fails the run; elsewhere the Redis cases are skipped with a
 * printed reason. Each test run uses its own random key prefix, so runs never see each other's counters.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** A prefix no other run uses. */
export const testPrefix = (): string => `backbone-test:${randomBytes(6).toString('hex')}:`;

/** Why Redis cannot be used here (undefined when it can). Throws in CI when it is unreachable. */
export async function redisSkip(): Promise<string | undefined> {
  const r = new Redis(REDIS_TEST_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  r.on('error', () => {});
  let problem: string | undefined;
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    problem = `Redis not reachable at ${REDIS_TEST_URL}: ${(err as Error).message}`;
  } finally {
    r.disconnect();
  }
  if (problem && inCI) throw new Error(`CI requires Redis for the limit suites. ${problem}`);
  if (problem) console.log(`# skipping Redis suites: ${problem}`);
  return problem;
}

/** Delete every key of a prefix (after a suite). */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
