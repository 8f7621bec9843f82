// The worker's side of the IPC protocol of ./processes.mjs: messages are objects with
// a `type`; a failure is reported as { type: 'error', message } before exiting.

/**
 * Sends `message` to the orchestrator.
 * @returns a promise that settles once it is written (at once when the channel is gone)
 */
export function send(message) {
  return new Promise((resolve) => {
    if (!process.connected) resolve();
    else process.send(message, () => resolve());
  });
}

/** Reports `error` to the orchestrator and exits with status 1. */
export async function fail(error) {
  await send({ type: 'error', message: String(error?.stack ?? error) });
  process.exit(1);
}

/**
 * Makes this process a worker: an uncaught error is reported with `fail`, and the
 * process exits when the orchestrator is gone (killed, Ctrl-C).
 */
export function serveOrchestrator() {
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  process.on('disconnect', () => process.exit(1));
}

/** CPU time (user + system) this process has used, in µs. */
export function cpuMicros() {
  const { user, system } = process.cpuUsage();
  return user + system;
}
