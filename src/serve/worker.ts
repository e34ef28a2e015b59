/**
 * The model's thread: it owns the pipeline and the dynamic batcher, so decoding, features and forwards
 * never block the HTTP thread (health checks answer during a long batch). Every classify request runs the
 * ordinary pipeline (decode, windows, features, activation, top-k, aggregation); only its model's
 * `forward` is routed through the shared batcher, so windows of concurrent requests share forwards.
 */
import { parentPort, workerData } from 'node:worker_threads';
import '../node/index.js';
import { ASTForAudioClassification, type ASTOutput, type ForwardInput } from '../model/ast.js';
import { createAudioClassificationPipeline, pipeline, type AudioClassificationPipeline, type PipelineOptions } from '../pipeline/audio-classification.js';
import { loadInput } from '../pipeline/inputs.js';
import { frameCount, FRAME_LENGTH_MS } from '../pipeline/windows.js';
import { float32Tensor, type Float32Tensor } from '../tensor.js';
import { DynamicBatcher } from './dynamic-batcher.js';
import { BatchCancelledError } from '../pipeline/batcher.js';
import type { ClassifyRequestOptions, FailureKind, FromWorker, ToWorker, WorkerInit } from './protocol.js';

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

async function main(): Promise<void> {
  const t0 = performance.now();
  // the pipeline checks the dtype (transformers.js's names) and refuses what the engine cannot do
  const dtype = init.dtype as PipelineOptions['dtype'];
  const classifier = await pipeline('audio-classification', init.model, { revision: init.revision, threads: init.threads, dtype, device: init.device });
  const model = classifier.model;
  const fe = classifier.featureExtractor.config;
  const numLabels = model.config.labels.length;
  const hidden = model.config.hidden_size;
  const t1 = performance.now();
  // readiness means one real forward has run (sessions built, kernels and buffers warmed)
  await model.forward({ inputValues: float32Tensor([1, fe.max_length, fe.num_mel_bins]) });
  const t2 = performance.now();

  let forwards = 0;
  const failAt = new Set(init.failForwards);
  // One output row per window: [logits (num_labels) | pooled embedding (hidden)], so classify and embed
  // requests share batches.
  const forward = async (inputValues: Float32Tensor): Promise<Float32Tensor> => {
    const n = ++forwards;
    if (failAt.has(n)) throw new ForwardError(`forward #${n} failed (injected by AST_AUDIO_SERVE_FAIL_FORWARD)`);
    let out: ASTOutput & { logits: Float32Tensor };
    try {
      out = await model.forward({ inputValues });
    } catch (err) {
      throw new ForwardError(err instanceof Error ? err.message : String(err), { cause: err });
    }
    const B = inputValues.dims[0]!;
    const rows = new Float32Array(B * (numLabels + hidden)); // [B, num_labels + hidden]
    for (let b = 0; b < B; b++) {
      rows.set(out.logits.data.subarray(b * numLabels, (b + 1) * numLabels), b * (numLabels + hidden));
      rows.set(out.poolerOutput.data.subarray(b * hidden, (b + 1) * hidden), b * (numLabels + hidden) + numLabels);
    }
    return float32Tensor([B, numLabels + hidden], rows);
  };
  const batcher = new DynamicBatcher<number>(
    { maxBatch: init.maxBatch, maxDelayMs: init.maxDelayMs, maxLength: fe.max_length, numMelBins: fe.num_mel_bins },
    forward,
    (report) => post({ type: 'batch', report, pendingRows: batcher.pending }),
  );

  const cancelled = new Set<number>();

  /**
   * The pipeline's model for request `id`: the loaded model (by prototype: same config, same sessions)
   * whose forward sends the rows to the shared batcher and returns this request's logits only.
   */
  const requestModel = (id: number): ASTForAudioClassification => {
    const m = Object.create(model) as ASTForAudioClassification;
    m.forward = async ({ inputValues }: ForwardInput) => {
      if (cancelled.has(id)) throw new RequestCancelledError('the request timed out');
      const [B, T, M] = inputValues.dims as [number, number, number];
      const per = T * M;
      const rows = Array.from({ length: B }, (_, b) => inputValues.data.subarray(b * per, (b + 1) * per));
      const outs = await batcher.submit(id, rows).catch((err: unknown) => {
        throw err instanceof BatchCancelledError ? new RequestCancelledError(err.message) : err;
      });
      const logits = new Float32Array(B * numLabels);
      const pooled = new Float32Array(B * hidden);
      outs.forEach((o, b) => {
        logits.set(o.subarray(0, numLabels), b * numLabels);
        pooled.set(o.subarray(numLabels), b * hidden);
      });
      // the shared forward keeps only logits and the pooled output; no caller here reads hidden states
      return { logits: float32Tensor([B, numLabels], logits), poolerOutput: float32Tensor([B, hidden], pooled), lastHiddenState: float32Tensor([B, 0, hidden]) };
    };
    return m;
  };

  const classify = async (id: number, bytes: Uint8Array, options: ClassifyRequestOptions) => {
    const p: AudioClassificationPipeline = createAudioClassificationPipeline(classifier.featureExtractor, requestModel(id));
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
      const { inputValues } = classifier.featureExtractor.extract(wave, { samplingRate: rate, source: BODY });
      const [row] = await batcher.submit(id, [inputValues.data]);
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
    const run = m.type === 'classify' ? classify(m.id, m.bytes, m.options) : embed(m.id, m.bytes);
    void run.finally(() => {
      active.delete(m.id);
      cancelled.delete(m.id);
    });
  });

  post({
    type: 'ready',
    info: {
      labels: [...model.config.labels],
      maxLength: fe.max_length,
      numMelBins: fe.num_mel_bins,
      samplingRate: fe.sampling_rate,
      hiddenSize: hidden,
      functionToApply: classifier.functionToApply,
      functionReason: classifier.functionReason,
      loadSeconds: (t1 - t0) / 1000,
      warmupSeconds: (t2 - t1) / 1000,
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
