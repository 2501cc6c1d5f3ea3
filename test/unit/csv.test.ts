import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField, toCsv } from '../../src/http/csv.js';

test('CSV fields: quoted when needed, quotes doubled, formulas defused, null empty', () => {
  assert.equal(csvField('gpt-4o'), 'gpt-4o');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('=1+1'), "'=1+1");
  assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvField('-2+3'), "'-2+3");
  assert.equal(csvField('=A1,B1'), `"'=A1,B1"`);
  assert.equal(csvField(-1), '-1', 'numbers are numbers');
  assert.equal(csvField(0.0036), '0.0036');
  assert.equal(csvField(null), '');
  assert.equal(toCsv(['a', 'b'], [[1, 'x'], [null, 'y,z']]), 'a,b\r\n1,x\r\n,"y,z"\r\n');
});
