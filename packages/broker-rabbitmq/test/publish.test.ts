import { describe, expect, it } from '@jest/globals';
import { isMicroError } from '@micro/core';
import { publishProperties } from '../src/publish.js';

describe('publishProperties (go-micro rabbitmq Publish)', () => {
  it('sends the headers as string headers and no AMQP property by default', () => {
    const properties = publishProperties(
      { 'Content-Type': 'application/json', 'Micro-ID': 'id-1', 'Micro-Topic': 'orders' },
      {},
      false,
    );
    expect(properties).toEqual({
      headers: { 'Content-Type': 'application/json', 'Micro-ID': 'id-1', 'Micro-Topic': 'orders' },
    });
    // go-micro leaves DeliveryMode zero (unset) unless asked: transient
    expect(properties.deliveryMode).toBeUndefined();
    expect(properties.contentType).toBeUndefined();
  });

  it('copies the contentType option into the property and the Content-Type header, as go-micro', () => {
    expect(
      publishProperties({ 'Micro-ID': 'x' }, { contentType: 'application/protobuf' }, false),
    ).toEqual({
      headers: { 'Content-Type': 'application/protobuf', 'Micro-ID': 'x' },
      contentType: 'application/protobuf',
    });
  });

  it('lets a Content-Type header win over the option in the headers (go-micro copies headers last)', () => {
    const properties = publishProperties(
      { 'Content-Type': 'application/json' },
      { contentType: 'text/plain' },
      false,
    );
    expect(properties.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(properties.contentType).toBe('text/plain');
  });

  it('maps persistence: broker default, per-publish override', () => {
    expect(publishProperties({}, {}, true).deliveryMode).toBe(2);
    expect(publishProperties({}, { persistent: false }, true).deliveryMode).toBe(1);
    expect(publishProperties({}, { persistent: true }, false).deliveryMode).toBe(2);
  });

  it('maps the other go-micro publish options to AMQP properties', () => {
    const properties = publishProperties(
      {},
      {
        contentEncoding: 'gzip',
        priority: 5,
        correlationId: 'c-1',
        replyTo: 'replies',
        expiration: 60_000,
        messageId: 'm-1',
        timestamp: new Date(1_700_000_000_999),
        type: 'created',
        userId: 'guest',
        appId: 'orders-svc',
      },
      false,
    );
    expect(properties).toEqual({
      headers: {},
      contentEncoding: 'gzip',
      priority: 5,
      correlationId: 'c-1',
      replyTo: 'replies',
      expiration: '60000',
      messageId: 'm-1',
      timestamp: 1_700_000_000,
      type: 'created',
      userId: 'guest',
      appId: 'orders-svc',
    });
  });

  it('rejects a header name AMQP cannot carry and a bad priority with 400', () => {
    for (const attempt of [
      () => publishProperties({ ['h'.repeat(256)]: 'v' }, {}, false),
      () => publishProperties({}, { priority: 256 }, false),
      () => publishProperties({}, { priority: 1.5 }, false),
    ]) {
      let error: unknown;
      try {
        attempt();
      } catch (caught) {
        error = caught;
      }
      expect(isMicroError(error) && error.code).toBe(400);
    }
  });
});
