import { describe, expect, it } from '@jest/globals';
import { formatGoValue, fromAmqpHeaders, toAmqpHeaders } from '../src/headers.js';

describe('toAmqpHeaders (go-micro Publish: msg.Header copied into amqp.Table)', () => {
  it('keeps every header as a string with its name and case unchanged', () => {
    const header = {
      'Content-Type': 'application/json',
      'Micro-ID': '9b2a',
      'Micro-Topic': 'orders',
      'x-lower': 'v',
      Empty: '',
    };
    const table = toAmqpHeaders(header);
    expect(table).toEqual(header);
    expect(Object.keys(table)).toEqual(Object.keys(header));
    expect(table).not.toBe(header);
  });
});

describe('fromAmqpHeaders (go-micro subscriber: fmt.Sprintf("%v") per value)', () => {
  it('passes string headers through and sets Micro-Topic from the routing key when missing', () => {
    expect(fromAmqpHeaders({ 'Content-Type': 'application/json' }, 'orders.created')).toEqual({
      'Content-Type': 'application/json',
      'Micro-Topic': 'orders.created',
    });
    expect(fromAmqpHeaders(undefined, 'orders')).toEqual({ 'Micro-Topic': 'orders' });
  });

  it('keeps a Micro-Topic the publisher set and replaces an empty one', () => {
    expect(fromAmqpHeaders({ 'Micro-Topic': 'original' }, 'routed')['Micro-Topic']).toBe(
      'original',
    );
    expect(fromAmqpHeaders({ 'Micro-Topic': '' }, 'routed')['Micro-Topic']).toBe('routed');
  });

  it('stringifies non-string table values as Go prints them', () => {
    const header = fromAmqpHeaders(
      {
        count: 42,
        negative: -7,
        ratio: 0.25,
        flag: true,
        nothing: null,
        bytes: Buffer.from([1, 2, 255]),
        list: ['a', 1, false],
        nested: { b: 2, a: 'x' },
        stamp: { '!': 'timestamp', value: 1_700_000_000 },
        price: { '!': 'decimal', value: { places: 2, digits: 12345 } },
      },
      't',
    );
    expect(header).toEqual({
      count: '42',
      negative: '-7',
      ratio: '0.25',
      flag: 'true',
      nothing: '<nil>',
      bytes: '[1 2 255]',
      list: '[a 1 false]',
      nested: 'map[a:x b:2]',
      stamp: '2023-11-14 22:13:20 +0000 UTC',
      price: '{2 12345}',
      'Micro-Topic': 't',
    });
  });
});

describe('formatGoValue (Go %v)', () => {
  it.each([
    [1.5, '1.5'],
    [123456.5, '123456.5'],
    [1234567.5, '1.2345675e+06'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [-2.5e-10, '-2.5e-10'],
    [1e300, '1e+300'],
    [3, '3'],
    [9007199254740991, '9007199254740991'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, '+Inf'],
    [Number.NEGATIVE_INFINITY, '-Inf'],
    [10n, '10'],
    [false, 'false'],
    [undefined, '<nil>'],
    [[], '[]'],
    [{}, 'map[]'],
    [[Buffer.from([7]), { k: [1, 2] }], '[[7] map[k:[1 2]]]'],
    [new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), '2024-01-02 03:04:05 +0000 UTC'],
  ])('%p prints as %p', (value, expected) => {
    expect(formatGoValue(value)).toBe(expected);
  });
});
