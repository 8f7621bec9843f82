/**
 * go-micro's HTTP broker on the wire (go-micro.dev/v6 `broker/http.go`): the
 * registry record of a subscription and the URL a message is POSTed to.
 */
import type { MicroError, Node, Service } from '@micro/core';

/** The registry service every HTTP broker subscription is registered under. */
export const SERVICE_NAME = 'micro.http.broker';

/** The version of a subscription without a queue: every such node gets every message. */
export const BROADCAST_VERSION = 'ff.http.broadcast';

/** go-micro's `DefaultPath`: where messages are POSTed. */
export const DEFAULT_PATH = '/';

/** The envelope header that names the topic (go-micro `headers.Message`). */
export const TOPIC_HEADER = 'Micro-Topic';

/**
 * The registry record of one subscription, field for field as go-micro's
 * `Subscribe` builds it (and in Go's JSON field order, with node metadata keys
 * sorted as Go writes a map).
 * @param topic the topic
 * @param queue the queue group; undefined or empty for broadcast
 * @param id the node id, `<topic>-<uuid>`
 * @param address the `host:port` publishers POST to
 * @param secure whether the listener serves HTTPS
 */
export function subscriberRecord(
  topic: string,
  queue: string | undefined,
  id: string,
  address: string,
  secure: boolean,
): Service {
  return {
    name: SERVICE_NAME,
    version: queue ? queue : BROADCAST_VERSION,
    metadata: null,
    endpoints: null,
    nodes: [{ metadata: { broker: 'http', secure: String(secure), topic }, id, address }],
  };
}

/** True for a node that is an HTTP broker subscriber of `topic` (go-micro's publish filter). */
export function subscribes(node: Node, topic: string): boolean {
  return node.metadata?.broker === 'http' && node.metadata?.topic === topic;
}

/**
 * Go's `url.QueryEscape`: everything but `A-Z a-z 0-9 - _ . ~` percent-encoded
 * (upper-case hex), a space as `+`.
 * @param text the value
 */
export function queryEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * The request path of a delivery: `/?id=<node id>`, as go-micro's publisher
 * writes it (`url.Values{"id": {id}}.Encode()`).
 * @param nodeId the subscriber's node id
 */
export function deliveryPath(nodeId: string): string {
  return `${DEFAULT_PATH}?id=${queryEscape(nodeId)}`;
}

/**
 * go-micro's error JSON for a response body.
 * @param error the error to send
 */
export function errorBody(error: MicroError): string {
  return JSON.stringify(error.toJSON());
}
