/**
 * go-micro's RabbitMQ publishing (`broker/rabbitmq/rabbitmq.go` `Publish`): the
 * raw body, the headers as an AMQP table of strings, and the optional AMQP
 * properties of the publish options.
 */
import { Buffer } from 'node:buffer';
import { badRequest, ErrorIds, type Header } from '@micro/core';
import type { Options } from 'amqplib';
import { toAmqpHeaders } from './headers.js';
import type { RabbitMQPublishOptions } from './options.js';

/**
 * The amqplib publish options for a message: go-micro's mapping of headers and
 * publish options to AMQP properties.
 * - headers: every message header as a string; with `contentType`, also a
 *   `Content-Type` header (a `Content-Type` already in the headers wins, as the
 *   headers are copied last in go-micro too)
 * - properties: content type and encoding, delivery mode, priority, correlation
 *   id, reply-to, expiration, message id, timestamp, type, user id, app id
 * @param header the message headers
 * @param options per-publish properties
 * @param persistent the broker's default delivery mode (true: 2)
 * @returns the options to hand to `channel.publish`
 * @throws {@link MicroError} 400 for a header name longer than 255 bytes or a bad property
 */
export function publishProperties(
  header: Header,
  options: RabbitMQPublishOptions,
  persistent: boolean,
): Options.Publish {
  const table: Record<string, string> = {};
  if (options.contentType !== undefined) table['Content-Type'] = options.contentType;
  const headers = toAmqpHeaders(header);
  for (const key of Object.keys(headers)) {
    // 85 UTF-16 units are at most 255 UTF-8 bytes: only longer names are measured
    if (key.length > 85 && Buffer.byteLength(key) > 255) {
      throw badRequest(
        ErrorIds.broker,
        `rabbitmq: header name longer than 255 bytes: ${key.slice(0, 40)}…`,
      );
    }
    table[key] = headers[key]!;
  }
  const properties: Options.Publish = { headers: table };
  if (options.contentType !== undefined) properties.contentType = options.contentType;
  if (options.contentEncoding !== undefined) properties.contentEncoding = options.contentEncoding;
  const durable = options.persistent ?? (persistent ? true : undefined);
  // Unset, like go-micro's zero DeliveryMode: RabbitMQ treats it as transient
  if (durable !== undefined) properties.deliveryMode = durable ? 2 : 1;
  if (options.priority !== undefined) {
    if (!Number.isInteger(options.priority) || options.priority < 0 || options.priority > 255) {
      throw badRequest(ErrorIds.broker, `rabbitmq: priority must be an integer from 0 to 255`);
    }
    properties.priority = options.priority;
  }
  if (options.correlationId !== undefined) properties.correlationId = options.correlationId;
  if (options.replyTo !== undefined) properties.replyTo = options.replyTo;
  if (options.expiration !== undefined) properties.expiration = String(options.expiration);
  if (options.messageId !== undefined) properties.messageId = options.messageId;
  if (options.timestamp !== undefined) {
    properties.timestamp = Math.floor(options.timestamp.getTime() / 1000);
  }
  if (options.type !== undefined) properties.type = options.type;
  if (options.userId !== undefined) properties.userId = options.userId;
  if (options.appId !== undefined) properties.appId = options.appId;
  return properties;
}

/**
 * Checks a topic can be a routing key: a string of at most 255 bytes (AMQP shortstr).
 * @throws {@link MicroError} 400 otherwise
 */
export function checkTopic(topic: string): void {
  if (typeof topic !== 'string') {
    throw badRequest(ErrorIds.broker, 'rabbitmq: topic must be a string');
  }
  if (Buffer.byteLength(topic) > 255) {
    throw badRequest(
      ErrorIds.broker,
      `rabbitmq: topic longer than 255 bytes: ${topic.slice(0, 40)}…`,
    );
  }
}
