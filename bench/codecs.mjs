// Codec cost: encode, decode and encode+decode time per message for core's JSON
// codec, @micro/codec-msgpack and @micro/codec-bson, on representative payloads
// (an object with strings, numbers, booleans, nested arrays and objects) of about
// 100 B, 1 KiB and 64 KiB (measured as JSON).
//
// Usage: node bench/codecs.mjs [seconds per measurement, default 1]; 27
// measurements, so about half a minute at the default.
// It needs the codec packages built (`pnpm --filter @micro/codec-msgpack --filter
// @micro/codec-bson build`). It prints a markdown table, then one JSON line.
import os from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { jsonCodec } from '@micro/core';
import { formatNumber, median } from './lib/report.mjs';

const seconds = Number(process.argv[2] ?? 1);
if (!(seconds > 0))
  throw new TypeError(`seconds must be a positive number, got ${process.argv[2]}`);

/**
 * Imports a workspace codec; before `pnpm install` has linked it into bench/, from
 * its build output in packages/.
 */
async function load(name, folder) {
  try {
    return await import(name);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    const url = new URL(`../packages/${folder}/dist/index.js`, import.meta.url);
    return import(url.href).catch((cause) => {
      throw new Error(`${name} is neither installed in bench/ nor built in packages/${folder}`, {
        cause,
      });
    });
  }
}

const { msgpackCodec } = await load('@micro/codec-msgpack', 'codec-msgpack');
const { bsonCodec } = await load('@micro/codec-bson', 'codec-bson');
const codecs = [jsonCodec, msgpackCodec, bsonCodec];

/** An order-like document grown with line items until its JSON reaches `target` bytes. */
function payload(target) {
  if (target <= 128) {
    // About 100 bytes of JSON: the shape of a small request.
    return {
      id: 'ord-7f3a9c',
      customer: 'Ada',
      total: 19.99,
      paid: true,
      items: [{ qty: 2, dims: [3, 4] }],
    };
  }
  const value = {
    id: 'ord-7f3a9c',
    customer: 'Ada Lovelace',
    total: 0,
    paid: true,
    tags: ['priority', 'gift'],
    items: [],
  };
  for (let i = 0; JSON.stringify(value).length < target; i++) {
    value.items.push({
      sku: `sku-${(i * 7919) % 100_000}`,
      name: `Item number ${i}`,
      qty: (i % 5) + 1,
      price: Math.round(((i * 37) % 10_000) + 99) / 100,
      dims: [i % 30, (i * 3) % 40, (i * 7) % 50],
    });
    value.total = Math.round((value.total + value.items.at(-1).price) * 100) / 100;
  }
  return value;
}

const sizes = [
  ['~100 B', payload(100)],
  ['~1 KiB', payload(1024)],
  ['~64 KiB', payload(64 * 1024)],
];

let sink = 0;
const ROUNDS = 5;

/** Runs `work` in batches of 50 until `ms` have passed; returns ns per call. */
function run(work, ms) {
  let calls = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(ms * 1e6));
  let now = start;
  do {
    for (let i = 0; i < 50; i++) sink ^= work() ? 1 : 0;
    calls += 50;
    now = process.hrtime.bigint();
  } while (now < end);
  return Number(now - start) / calls;
}

// One case per payload, codec and operation. Each is warmed up, then timed in
// ROUNDS slices taken in turn with every other case, so a burst of load from
// elsewhere on the machine touches all of them alike; the median slice counts.
const cases = [];
for (const [label, value] of sizes) {
  const jsonBytes = jsonCodec.marshal(value).byteLength;
  for (const codec of codecs) {
    const encoded = codec.marshal(value);
    if (!isDeepStrictEqual(codec.unmarshal(encoded), value)) {
      throw new Error(`${codec.name} does not round-trip the ${label} payload`);
    }
    const row = { payload: label, jsonBytes, codec: codec.name, bytes: encoded.byteLength };
    cases.push(
      { row, op: 'encodeNs', work: () => codec.marshal(value), samples: [] },
      { row, op: 'decodeNs', work: () => codec.unmarshal(encoded), samples: [] },
      { row, op: 'roundTripNs', work: () => codec.unmarshal(codec.marshal(value)), samples: [] },
    );
  }
}
const sliceMs = (seconds * 1000) / ROUNDS;
for (const each of cases) run(each.work, Math.max(50, sliceMs));
for (let round = 0; round < ROUNDS; round++) {
  for (const each of cases) each.samples.push(run(each.work, sliceMs));
}
const rows = [...new Set(cases.map((each) => each.row))];
for (const each of cases) each.row[each.op] = Math.round(median(each.samples));
const results = rows.map((row) => ({
  ...row,
  roundTripsPerSec: Math.round(1e9 / row.roundTripNs),
}));

const micro = (ns) => (ns / 1000).toFixed(ns < 10_000 ? 2 : 1);
console.log(
  `Codec cost per message: median of ${ROUNDS} slices over ${seconds} s per measurement, after warm-up; load average ${os.loadavg()[0].toFixed(1)}; Node ${process.version}, ${process.platform}/${process.arch}\n`,
);
console.log(
  '| payload | codec | bytes | encode µs | decode µs | encode+decode µs | round trips/s |',
);
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.payload} (${r.jsonBytes} B JSON) | ${r.codec} | ${r.bytes} | ${micro(r.encodeNs)} | ${micro(r.decodeNs)} | ${micro(r.roundTripNs)} | ${formatNumber(r.roundTripsPerSec)} |`,
  );
}
console.log();
console.log(
  JSON.stringify({
    node: process.version,
    secondsPerMeasurement: seconds,
    rounds: ROUNDS,
    loadAverage: os.loadavg()[0],
    results,
  }),
);
if (sink === 2) console.log(''); // keeps the measured work observable
