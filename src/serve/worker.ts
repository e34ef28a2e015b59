/**
 * The pipeline's thread: it owns the dynamic batcher and runs the ordinary pipeline for every request (decode,
 * windows, features, activation, top-k, aggregation), so none of that blocks the HTTP thread (health checks
 * answer during a long batch). The pipeline's classifier here is the narrow AudioClassifier whose forward
 * submits the request's windows to the shared batcher, so windows of concurrent requests share forwards; each
 * batch goes to the model's thread (model-thread.ts), which only runs forwards, so while one runs this thread
 * decodes and extracts the features of the next requests.
 */
import { parentPort, workerData, type Worker } from 'node:worker_threads';
import '../node/index.js';
import { ASTFeatureExtractor } from '../audio/feature-extractor.js';
import { ASTConfig } from '../model/config.js';
import { createAudioClassificationPipeline, defaultFunctionToApply, type AudioClassifier } from '../pipeline/audio-classification.js';
import { loadInput } from '../pipeline/inputs.js';
import { frameCount, FRAME_LENGTH_MS } from '../pipeline/windows.js';
import { float32Tensor, type Float32Tensor } from '../tensor.js';
import { DynamicBatcher } from './dynamic-batcher.js';
import { BatchCancelledError } from '../pipeline/batcher.js';
import { startThread } from './threads.js';
import { currentThreadId } from './thread-cpu.js';
import type { ClassifyRequestOptions, FailureKind, FromModelThread, FromWorker, ModelThreadInit, ToModelThread, ToWorker, WorkerInit } from './protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

/** A forward that failed: 500 for the requests of that batch; anything else a request hits is its input's fault. */
class ForwardError extends Error {}
/** The request's own input is unusable (400). */
class BadInputError extends Error {}
/**
 * The request timed out and its windows were dropped. Its own class, not the batcher's
 * BatchCancelledError, which the pipeline reads as "my own cancellation" and so ignores.
 */
class RequestCancelledError extends Error {}

const BODY = 'request body';

/** The model's thread: its description once loaded, and a forward ([B, T, M] -> [B, num_labels + hidden]) run there. */
interface RemoteModel {
  config: ASTConfig;
  extractor: ASTFeatureExtractor;
  loadSeconds: number;
  warmupSeconds: number;
  threadId?: number;
  threads?: number;
  forward(inputValues: Float32Tensor): Promise<Float32Tensor>;
}

function startModelThread(): Promise<RemoteModel> {
  const { model, revision, dtype, device, threads } = init;
  const thread: Worker = startThread('model-thread', { model, revision, dtype, device, threads } satisfies ModelThreadInit);
  const waiting = new Map<number, { resolve: (rows: Float32Array) => void; reject: (err: Error) => void }>();
  let seq = 0;
  return new Promise((resolve, reject) => {
    thread.on('message', (m: FromModelThread) => {
      if (m.type === 'ready') {
        const config = ASTConfig.fromJSON(m.config);
        const width = config.labels.length + config.hidden_size;
        resolve({
          config,
          extractor: ASTFeatureExtractor.fromConfig(m.preprocessor),
          loadSeconds: m.loadSeconds,
          warmupSeconds: m.warmupSeconds,
          threadId: m.threadId,
          threads: m.threads,
          forward: (x) =>
            new Promise<Float32Array>((res, rej) => {
              const n = ++seq;
              waiting.set(n, { resolve: res, reject: rej });
              // a batch of several rows was stacked into a buffer of its own: hand it over rather than copy it. A batch of
              // one row is that row itself, which may be a view into a request's own batch whose other rows still
              // wait in the batcher: that one is copied (transferring would detach them).
              const own = x.data.byteOffset === 0 && x.data.byteLength === x.data.buffer.byteLength;
              const data = own ? x.data : x.data.slice();
              thread.postMessage({ type: 'forward', seq: n, inputValues: data, dims: x.dims as [number, number, number] } satisfies ToModelThread, [data.buffer as ArrayBuffer]);
            }).then((rows) => float32Tensor([x.dims[0]!, width], rows)),
        });
      } else if (m.type === 'fatal') reject(new Error(m.message));
      else {
        const w = waiting.get(m.seq);
        waiting.delete(m.seq);
        if (m.type === 'output') w?.resolve(m.rows);
        else w?.reject(new ForwardError(m.message));
      }
    });
    thread.on('error', reject);
    thread.on('exit', (code) => {
      const err = new Error(`the model's thread exited (code ${code})`);
      reject(err);
      for (const w of waiting.values()) w.reject(new ForwardError(err.message));
      waiting.clear();
      process.exit(1); // this thread too: the HTTP side then reports the server as not ready
    });
  });
}

