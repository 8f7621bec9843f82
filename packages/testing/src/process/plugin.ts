/** How a child process builds the plugin under test. */
export interface PluginModule {
  /** An absolute path or file URL of the plugin's built entry. */
  module: string;
  /** The factory export, e.g. `createTcpTransport` or `createEtcdRegistry`. */
  factory: string;
  /** JSON options passed to the factory. */
  options?: Record<string, unknown>;
}

/**
 * Imports a plugin's built entry and returns its factory.
 * @throws Error when the module lacks the named export
 */
export async function loadFactory<T>(spec: PluginModule): Promise<(options: unknown) => T> {
  const { pathToFileURL } = await import('node:url');
  const url = spec.module.startsWith('file:') ? spec.module : pathToFileURL(spec.module).href;
  const plugin = (await import(url)) as Record<string, (options: unknown) => T>;
  const factory = plugin[spec.factory];
  if (!factory) throw new Error(`${spec.module} has no export ${spec.factory}`);
  return factory;
}

/** Runs a child process's main, reporting a failure on stderr with exit status 1. */
export function runMain(what: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(
      `${what} failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  });
}
