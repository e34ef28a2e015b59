/**
 * The HTTP edge (fastify): routes, limits and errors over the model's worker thread. One instance per
 * `createServer` call; no global state, so tests and embedders may run several.
 */
import { readFileSync } from 'node:fs';
import { destination, type DestinationStream } from 'pino';
import { endianness } from 'node:os';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { ActivationFunction } from '../pipeline/audio-classification.js';
import type { Aggregation } from '../pipeline/windows.js';
import { ServeMetrics } from './metrics.js';
import { InferenceError, ModelWorker } from './model-worker.js';
import { openApiDocument } from './openapi.js';
import { currentThreadId } from './thread-cpu.js';
import type { ClassifyRequestOptions, ModelInfo, WorkerInit } from './protocol.js';

/** What the model's thread needs (WorkerInit), plus the HTTP side's limits. */
export interface ServeOptions extends Omit<WorkerInit, 'failForwards'> {
  maxQueue: number;
  maxBodyMb: number;
  timeoutS: number;
  /** See WorkerInit.failForwards. */
  failForwards?: number[];
  logger?: FastifyServerOptions['logger'];
}

export interface Server {
  app: FastifyInstance;
  /** Resolves once the model is loaded and warmed up; rejects when it cannot load. */
  ready: Promise<ModelInfo>;
  /** Stop accepting, answer every accepted request, stop the model's thread. */
  close(): Promise<void>;
}

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The routes, for 405 (a known path, another method) and the OpenAPI document. */
const ROUTES: Record<string, string[]> = {
  '/classify': ['POST'],
  '/embed': ['POST'],
  '/health/live': ['GET', 'HEAD'],
  '/health/ready': ['GET', 'HEAD'],
  '/info': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
  '/openapi.json': ['GET', 'HEAD'],
};

interface ClassifyQuery {
  top_k?: string;
  function?: ActivationFunction;
  window?: number;
  hop?: number;
  aggregate?: Aggregation;
  timeline?: boolean;
}

const classifyQuerySchema = {
  type: 'object',
  properties: {
    top_k: { type: 'string', pattern: '^([1-9][0-9]*|all)$' },
    function: { type: 'string', enum: ['softmax', 'sigmoid', 'none'] },
    window: { type: 'number', exclusiveMinimum: 0 },
    hop: { type: 'number', exclusiveMinimum: 0 },
    aggregate: { type: 'string', enum: ['mean', 'max', 'first'] },
    timeline: { type: 'boolean' },
  },
} as const;

const AUDIO_TYPES = /^(audio\/[\w.+-]+|application\/octet-stream)$/i;

