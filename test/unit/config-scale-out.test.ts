/** The scale-out settings: defaults, and every wrong combination listed at start-up. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from '../../src/config/index.js';

const base = { DATABASE_URL: ':memory:' };

test('defaults: auto stores and bus, one worker per core, metrics on, 300 s outage grace', () => {
  const c = loadConfig(base);
  assert.equal(c.limits.store, 'auto');
  assert.equal(c.auth.invalidationBus, 'auto');
  assert.equal(c.auth.invalidationSafetyPollMs, 5000);
  assert.equal(c.auth.storeOutageGraceSeconds, 300);
  assert.equal(c.limits.redisTimeoutMs, 500);
  assert.equal(c.workers, availableParallelism());
  assert.deepEqual(c.metrics, { enabled: true });
});

test('wrong scale-out settings are all reported at once', () => {
  const err = (() => {
    try {
      loadConfig({ ...base, BACKBONE_LIMITS_STORE: 'redis', BACKBONE_INVALIDATION_BUS: 'postgres', BACKBONE_WORKERS: '0', BACKBONE_METRICS: 'maybe', BACKBONE_METRICS_TOKEN: 'short', BACKBONE_STORE_OUTAGE_GRACE_SECONDS: '-1' });
    } catch (e) { return e; }
    return undefined;
  })();
  assert.ok(err instanceof ConfigError);
  const text = err.problems.join('\n');
  for (const name of ['BACKBONE_LIMITS_STORE=redis needs REDIS_URL', 'BACKBONE_INVALIDATION_BUS=postgres needs', 'BACKBONE_WORKERS', 'BACKBONE_METRICS must', 'BACKBONE_METRICS_TOKEN', 'BACKBONE_STORE_OUTAGE_GRACE_SECONDS']) {
    assert.ok(text.includes(name), `${name} in:\n${text}`);
  }
});

test('explicit choices are kept', () => {
  const c = loadConfig({ ...base, REDIS_URL: 'redis://x:6379', BACKBONE_LIMITS_STORE: 'memory', BACKBONE_INVALIDATION_BUS: 'poll', BACKBONE_WORKERS: '3', BACKBONE_METRICS: 'false' });
  assert.equal(c.limits.store, 'memory');
  assert.equal(c.auth.invalidationBus, 'poll');
  assert.equal(c.workers, 3);
  assert.equal(c.metrics.enabled, false);
});
