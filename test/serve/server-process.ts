/** A real `ast-audio serve` process on a free 127.0.0.1 port (--port 0), for the serve tests and the bench. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/fixtures.js';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** pino's JSON lines so far (stdout); none with `discardLogs`. */
  logs(): Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

/**
 * `nodeArgs` go to node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses). `discardLogs`: the server's stdout goes
 * to /dev/null, so a bench does not spend its own CPU (on the cores the server uses) reading the log lines.
 */
export async function startServer(args: string[], env: Record<string, string> = {}, readyTimeoutMs = 60_000, nodeArgs: string[] = [], discardLogs = false): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', discardLogs ? 'ignore' : 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve not ready after ${readyTimeoutMs} ms:\n${err}`)), readyTimeoutMs);
    const check = () => {
      const m = /ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before it was ready:\n${err}`));
    });
  });
  return {
    url,
    child,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stderr: () => err,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
