/** The usage settings: BACKBONE_USAGE_QUEUE_MAX and BACKBONE_USAGE_RETENTION_DAYS (or YAML `usage:`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/index.js';

const base = { DATABASE_URL: ':memory:' };

test('usage defaults: a 100 000-row queue and 400 days of retention', () => {
  assert.deepEqual(loadConfig(base).usage, { queueMax: 100_000, retentionDays: 400 });
});

test('usage from the environment, and from YAML (the environment wins); 0 days keeps usage forever', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backbone-usage-'));
  writeFileSync(join(dir, 'b.yaml'), 'usage:\n  queue_max: 5000\n  retention_days: 0\n');
  assert.deepEqual(loadConfig({ ...base, BACKBONE_CONFIG: join(dir, 'b.yaml') }).usage, { queueMax: 5000, retentionDays: 0 });
  assert.deepEqual(loadConfig({ ...base, BACKBONE_CONFIG: join(dir, 'b.yaml'), BACKBONE_USAGE_QUEUE_MAX: '20000' }).usage, { queueMax: 20_000, retentionDays: 0 });
  assert.deepEqual(loadConfig({ ...base, BACKBONE_USAGE_RETENTION_DAYS: '30' }).usage.retentionDays, 30);
});

test('bad usage settings are listed together', () => {
  try {
    loadConfig({ ...base, BACKBONE_USAGE_QUEUE_MAX: '10', BACKBONE_USAGE_RETENTION_DAYS: '-1' });
    assert.fail('expected ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    assert.match(text, /BACKBONE_USAGE_QUEUE_MAX/);
    assert.match(text, /BACKBONE_USAGE_RETENTION_DAYS/);
  }
  const dir = mkdtempSync(join(tmpdir(), 'backbone-usage-'));
  writeFileSync(join(dir, 'b.yaml'), 'usage:\n  queue_size: 5000\n');
  assert.throws(() => loadConfig({ ...base, BACKBONE_CONFIG: join(dir, 'b.yaml') }), /usage/);
});
