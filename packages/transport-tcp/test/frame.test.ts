import { describe, expect, it } from '@jest/globals';
import {
  COPY_THRESHOLD,
  decodeHeaderBlock,
  FrameFlags,
  FrameReader,
  FrameType,
  FrameWriter,
  headerBlockSize,
  ProtocolError,
} from '../src/frame.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (...parts: string[]) => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');

function written(writer: FrameWriter): Buffer {
  return Buffer.concat(writer.take());
}

/** Collects what a reader hands up, copying each frame out. */
function collect(maxLength = 1 << 20) {
  const frames: Buffer[] = [];
  const views: { buffer: Buffer; start: number }[] = [];
  const reader = new FrameReader(
    {
      frame(buffer, start, length) {
        views.push({ buffer, start });
        frames.push(Buffer.from(buffer.subarray(start, start + 4 + length)));
      },
    },
    maxLength,
  );
  return { reader, frames, views };
}

describe('frame encoding, byte by byte', () => {
  it('writes a DATA frame: prefix, header block, body', () => {
    const writer = new FrameWriter();
    const length = writer.writeMessage(
      5,
      FrameType.Data,
      { 'Content-Type': 'application/json' },
      Buffer.from('{"a":1}'),
      65536,
    );
    expect(length).toBe(53);
    expect(hex(written(writer))).toBe(
      hex(
        bytes(
          '00000035', // length: 10 + 36 + 7 bytes follow
          '00000005', // stream id 5
          '01', // DATA
          '00', // flags
          '00000024', // header block: 36 bytes
          '0001', // one entry
          '000c', // key: 12 bytes
          '00000010', // value: 16 bytes
          Buffer.from('Content-Type').toString('hex'),
          Buffer.from('application/json').toString('hex'),
          Buffer.from('{"a":1}').toString('hex'),
        ),
      ),
    );
  });

  it('writes UTF-8 header text and its byte lengths, entries in insertion order', () => {
    const writer = new FrameWriter();
    writer.writeMessage(
      1,
      FrameType.Data,
      { 'X-Ü': 'héllo 你好', Empty: '' },
      new Uint8Array(0),
      65536,
    );
    const frame = written(writer);
    const block = frame.subarray(14, 14 + frame.readUInt32BE(10));
    expect(hex(block)).toBe(
      hex(
        Buffer.concat([
          bytes('0002'),
          bytes('0004', '0000000d'),
          Buffer.from('X-Ü'),
          Buffer.from('héllo 你好'),
          bytes('0005', '00000000'),
          Buffer.from('Empty'),
        ]),
      ),
    );
  });

  it('writes CLOSE, RESET and WINDOW frames with an empty header block', () => {
    const writer = new FrameWriter();
    writer.writeControl(7, FrameType.Close);
    writer.writeControl(7, FrameType.Reset, Buffer.from('{"code":413}'));
    writer.writeWindow(7, 65536);
    expect(hex(written(writer))).toBe(
      hex(
        bytes(
          '0000000a 00000007 02 00 00000000',
          '00000016 00000007 03 00 00000000',
          Buffer.from('{"code":413}').toString('hex'),
          '0000000e 00000007 04 00 00000000 00010000',
        ),
      ),
    );
  });

  it('refuses a header block over the limit and writes nothing', () => {
    const writer = new FrameWriter();
    expect(
      writer.writeMessage(1, FrameType.Data, { key: 'x'.repeat(100) }, new Uint8Array(0), 100),
    ).toBe(-1);
    // '€' is one character and three bytes: the limit is counted in bytes.
    expect(
      writer.writeMessage(1, FrameType.Data, { k: '€'.repeat(40) }, new Uint8Array(0), 100),
    ).toBe(-1);
    expect(writer.bytes).toBe(0);
    expect(writer.take()).toEqual([]);
    expect(headerBlockSize({ k: '€'.repeat(40) })).toBe(2 + 6 + 1 + 120);
  });

  it('encodes a header larger than its first reservation', () => {
    const writer = new FrameWriter();
    const header = { big: 'é'.repeat(3000), other: 'x' };
    const length = writer.writeMessage(1, FrameType.Data, header, Buffer.from('body'), 1 << 20);
    const frame = written(writer);
    expect(frame.length).toBe(4 + length);
    expect(decodeHeaderBlock(frame, 14, frame.readUInt32BE(10))).toEqual(header);
    expect(frame.subarray(frame.length - 4).toString()).toBe('body');
  });

  it('copies small bodies next to their prefix and queues large ones without copying', () => {
    const writer = new FrameWriter();
    const small = Buffer.alloc(COPY_THRESHOLD, 1);
    const large = Buffer.alloc(COPY_THRESHOLD + 1, 2);
    writer.writeMessage(1, FrameType.Data, {}, small, 1024);
    writer.writeMessage(2, FrameType.Data, {}, large, 1024);
    writer.writeControl(2, FrameType.Close);
    const chunks = writer.take();
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toBe(large); // the caller's own buffer, not a copy
    expect(chunks[0]!.length).toBe(2 * 16 + COPY_THRESHOLD);
  });

  it('puts the frames of one tick in one contiguous buffer', () => {
    const writer = new FrameWriter();
    for (let i = 1; i <= 10; i++)
      writer.writeMessage(i, FrameType.Data, { n: String(i) }, Buffer.from('x'), 1024);
    const single = writer.takeSingle();
    expect(single).toBeDefined();
    const { reader, frames } = collect();
    reader.push(single!);
    expect(frames.map((f) => f.readUInt32BE(4))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('folds a CLOSE into the last DATA frame while it is unwritten (the END flag)', () => {
    const writer = new FrameWriter();
    writer.writeMessage(3, FrameType.Data, {}, Buffer.from('bye'), 1024);
    const at = {
      buffer: writer.lastFlagsBuffer,
      offset: writer.lastFlagsAt,
      generation: writer.generation,
    };
    expect(writer.setFlags(at.buffer, at.offset, at.generation, FrameFlags.End)).toBe(true);
    const frame = written(writer);
    expect(frame[9]).toBe(FrameFlags.End);
    // Once taken (handed to the socket), a frame is never touched again.
    writer.writeMessage(3, FrameType.Data, {}, Buffer.from('again'), 1024);
    const later = {
      buffer: writer.lastFlagsBuffer,
      offset: writer.lastFlagsAt,
      generation: writer.generation,
    };
    const taken = written(writer);
    expect(writer.setFlags(later.buffer, later.offset, later.generation, FrameFlags.End)).toBe(
      false,
    );
    expect(taken[9]).toBe(0);
  });

  it('coerces non-string header values written from JavaScript, and skips undefined ones', () => {
    const writer = new FrameWriter();
    const header = { n: 5, missing: undefined } as unknown as Record<string, string>;
    writer.writeMessage(1, FrameType.Data, header, new Uint8Array(0), 1024);
    const frame = written(writer);
    expect(decodeHeaderBlock(frame, 14, frame.readUInt32BE(10))).toEqual({ n: '5' });
  });
});

describe('header block decoding', () => {
  const encode = (header: Record<string, string>) => {
    const writer = new FrameWriter();
    writer.writeMessage(1, FrameType.Data, header, new Uint8Array(0), 1 << 20);
    const frame = written(writer);
    return frame.subarray(14, 14 + frame.readUInt32BE(10));
  };

  it('round-trips names and values exactly, case kept', () => {
    const header = {
      'Content-Type': 'application/json',
      'Micro-Endpoint': 'Greeter.Hello',
      'x-lower': 'v',
      'X-Unicode': 'héllo 你好 🎉',
      Empty: '',
      ['long'.repeat(30)]: 'value'.repeat(100),
    };
    const block = encode(header);
    expect(decodeHeaderBlock(block, 0, block.length)).toEqual(header);
    // Decoding again (through the string cache) gives the same answer.
    expect(decodeHeaderBlock(block, 0, block.length)).toEqual(header);
  });

  it('never confuses two strings that share a cache slot', () => {
    // Same length, first, middle and last byte: the same slot; the bytes differ.
    const a = encode({ aXcdefg: 'v1' });
    const b = encode({ aYcdefg: 'v2' });
    for (let i = 0; i < 3; i++) {
      expect(decodeHeaderBlock(a, 0, a.length)).toEqual({ aXcdefg: 'v1' });
      expect(decodeHeaderBlock(b, 0, b.length)).toEqual({ aYcdefg: 'v2' });
    }
  });

  it('keeps a __proto__ header as a plain entry', () => {
    const block = Buffer.concat([bytes('0001', '0009', '00000001'), Buffer.from('__proto__x')]);
    const header = decodeHeaderBlock(block, 0, block.length);
    expect(Object.keys(header)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(header, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(header)).toBe(Object.prototype);
  });

  it('rejects text that is not UTF-8', () => {
    const block = Buffer.concat([
      bytes('0001', '0002', '00000001'),
      bytes('fffe'),
      Buffer.from('v'),
    ]);
    expect(() => decodeHeaderBlock(block, 0, block.length)).toThrow(ProtocolError);
    expect(() => decodeHeaderBlock(block, 0, block.length)).toThrow(/UTF-8/);
  });

  it('rejects lengths that overrun or do not fill the block', () => {
    const overrun = Buffer.concat([bytes('0001', '0001', '000000ff'), Buffer.from('kv')]);
    expect(() => decodeHeaderBlock(overrun, 0, overrun.length)).toThrow(/overruns/);
    const trailing = Buffer.concat([bytes('0001', '0001', '00000001'), Buffer.from('kvEXTRA')]);
    expect(() => decodeHeaderBlock(trailing, 0, trailing.length)).toThrow(/add up/);
    const missing = bytes('0002', '0001', '00000001', '6b76');
    expect(() => decodeHeaderBlock(missing, 0, missing.length)).toThrow(/overruns/);
    expect(() => decodeHeaderBlock(bytes('00'), 0, 1)).toThrow(ProtocolError);
  });

  it('reads an empty header block as no headers', () => {
    expect(decodeHeaderBlock(Buffer.alloc(0), 0, 0)).toEqual({});
    expect(decodeHeaderBlock(bytes('0000'), 0, 2)).toEqual({});
  });
});

describe('FrameReader', () => {
  function stream() {
    const writer = new FrameWriter();
    writer.writeMessage(1, FrameType.Data, { a: 'b' }, Buffer.from('first'), 1024);
    writer.writeControl(1, FrameType.Close);
    writer.writeMessage(2, FrameType.Data, {}, Buffer.alloc(5000, 7), 1024);
    writer.writeWindow(2, 100);
    return written(writer);
  }

  it('cuts many frames out of one chunk, as views of that chunk', () => {
    const bytes = stream();
    const { reader, frames, views } = collect();
    reader.push(bytes);
    expect(frames.map((f) => f[8])).toEqual([
      FrameType.Data,
      FrameType.Close,
      FrameType.Data,
      FrameType.Window,
    ]);
    expect(views.every((view) => view.buffer === bytes)).toBe(true);
    expect(reader.midFrame).toBe(false);
  });

  it('reassembles frames split at every possible byte boundary', () => {
    const bytes = stream();
    const { reader: whole, frames: expected } = collect();
    whole.push(bytes);
    for (const size of [1, 2, 3, 5, 13, 14, 15, 1000, 4999]) {
      const { reader, frames } = collect();
      for (let at = 0; at < bytes.length; at += size) reader.push(bytes.subarray(at, at + size));
      expect(frames.map(hex)).toEqual(expected.map(hex));
    }
  });

  it('refuses a length over the limit from the prefix alone, naming the stream', () => {
    const { reader, frames } = collect(1000);
    const prefix = bytes('80000000', '00000009', '01', '00', '00000000'); // claims 2 GiB
    let error: unknown;
    try {
      reader.push(prefix);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(413);
    expect((error as ProtocolError).streamId).toBe(9);
    expect(frames).toEqual([]);
  });

  it('refuses an oversized length even when the length itself arrives split', () => {
    const { reader } = collect(1000);
    reader.push(bytes('7f'));
    expect(() => reader.push(bytes('ffffff'))).toThrow(/exceeds the limit/);
  });

  it('refuses a length shorter than a frame prefix', () => {
    const { reader } = collect();
    expect(() => reader.push(bytes('00000009', '000000000000000000'))).toThrow(
      /shorter than a frame prefix/,
    );
  });

  it('reports a frame left unfinished and ignores everything after stop', () => {
    const bytes = stream();
    const { reader, frames } = collect();
    reader.push(bytes.subarray(0, 20));
    expect(reader.midFrame).toBe(true);
    reader.stop();
    reader.push(bytes.subarray(20));
    expect(frames).toEqual([]);
  });
});
