import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { within } from '../helpers.js';

/** A child process started by {@link startChild}, with what it printed when ready. */
export interface Child<Ready> {
  process: ChildProcess;
  /** Resolves with the exit code once the process is gone. */
  exited: Promise<number | null>;
  ready: Ready;
}

/** A built entry of this package, found the way an app would find it. */
function entry(name: string): string {
  const require = createRequire(join(process.cwd(), 'index.js'));
  return join(dirname(require.resolve('@micro/testing/package.json')), 'dist/process', name);
}

/**
 * Starts one of this package's child entries (`main.js`, `register.js`) and waits
 * for the JSON line it prints when ready.
 * @param name the entry in dist/process
 * @param env variables added to this process's environment
 * @param what names the child in a timeout error
 */
export async function startChild<Ready>(
  name: string,
  env: Record<string, string>,
  what: string,
): Promise<Child<Ready>> {
  const child = spawn(process.execPath, [entry(name)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const ready = new Promise<Ready>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(JSON.parse(line) as Ready);
    });
    void exited.then((code) =>
      reject(new Error(`${what} exited with ${code} before it was ready: ${stderr}`)),
    );
  });
  try {
    return { process: child, exited, ready: await within(ready, 20_000, `${what} to start`) };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