async function main(): Promise<void> {
  const remote = await startModelThread();
  const { config, extractor } = remote;
  const fe = extractor.config;
  const numLabels = config.labels.length;
  const hidden = config.hidden_size;

  let forwards = 0;
  const failAt = new Set(init.failForwards);
  // One output row per window: [logits (num_labels) | pooled embedding (hidden)], so classify and embed
  // requests share batches.
  const forward = async (inputValues: Float32Tensor): Promise<Float32Tensor> => {
    const n = ++forwards;
    if (failAt.has(n)) throw new ForwardError(`forward #${n} failed (injected by AST_AUDIO_SERVE_FAIL_FORWARD)`);
    return remote.forward(inputValues);
  };
  /** Requests in this thread that are decoding or extracting features, so more rows are on their way. */
  let preparing = 0;
  /** What the HTTP side last said it had accepted: more than this thread holds means more requests are on their way. */
  let admitted = 0;
  const batcher = new DynamicBatcher<number>(
    { maxBatch: init.maxBatch, maxDelayMs: init.maxDelayMs, maxLength: fe.max_length, numMelBins: fe.num_mel_bins, moreComing: () => preparing > 0 || admitted > active.size },
    forward,
    (report) => post({ type: 'batch', report, pendingRows: batcher.pending }),
  );

  const cancelled = new Set<number>();

  /** A request's wait for its rows' outputs: it is not preparing rows meanwhile (decremented before submit kicks the batcher). */
  const waiting = async <T>(submit: () => Promise<T>): Promise<T> => {
    preparing--;
    try {
      return await submit();
    } finally {
      preparing++;
    }
  };

  /** Request `id`'s classifier for the pipeline: its windows go to the shared batcher; it gets its own logits back. */
  const requestClassifier = (id: number): AudioClassifier => ({
    config,
    forward: async ({ inputValues }) => {
      if (cancelled.has(id)) throw new RequestCancelledError('the request timed out');
      const [B, T, M] = inputValues.dims as [number, number, number];
      const per = T * M;
      const rows = Array.from({ length: B }, (_, b) => inputValues.data.subarray(b * per, (b + 1) * per));
      const outs = await waiting(() => batcher.submit(id, rows)).catch((err: unknown) => {
        throw err instanceof BatchCancelledError ? new RequestCancelledError(err.message) : err;
      });
      const logits = new Float32Array(B * numLabels); // [B, num_labels]
      outs.forEach((o, b) => logits.set(o.subarray(0, numLabels), b * numLabels));
      return { logits: float32Tensor([B, numLabels], logits) };
    },
  });

  const classify = async (id: number, bytes: Uint8Array, options: ClassifyRequestOptions) => {
    const p = createAudioClassificationPipeline(extractor, requestClassifier(id));
    let result: FromWorker | undefined;
    try {
      for await (const item of p.run([bytes], { ...options, batchSize: init.maxBatch })) {
        result = item.error
          ? failure(id, item.error)
          : { type: 'classified', id, result: { labels: item.labels!, windows: item.windows! } };
      }
    } catch (err) {
      result = failure(id, new BadInputError(errorMessage(err), { cause: err })); // options the pipeline refused
    }
    post(result ?? failure(id, new Error('no result')));
  };

  const embed = async (id: number, bytes: Uint8Array) => {
    try {
      const rate = fe.sampling_rate;
      const wave = await loadInput(bytes, rate, BODY);
      if (frameCount(wave.length, rate) < 1) throw new BadInputError(`${BODY}: ${wave.length} samples is shorter than one ${FRAME_LENGTH_MS} ms analysis frame`);
      // one window, as Hugging Face embeds a clip: truncated or padded to max_length frames
      const { inputValues } = extractor.extract(wave, { samplingRate: rate, source: BODY });
      const [row] = await waiting(() => batcher.submit(id, [inputValues.data]));
      const embedding = row!.slice(numLabels);
      port.postMessage({ type: 'embedded', id, embedding } satisfies FromWorker, [embedding.buffer]);
    } catch (err) {
      post(failure(id, err));
    }
  };

  const active = new Set<number>();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'cancel') {
      if (!active.has(m.id)) return; // already answered
      cancelled.add(m.id);
      batcher.cancel(m.id, 'the request timed out');
      return;
    }
    active.add(m.id);
    admitted = m.admitted;
    preparing++;
    const run = m.type === 'classify' ? classify(m.id, m.bytes, m.options) : embed(m.id, m.bytes);
    void run.finally(() => {
      preparing--;
      active.delete(m.id);
      cancelled.delete(m.id);
    });
  });

  const byCheckpoint = defaultFunctionToApply(config);
  post({
    type: 'ready',
    info: {
      labels: [...config.labels],
      maxLength: fe.max_length,
      numMelBins: fe.num_mel_bins,
      samplingRate: fe.sampling_rate,
      hiddenSize: hidden,
      functionToApply: byCheckpoint.functionToApply,
      functionReason: byCheckpoint.reason,
      loadSeconds: remote.loadSeconds,
      warmupSeconds: remote.warmupSeconds,
      threads: remote.threads,
      threadIds: { pipeline: currentThreadId(), model: remote.threadId },
    },
  });
}

function failure(id: number, err: unknown): FromWorker {
  return { type: 'failed', id, kind: failureKind(err), message: errorMessage(err).replace(/^bytes #0\b/, BODY) };
}

function failureKind(err: unknown): FailureKind {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ForwardError) return 'forward';
    if (e instanceof BatchCancelledError || e instanceof RequestCancelledError) return 'cancelled';
  }
  return 'bad-input';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

main().catch((err: unknown) => post({ type: 'fatal', message: errorMessage(err) }));
