/**
 * Where the time went in a V8 .cpuprofile (from `npm run bench -- --profile <name>`):
 *
 *   node --import tsx bench/profile-top.ts bench/results/profiles/*.cpuprofile [--top=25]
 *
 * Prints, per profile, the functions with the most self time and the most inclusive time
 * (self + callees, counted once per sample even under recursion), as % of the sampled time.
 */
import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { REPO_DIR } from './lib.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (!url) return name;
  const path = url.startsWith('file://') ? relative(REPO_DIR, new URL(url).pathname) : url;
  return `${name} ${path.replace(/^node_modules\//, '~/')}:${lineNumber + 1}`;
}

function analyse(path: string, top: number): void {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const node = byId.get(id)!;
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + dt);
    }
  });
  const pct = (v: number) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
  const idle = self.get('(idle)') ?? 0;
  console.log(
    `\n${basename(path)}: ${(total / 1e6).toFixed(2)} s sampled, ${pct(total - idle)} busy`,
  );
  console.log('  self time:');
  for (const [l, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`    ${pct(v)}  ${l}`);
  }
  console.log('  inclusive time:');
  for (const [l, v] of [...inclusive]
    .filter(([l]) => l !== '(root)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    console.log(`    ${pct(v)}  ${l}`);
  }
}

const args = process.argv.slice(2);
const topArg = args.find((a) => a.startsWith('--top='));
const top = topArg ? Number(topArg.slice(6)) : 25;
const files = args.filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  console.error('usage: profile-top.ts <file.cpuprofile> ... [--top=N]');
  process.exit(2);
}
for (const file of files) analyse(file, top);
