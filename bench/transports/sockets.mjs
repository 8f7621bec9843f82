// Which TCP and UDP sockets this process holds, read from /proc (Linux), so the
// benchmark can check that every contender stays on loopback and that none of them
// binds a UDP socket (Moleculer's TCP transporter multicasts for discovery unless told
// not to).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TABLES = [
  ['tcp', '/proc/self/net/tcp'],
  ['tcp6', '/proc/self/net/tcp6'],
  ['udp', '/proc/self/net/udp'],
  ['udp6', '/proc/self/net/udp6'],
];

/** `0100007F:1F90` (little-endian words, as /proc writes them) to `127.0.0.1:8080`. */
function decodeAddress(text) {
  const [hex, portHex] = text.split(':');
  const port = Number.parseInt(portHex, 16);
  const words = [];
  for (let i = 0; i < hex.length; i += 8) {
    const word = hex.slice(i, i + 8);
    words.push(word.match(/../g).reverse().join(''));
  }
  const bytes = words
    .join('')
    .match(/../g)
    .map((byte) => Number.parseInt(byte, 16));
  if (bytes.length === 4) return { host: bytes.join('.'), port };
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255;
  if (mapped) return { host: `::ffff:${bytes.slice(12).join('.')}`, port };
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return { host: groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::'), port };
}

function isLoopback(host) {
  return (
    host.startsWith('127.') ||
    host.startsWith('::ffff:127.') ||
    host === '::1' ||
    host === '0:0:0:0:0:0:0:1'
  );
}

function isUnspecified(host) {
  return host === '0.0.0.0' || host === '::' || host === '0:0:0:0:0:0:0:0';
}

/**
 * @returns this process's inet sockets, `{ protocol, local, remote, listening }`
 *   (empty where /proc is not available)
 */
export function ownSockets() {
  let fds;
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  const inodes = new Set();
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  const sockets = [];
  for (const [protocol, file] of TABLES) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.has(fields[9])) continue;
      sockets.push({
        protocol,
        local: decodeAddress(fields[1]),
        remote: decodeAddress(fields[2]),
        // 0A is LISTEN for TCP; UDP sockets have no state worth reporting.
        listening: protocol.startsWith('tcp') && fields[3] === '0A',
      });
    }
  }
  return sockets;
}

/**
 * @returns what breaks the loopback rule: a UDP socket, a socket bound to a
 *   non-loopback address, or a connection to one
 */
export function loopbackViolations() {
  const problems = [];
  for (const socket of ownSockets()) {
    const local = `${socket.local.host}:${socket.local.port}`;
    if (socket.protocol.startsWith('udp')) {
      problems.push(`UDP socket bound to ${local}`);
      continue;
    }
    if (!isLoopback(socket.local.host)) problems.push(`TCP socket bound to ${local}`);
    if (
      !socket.listening &&
      !isUnspecified(socket.remote.host) &&
      !isLoopback(socket.remote.host)
    ) {
      problems.push(`TCP connection to ${socket.remote.host}:${socket.remote.port}`);
    }
  }
  return problems;
}