export function createServer(o: ServeOptions): Server {
  const bodyLimit = Math.floor(o.maxBodyMb * 1024 * 1024);
  const metrics = new ServeMetrics(o.maxBatch);
  let nextRequest = 1;
  const logStream = o.logger === undefined ? bufferedStdout() : undefined;
  const app = Fastify({
    logger: o.logger ?? { level: 'info', stream: logStream!.stream },
    bodyLimit,
    genReqId: () => `req-${nextRequest++}`,
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  const worker = new ModelWorker(
    { model: o.model, revision: o.revision, dtype: o.dtype, device: o.device, threads: o.threads, maxBatch: o.maxBatch, maxDelayMs: o.maxDelayMs, failForwards: o.failForwards ?? [] },
    (report, pending) => {
      metrics.observeBatch(report, pending);
      if (report.error !== undefined) app.log.error({ batchSize: report.size, err: report.error }, 'forward failed; its requests get 500');
    },
  );
  let info: ModelInfo | undefined;
  let loadError: Error | undefined;
  const ready = worker.ready.then(
    (i) => {
      info = i;
      metrics.setThreads({ http: currentThreadId(), ...i.threadIds });
      app.log.info({ loadSeconds: i.loadSeconds, warmupSeconds: i.warmupSeconds, labels: i.labels.length }, 'model ready');
      return i;
    },
    (err: Error) => {
      loadError = err;
      app.log.error({ err: err.message }, 'the model failed to load');
      throw err;
    },
  );
  ready.catch(() => {});

  // ---------------------------------------------------------------- bodies, limits, errors
  app.addContentTypeParser(AUDIO_TYPES, { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
  void app.register(multipart, { limits: { fileSize: bodyLimit, files: 1, fields: 0, parts: 1 } });

  let inflight = 0;
  /** Admission for inference routes, before the body is read: not ready -> 503, queue full -> 429. */
  const admit = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!info) {
      return reply.code(503).header('retry-after', '1').send(problem(loadError ? 'model failed to load' : 'not ready', loadError?.message ?? 'the model is still loading'));
    }
    if (inflight >= o.maxQueue) {
      metrics.rejected.inc({ reason: 'queue_full' });
      return reply.code(429).header('retry-after', '1').send(problem('queue full', `${inflight} requests are waiting (--max-queue ${o.maxQueue}); retry later`));
    }
    inflight++;
    metrics.queueDepth.set(inflight);
    reply.raw.once('close', () => {
      inflight--;
      metrics.queueDepth.set(inflight);
    });
    request.log.debug({ inflight }, 'admitted');
  };

  let closing = false;
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // while draining, each answered connection closes, so the drain does not wait out keep-alive timeouts
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.requests.inc({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) });
    if (closing) app.server.closeIdleConnections();
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = ROUTES[path];
    if (allowed) return reply.code(405).header('allow', allowed.join(', ')).send(problem('method not allowed', `${request.method} ${path}: use ${allowed.join(' or ')}`));
    return reply.code(404).send(problem('not found', `no route ${request.method} ${path}; see GET /openapi.json`));
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof InferenceError) {
      if (err.kind === 'bad-input') return reply.code(400).send(problem('bad audio', err.message));
      if (err.kind === 'cancelled') return reply.code(503).header('retry-after', '1').send(problem('timeout', `not answered within --timeout-s ${o.timeoutS} s`));
      request.log.error({ err: err.message }, 'inference failed');
      return reply.code(500).send(problem('inference failed', err.message));
    }
    if (err.validation) return reply.code(400).send(problem('bad request', err.message));
    const status = err.statusCode ?? 500;
    if (status === 413) return reply.code(413).send(problem('payload too large', `the body is over --max-body-mb ${o.maxBodyMb} (${bodyLimit} bytes)`));
    if (status >= 400 && status < 500) return reply.code(status).send(problem(err.code ?? 'bad request', err.message));
    request.log.error({ err }, 'unexpected error');
    return reply.code(500).send(problem('internal error', err.message));
  });

  /** The audio bytes of a raw body or of a multipart form's `file` field. */
  const audioBytes = async (request: FastifyRequest): Promise<Uint8Array> => {
    if (request.isMultipart()) {
      const file = await request.file();
      if (!file) throw new InferenceError('bad-input', 'multipart form has no file; send the audio as the "file" field');
      if (file.fieldname !== 'file') throw new InferenceError('bad-input', `multipart field "${file.fieldname}": send the audio as the "file" field`);
      const bytes = await file.toBuffer();
      // toBuffer can miss the limit when busboy flags the stream as truncated after its last chunk was read
      if (file.file.truncated) throw Object.assign(new Error('request file too large'), { statusCode: 413 });
      return bytes;
    }
    const body = request.body;
    if (!(body instanceof Uint8Array)) {
      const type = request.headers['content-type'] ?? 'none';
      const detail = `Content-Type ${type}: send the audio file as the body (audio/* or application/octet-stream) or as multipart field "file"`;
      throw Object.assign(new Error(detail), { statusCode: 415, code: 'unsupported media type' });
    }
    return body;
  };

  /** Aborts on --timeout-s or when the client goes away, whichever first; the worker drops the request's queued windows. */
  const deadline = (reply: FastifyReply): AbortSignal => {
    // one controller and one timer, cleared when the reply closes: AbortSignal.any over AbortSignal.timeout cost
    // about a tenth of the HTTP thread's time per request under load (CPU profile, embedded model, c=8)
    const done = new AbortController();
    const timer = setTimeout(() => done.abort(`not answered within --timeout-s ${o.timeoutS}`), o.timeoutS * 1000);
    reply.raw.once('close', () => {
      clearTimeout(timer);
      if (!reply.raw.writableFinished) done.abort('the client went away');
    });
    return done.signal;
  };

  // ---------------------------------------------------------------- routes
  app.post<{ Querystring: ClassifyQuery }>('/classify', { onRequest: admit, schema: { querystring: classifyQuerySchema } }, async (request, reply) => {
    const q = request.query;
    const options: ClassifyRequestOptions = {
      topK: q.top_k === undefined ? undefined : q.top_k === 'all' ? null : Number(q.top_k),
      functionToApply: q.function,
      window: q.window,
      hop: q.hop,
      aggregate: q.aggregate,
    };
    const result = await worker.classify(await audioBytes(request), options, deadline(reply), inflight);
    // the Hugging Face Inference API's audio-classification answer, or labels plus per-window labels
    return q.timeline ? result : result.labels;
  });

  app.post('/embed', { onRequest: admit }, async (request, reply) => {
    const embedding = await worker.embed(await audioBytes(request), deadline(reply), inflight);
    if (request.headers.accept?.includes('application/octet-stream')) {
      const bytes = Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength);
      if (endianness() !== 'LE') for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
      return reply.type('application/octet-stream').header('x-embedding-dims', String(embedding.length)).send(bytes);
    }
    return { embedding: Array.from(embedding), hidden_size: embedding.length };
  });

  app.get('/health/live', async () => ({ status: 'live' }));
  app.get('/health/ready', async (_request, reply) => {
    if (info && worker.alive) return { status: 'ready' };
    if (info) return reply.code(503).send({ status: 'failed', detail: 'the model worker thread has exited' });
    return reply.code(503).send({ status: loadError ? 'failed' : 'loading', detail: loadError?.message ?? 'the model is loading and warming up' });
  });
  app.get('/info', async (_request, reply) => {
    if (!info) return reply.code(503).send(problem('not ready', loadError?.message ?? 'the model is still loading'));
    return {
      model: o.model ?? 'models/speech-commands (embedded)',
      revision: o.revision ?? null,
      dtype: o.dtype,
      device: o.device ?? 'cpu',
      // ONNX Runtime's intra-op threads for the forwards (null: ORT's default, one per physical core)
      threads: info.threads ?? null,
      labels: info.labels,
      num_labels: info.labels.length,
      function_to_apply: info.functionToApply,
      max_length: info.maxLength,
      num_mel_bins: info.numMelBins,
      sampling_rate: info.samplingRate,
      hidden_size: info.hiddenSize,
      version: VERSION,
      limits: { max_batch: o.maxBatch, max_delay_ms: o.maxDelayMs, max_queue: o.maxQueue, max_body_mb: o.maxBodyMb, timeout_s: o.timeoutS },
    };
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.get('/openapi.json', async () => openApiDocument(VERSION));

  return {
    app,
    ready,
    close: async () => {
      closing = true;
      await app.close(); // stops accepting; resolves once every accepted request is answered
      await worker.close();
      logStream?.close();
    },
  };
}

/** How long a log line may wait in the buffer below (an idle server's last lines, say). */
const LOG_FLUSH_MS = 200;

/**
 * pino's stdout, written in chunks of 4 KB or every LOG_FLUSH_MS, not a write(2) per line: fastify logs two lines per
 * request, and synchronous writes to a pipe were the largest item of the HTTP thread's profile under load (and each
 * one wakes the reader). pino flushes what is left when the process exits, hard exits included.
 */
function bufferedStdout(): { stream: DestinationStream; close(): void } {
  const stream = destination({ dest: 1, sync: false, minLength: 4096 });
  const timer = setInterval(() => stream.flush(), LOG_FLUSH_MS);
  timer.unref();
  return {
    stream,
    close: () => {
      clearInterval(timer);
      stream.flushSync();
    },
  };
}

function problem(error: string, detail: string): { error: string; detail: string } {
  return { error, detail };
}
