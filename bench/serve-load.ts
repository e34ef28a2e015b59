/**
 * The serve bench's load generator: a closed loop of C clients on one undici Pool (C keep-alive connections,
 * no pipelining, bodies built once), each sending its next request when the last is answered. It runs on the
 * same cores as the server, so it is kept cheap and reports its own CPU per request: global fetch (undici behind
 * WHATWG streams, a Request and a Response object per call) cost several times what Pool.request does.
 */
import { Pool } from 'undici';

export interface LoadResult {
  concurrency: number;
  requests: number;
  clipsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** This process's CPU (the load generator's own) per request. */
  clientCpuMsPerRequest: number;
}

export class LoadGenerator {
  private readonly pool: Pool;
  private readonly bodies: Buffer[];

  constructor(
    readonly url: string,
    bodies: readonly Uint8Array[],
    maxConcurrency: number,
    private readonly path = '/classify',
  ) {
    this.pool = new Pool(url, { connections: maxConcurrency, pipelining: 1, keepAliveTimeout: 60_000 });
    this.bodies = bodies.map((b) => Buffer.from(b));
  }

  /** `concurrency` clients share `total` requests, or send until `forMs` has passed. */
  async drive(concurrency: number, total: number, forMs = Infinity): Promise<LoadResult> {
    const latencies: number[] = [];
    let next = 0;
    let errors = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const client = async () => {
      while (next < total && performance.now() - t0 < forMs) {
        const body = this.bodies[next++ % this.bodies.length]!;
        const t = performance.now();
        try {
          const res = await this.pool.request({ path: this.path, method: 'POST', body, headers: { 'content-type': 'audio/wav' } });
          await res.body.dump();
          if (res.statusCode !== 200) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, client));
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    return {
      concurrency,
      requests: latencies.length,
      clipsPerSecond: latencies.length / wall,
      p50Ms: q(0.5),
      p99Ms: q(0.99),
      errors,
      clientCpuMsPerRequest: (cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length),
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
