// `npm run demo` end to end: three real processes over mDNS (loopback) and TCP.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from '@jest/globals';
import { describeWithServer, within } from '@micro/testing';

describeWithServer('npm run demo', ['MICRO_TEST_MDNS_INTERFACE'], (env) => {
  it('shows both greeter instances answering, a stream, a 404, an event and a graceful stop', async () => {
    const child = spawn(process.execPath, [join(__dirname, '../dist/demo.js')], {
      env: {
        ...process.env,
        MICRO_DEMO_INTERFACE: env.MICRO_TEST_MDNS_INTERFACE,
        // Off the standard port, so it cannot meet another suite's mDNS traffic.
        MICRO_DEMO_MDNS_PORT: process.env.MICRO_TEST_DEMO_MDNS_PORT ?? '25353',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await within(
      new Promise<number | null>((resolve) => child.once('exit', resolve)),
      60_000,
      'the demo',
    );
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toContain('found 2 helloworld instance(s) through mDNS');
    const tally = /answers per instance: (.*)/.exec(output)?.[1] ?? '';
    expect(tally).toMatch(/greeter-1=\d+/);
    expect(tally).toMatch(/greeter-2=\d+/);
    expect(output).toContain('Greeter.Chat -> greeter-');
    expect(output).toContain('HOW ARE YOU?');
    expect(output).toContain('Greeter.Goodbye -> 404 Not Found');
    // The event crossed processes through the HTTP broker, to one member of the queue.
    expect(output.match(/user\.created: welcome Ada \(#1\)/g)).toHaveLength(1);
    expect(output.match(/service helloworld deregistered/g)).toHaveLength(2);
    expect(output).toContain('greeters stopped gracefully: true');
  }, 90_000);
});
