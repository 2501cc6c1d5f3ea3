/** `npm run bench`: every benchmark, one report (Markdown tables on stdout). */
import { benchKeyVerification } from './key-verification.js';
import { benchGateway } from './gateway.js';
import { benchLimits } from './limits.js';
import { benchRevoke, benchWorkers } from './scale-out.js';

const only = process.argv[2];
const sections: [string, () => Promise<string>][] = [
  ['keys', benchKeyVerification],
  ['limits', () => benchLimits()],
  ['gateway', benchGateway],
  ['workers', benchWorkers],
  ['revoke', benchRevoke],
];
console.log(`# Backbone benchmark — ${new Date().toISOString()}, Node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
for (const [name, run] of sections) {
  if (only && only !== name) continue;
  console.log(await run());
}
