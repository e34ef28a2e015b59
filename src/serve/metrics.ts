/** Prometheus metrics (prom-client), one registry per server so tests and embedders can run several. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BatchReport } from './dynamic-batcher.js';
import { threadCpuSeconds } from './thread-cpu.js';

const PREFIX = 'ast_audio_';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  /** Inference requests accepted and not yet answered (what --max-queue bounds). */
  readonly queueDepth: Gauge;
  /** Windows waiting in the worker for a forward. */
  readonly pendingWindows: Gauge;
  readonly batchSize: Histogram;
  readonly queueWait: Histogram;
  readonly compute: Histogram;
  readonly forwardFailures: Counter;
  readonly rejected: Counter<'reason'>;
  /** Kernel thread ids of the server's own threads, once known (Linux); the rest of the process is 'other'. */
  private threads: Partial<Record<ServerThread, number>> = {};

  constructor(maxBatch: number) {
    const registers = [this.registry];
    this.requests = new Counter({ name: `${PREFIX}http_requests_total`, help: 'HTTP requests answered, by route, method and status', labelNames: ['route', 'method', 'status'], registers });
    this.queueDepth = new Gauge({ name: `${PREFIX}queue_depth`, help: 'Inference requests accepted and not yet answered', registers });
    this.pendingWindows = new Gauge({ name: `${PREFIX}pending_windows`, help: 'Windows waiting for a forward after the last batch ran', registers });
    const sizes = Array.from(new Set([1, 2, 4, 8, 16, 32, 64, maxBatch])).filter((b) => b <= maxBatch).sort((a, b) => a - b);
    this.batchSize = new Histogram({ name: `${PREFIX}batch_size`, help: 'Windows per forward', buckets: sizes, registers });
    const seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.queueWait = new Histogram({ name: `${PREFIX}queue_wait_seconds`, help: 'Seconds a window waited between submission and the start of its forward', buckets: seconds, registers });
    this.compute = new Histogram({ name: `${PREFIX}compute_seconds`, help: 'Seconds per forward (one batch)', buckets: seconds, registers });
    this.forwardFailures = new Counter({ name: `${PREFIX}forward_failures_total`, help: 'Forwards that failed (their requests got 500)', registers });
    this.rejected = new Counter({ name: `${PREFIX}rejected_total`, help: 'Inference requests refused before inference, by reason', labelNames: ['reason'], registers });
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    const threads = () => this.threads;
    const seen: Record<string, number> = {};
    new Counter({
      name: `${PREFIX}thread_cpu_seconds_total`,
      help: "CPU seconds by thread: http (fastify), pipeline (decode, features, batcher), model (forwards), other (ONNX Runtime's pool, GC, libuv; Linux only)",
      labelNames: ['thread'],
      registers,
      collect() {
        // a counter read from the kernel: add what each thread used since the last scrape
        const total = process.cpuUsage();
        const now: Record<string, number> = { other: (total.user + total.system) / 1e6 };
        for (const [name, tid] of Object.entries(threads())) {
          const s = tid === undefined ? undefined : threadCpuSeconds(tid);
          if (s === undefined) continue;
          now[name] = s;
          now.other! -= s;
        }
        if (Object.keys(now).length === 1) return; // no thread could be read (not Linux)
        for (const [thread, s] of Object.entries(now)) {
          const delta = s - (seen[thread] ?? 0);
          if (delta > 0) {
            this.inc({ thread }, delta);
            seen[thread] = s;
          }
        }
      },
    });
  }

  /** The kernel ids of the HTTP, pipeline and model threads (see thread-cpu.ts). */
  setThreads(ids: Partial<Record<ServerThread, number>>): void {
    this.threads = ids;
  }

  observeBatch(report: BatchReport, pendingRows: number): void {
    this.batchSize.observe(report.size);
    for (const w of report.waitSeconds) this.queueWait.observe(w);
    this.compute.observe(report.computeSeconds);
    if (report.error !== undefined) this.forwardFailures.inc();
    this.pendingWindows.set(pendingRows);
  }
}

export type ServerThread = 'http' | 'pipeline' | 'model';
