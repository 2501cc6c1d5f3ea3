// Node test-runner reporter: counts leaf tests and prints one closing line
// "N passed, N failed, N skipped". Suites are not counted; a file that fails to load counts as failed.
export default async function* summary(source) {
  let passed = 0, failed = 0, skipped = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    if (d.details?.type === 'suite') {
      // a suite that failed outside its tests (hook error, load error) still counts as a failure
      if (event.type === 'test:fail' && d.details?.error?.failureType !== 'subtestsFailed') failed++;
      continue;
    }
    if (d.skip !== undefined || d.todo !== undefined) skipped++;
    else if (event.type === 'test:pass') passed++;
    else failed++;
  }
  yield `\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`;
}
