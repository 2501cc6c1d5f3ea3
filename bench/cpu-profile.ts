/** Summarise a V8 `.cpuprofile` (from `node --cpu-prof`): top functions and areas by self time. */
import { readFileSync } from 'node:fs';
import { table } from './stats.js';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
/** Frames of the project's own code (src/), for the inclusive-time table. */
const OWN = /\/src\/[^/]/;
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** Where a script lives: Backbone's own module folder, a dependency, or Node itself. */
function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1]!;
  const own = /\/(src|bench)\/([^/]+)/.exec(url);
  if (own) return own[2]!.includes('.') ? `${own[1]}/${own[2]}` : `${own[1]}/${own[2]}/`;
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const dep = /node_modules\/(.*)$/.exec(url);
  if (dep) return dep[1]!;
  const own = /\/((?:src|bench)\/.*)$/.exec(url);
  if (own) return own[1]!;
  return url.replace(/^file:\/\//, '');
}

export function summarizeCpuProfile(path: string, top = 20): string {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n || n.callFrame.functionName === '(idle)') continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const key = url ? `${functionName || '(anonymous)'} — ${shortUrl(url)}:${lineNumber + 1}` : functionName || '(anonymous)';
    fns.set(key, (fns.get(key) ?? 0) + us);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
    total += us;
  }
  // inclusive time of the project's own functions: self time of every sample, charged once to each
  // distinct own frame on its stack
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const { functionName, url, lineNumber } = byId.get(cur)!.callFrame;
      if (!OWN.test(url) || url.includes('node_modules')) continue;
      const key = `${functionName || '(anonymous)'} — ${shortUrl(url)}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const rows = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k)
    .map(([name, us]) => [name.replace(/\|/g, '\\|'), (us / 1000).toFixed(0), ((100 * us) / total).toFixed(1)]);
  return `Busy (non-idle) CPU in the profile: ${(total / 1e6).toFixed(2)} s.\n\n`
    + `By area (self time):\n\n${table(['area', 'self ms', '%'], rows(areas, 15))}\n\n`
    + `Top ${top} functions by self time:\n\n${table(['function — location', 'self ms', '%'], rows(fns, top))}\n\n`
    + `Own code (src/) by inclusive time (the function and everything it calls synchronously):\n\n${table(['function — location', 'incl. ms', '%'], rows(inclusive, top))}\n`;
}
