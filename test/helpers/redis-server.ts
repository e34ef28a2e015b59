/**
 * A real `redis-server` for a test: on a free loopback port, in a temp folder, without persistence
 * (`--save '' --appendonly no`), stopped (and its folder removed) by `stop()`. Not a mock: the queue
 * tests exercise BullMQ's Lua scripts, locks and stalled-job recovery on the server users run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  port: number;
  url(queueName: string): string;
  /** INFO's `used_memory` in bytes (via redis-cli), for the README's memory-per-job figure. */
  usedMemory(): number;
  stop(): Promise<void>;
}

export const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

/** Whether a redis-server binary is here (the CI script installs Debian's when missing). */
export function haveRedisServer(): boolean {
  return spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function waitForReady(child: ChildProcess, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`redis-server on port ${port} not ready after 10 s:\n${log}`)), 10_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server on port ${port} exited with code ${code}:\n${log}`));
    });
  });
}

export async function startRedisServer(): Promise<RedisServer> {
  let lastError: unknown;
  // A port found free can be taken before redis binds it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'ast-redis-'));
    const child = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'notice'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await waitForReady(child, port);
    } catch (err) {
      lastError = err;
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    child.stdout?.resume();
    child.stderr?.resume();
    return {
      port,
      url: (name) => `redis://127.0.0.1:${port}/${name}`,
      usedMemory() {
        const r = spawnSync('redis-cli', ['-p', String(port), 'INFO', 'memory'], { encoding: 'utf8' });
        const m = /used_memory:(\d+)/.exec(r.stdout);
        if (!m) throw new Error(`redis-cli INFO memory: ${r.stderr || r.stdout}`);
        return Number(m[1]);
      },
      stop: () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            rmSync(dir, { recursive: true, force: true });
            resolve();
            return;
          }
          child.once('exit', () => {
            rmSync(dir, { recursive: true, force: true });
            resolve();
          });
          child.kill('SIGTERM');
        }),
    };
  }
  throw lastError instanceof Error ? lastError : new Error('redis-server did not start');
}
