import { type BrokerMessage, badRequest, ErrorIds, encodeEnvelope } from '@micro/core';

/**
 * Encodes a message as go-micro's NATS payload: the JSON of Go's `broker.Message`,
 * `{"Header":{…},"Body":"<base64>"}`, byte for byte as Go's `json.Marshal` writes
 * it (header keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`…).
 * This is core's {@link encodeEnvelope}; the name is kept for existing callers.
 *
 * @param message the message to publish
 * @returns the payload bytes
 * @throws {@link MicroError} 400 when a header value is not a string
 * @example
 * encodeMessage({ header: { 'Micro-Topic': 'events' }, body: Buffer.from('hi') });
 * // {"Header":{"Micro-Topic":"events"},"Body":"aGk="}
 */
export function encodeMessage(message: BrokerMessage): Uint8Array {
  return encodeEnvelope(message);
}

/** Whitespace and control characters split a NATS protocol line, so they never belong in a subject. */
function hasBreaker(text: string): boolean {
  if (/\s/.test(text)) return true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * Checks that a topic is a valid NATS subject. go-micro passes topics to NATS as
 * they are; a space would silently turn `PUB a b` into a publish with a reply
 * subject, and `SUB a b` into a queue group, so such topics are refused here.
 * @param topic the topic
 * @param wildcards whether `*` and `>` tokens are allowed (subscribe: yes, publish: no)
 * @throws {@link MicroError} 400 for an empty topic, whitespace, an empty token or a
 *   misplaced wildcard
 */
export function checkTopic(topic: string, wildcards: boolean): void {
  const fail = (why: string): never => {
    throw badRequest(ErrorIds.broker, `nats: invalid topic ${JSON.stringify(topic)}: ${why}`);
  };
  if (typeof topic !== 'string' || topic.length === 0) fail('it is empty');
  if (hasBreaker(topic)) fail('NATS subjects cannot contain whitespace');
  const tokens = topic.split('.');
  tokens.forEach((token, i) => {
    if (token.length === 0) fail('it has an empty token (a leading, trailing or double dot)');
    if (token === '*' || token === '>') {
      if (!wildcards) fail(`a published subject cannot contain the wildcard ${token}`);
      if (token === '>' && i !== tokens.length - 1) fail('> must be the last token');
    }
  });
}

/**
 * Checks a queue group name.
 * @param queue the name
 * @throws {@link MicroError} 400 when it contains whitespace
 */
export function checkQueue(queue: string): void {
  if (typeof queue !== 'string' || hasBreaker(queue)) {
    throw badRequest(
      ErrorIds.broker,
      `nats: invalid queue ${JSON.stringify(queue)}: NATS queue groups cannot contain whitespace`,
    );
  }
}
