/**
 * go-micro's RabbitMQ header mapping: message headers travel as AMQP header
 * table entries (strings), and every received table value is turned back into a
 * string the way Go's `fmt.Sprintf("%v", v)` prints what amqp091-go decoded.
 */
import type { Header } from '@micro/core';

/** The header go-micro fills from the routing key when a message arrives without it. */
export const TOPIC_HEADER = 'Micro-Topic';

/**
 * The AMQP header table for a message: every header as a string, names and case
 * unchanged (go-micro's `Publish` copies `msg.Header` into `amqp.Table`).
 * @param header the message headers
 * @returns a new table; the input is not modified
 * @example
 * toAmqpHeaders({ 'Content-Type': 'application/json', 'Micro-ID': 'abc' })
 * // { 'Content-Type': 'application/json', 'Micro-ID': 'abc' }
 */
export function toAmqpHeaders(header: Header): Record<string, string> {
  const table: Record<string, string> = {};
  for (const key of Object.keys(header)) table[key] = String(header[key]);
  return table;
}

/**
 * The message headers of a delivery: each AMQP table value printed as go-micro
 * prints it (`%v`), and `Micro-Topic` set from the routing key when it is missing
 * or empty, as go-micro's subscriber does.
 * @param table the delivery's `properties.headers` (may be undefined)
 * @param routingKey the delivery's routing key
 * @returns string headers
 * @example
 * fromAmqpHeaders({ 'X-Count': 3 }, 'orders')
 * // { 'X-Count': '3', 'Micro-Topic': 'orders' }
 */
export function fromAmqpHeaders(
  table: Readonly<Record<string, unknown>> | undefined,
  routingKey: string,
): Header {
  const header: Header = {};
  if (table) {
    for (const key of Object.keys(table)) header[key] = formatGoValue(table[key]);
  }
  if (!header[TOPIC_HEADER]) header[TOPIC_HEADER] = routingKey;
  return header;
}

/**
 * Prints an AMQP field value decoded by amqplib the way Go's `%v` prints the
 * value amqp091-go decodes from the same bytes: strings as they are, booleans
 * `true`/`false`, void `<nil>`, byte arrays `[1 2 3]`, arrays `[a b]`, tables
 * `map[k:v]` (keys sorted), decimals `{scale value}`, timestamps
 * `2006-01-02 15:04:05 +0000 UTC`, integers in decimal and floats in Go's
 * shortest `%g` form (`1.5`, `1e-05`, `1.234567e+06`).
 *
 * amqplib decodes every numeric type to a JavaScript number, so an integral
 * float (`2.0`) prints as an integer (`2`), which is also what Go prints; only an
 * integral float of 1e6 or more differs (Go `1e+06`, here `1000000`).
 * @param value a decoded table value
 * @returns its Go `%v` text
 */
export function formatGoValue(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'number':
      return formatGoNumber(value);
    case 'object':
      break;
    default:
      return String(value);
  }
  // Realm-independent checks: values may come from another realm's Buffer/Date
  if (ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return `[${Array.from(bytes).join(' ')}]`;
  }
  if (Array.isArray(value)) return `[${value.map(formatGoValue).join(' ')}]`;
  if (Object.prototype.toString.call(value) === '[object Date]') {
    return formatGoTime((value as Date).getTime());
  }
  const record = value as Record<string, unknown>;
  const typed = record['!'];
  if (typeof typed === 'string' && 'value' in record) {
    if (typed === 'timestamp' && typeof record.value === 'number') {
      // AMQP timestamps are seconds since the epoch
      return formatGoTime(record.value * 1000);
    }
    if (typed === 'decimal' && typeof record.value === 'object' && record.value !== null) {
      const decimal = record.value as { places?: unknown; digits?: unknown };
      return `{${formatGoValue(decimal.places)} ${formatGoValue(decimal.digits)}}`;
    }
    return formatGoValue(record.value);
  }
  // Go prints maps with their keys sorted
  const keys = Object.keys(record).sort();
  return `map[${keys.map((key) => `${key}:${formatGoValue(record[key])}`).join(' ')}]`;
}

function formatGoNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return value.toFixed(0);
  // Go's %v for a float is %g with the shortest precision: exponent form when
  // the decimal exponent is < -4 or >= 6 (strconv uses 6 as eprec for shortest)
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(value);
}

function formatGoTime(milliseconds: number): string {
  if (!Number.isFinite(milliseconds)) return String(milliseconds);
  const iso = new Date(milliseconds).toISOString(); // 2006-01-02T15:04:05.000Z
  const fraction = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''} +0000 UTC`;
}
