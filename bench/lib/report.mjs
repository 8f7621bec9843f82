// What the benchmark scripts report: medians, the machine, the versions measured,
// markdown tables, and the result files.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/** The median of `values` (the mean of the middle two of an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The machine a run is on: `{ cpu, cores, node, platform }`. */
export function describeMachine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}

/** "Node v20.20.2, 2 cores (AMD EPYC)", for the line a run starts with. */
export function nodeAndCores(machine) {
  return `Node ${machine.node}, ${machine.cores} cores (${machine.cpu})`;
}

/** The opening of a report: machine, start time, rounds and the time of a measurement. */
export function runSettings({ machine, startedAt, rounds, warmupMs, durationMs }) {
  return (
    `Node ${machine.node}, ${machine.platform}, ${machine.cores} cores (${machine.cpu}); ` +
    `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; median of ${rounds} rounds, ` +
    `${warmupMs} ms warm-up + ${durationMs} ms measured per measurement`
  );
}

/** The version of a package installed in bench/, or "(not installed)". */
export function installedVersion(name) {
  try {
    const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return JSON.parse(readFileSync(file, 'utf8')).version;
  } catch {
    return '(not installed)';
  }
}

/** 12,345; a dash for null. */
export function formatNumber(n) {
  return n === null ? '–' : n.toLocaleString('en-US');
}

/**
 * A table row for what could not be measured: `cells`, then the first line of
 * `error`, then `empty` empty cells.
 */
export function notRunRow(cells, error, empty) {
  const reason = error.split('\n')[0].replaceAll('|', '\\|');
  return `| ${cells.join(' | ')} | not run: ${reason} |${' |'.repeat(empty)}`;
}

/**
 * The "Failures:" section, nothing without failures.
 * @param failures `{ group, contender, messages }` as lib/rounds.mjs gives them
 * @param name failure => who failed, e.g. "http micro"
 */
export function failureLines(failures, rounds, name = (f) => `${f.group} ${f.contender}`) {
  if (failures.length === 0) return [];
  return [
    '',
    'Failures:',
    ...failures.map(
      (f) =>
        `- ${name(f)}: ${f.messages.length} of ${rounds} rounds; ${f.messages[0].split('\n')[0]}`,
    ),
  ];
}

/**
 * Prints the report made of `lines`, then writes it as `<name>.md` and `json` as
 * `<name>.json` into `folder`.
 */
export function writeReport(folder, name, json, lines) {
  const markdown = `${lines.join('\n')}\n`;
  console.log(`\n${markdown}`);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(folder, `${name}.md`), markdown);
  console.log(`wrote ${join(folder, `${name}.json`)} and ${name}.md`);
}
