#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `transports.mjs --profile DIR`):
// where the samples fall, by package or area, and the functions with the most self
// and total time. Usage: node bench/transports/profile-summary.mjs FILE [top=25]
import { readFileSync } from 'node:fs';

const [file, topText] = process.argv.slice(2);
if (!file) {
  console.error('usage: node profile-summary.mjs FILE.cpuprofile [top]');
  process.exit(2);
}
const top = Number(topText ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parent.set(child, node.id);

const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const totalUs = [...self.values()].reduce((a, b) => a + b, 0);

function area(url) {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(.*?)(\/.*)?$/, 'node:$1');
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const ws = /\/packages\/([^/]+)\//.exec(url);
  if (ws) return `@micro/${ws[1]}`;
  const bench = /\/bench\/(.*)$/.exec(url);
  if (bench) return `bench/${bench[1]}`;
  return url;
}

function label(node) {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (!url) return name;
  return `${name} ${url.replace(/^.*\/(packages|node_modules)\//, '$1/').replace(/^file:\/\//, '')}:${lineNumber + 1}`;
}

const byArea = new Map();
const selfByFn = new Map();
const totalByFn = new Map();
for (const [id, us] of self) {
  const node = nodes.get(id);
  const a = area(node.callFrame.url);
  byArea.set(a, (byArea.get(a) ?? 0) + us);
  const l = label(node);
  selfByFn.set(l, (selfByFn.get(l) ?? 0) + us);
  // Count each function once per stack for total time.
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const fn = label(nodes.get(at));
    if (seen.has(fn)) continue;
    seen.add(fn);
    totalByFn.set(fn, (totalByFn.get(fn) ?? 0) + us);
  }
}

const pct = (us) => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
const print = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${pct(us)}  ${name}`);
  }
};
console.log(`${file}: ${(totalUs / 1e6).toFixed(2)} s sampled`);
print('by area (self time)', byArea, 20);
print('functions by self time', selfByFn, top);
print('functions by total time', totalByFn, top);
