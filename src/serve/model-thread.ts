/**
 * The model's thread: loads the checkpoint (the pipeline's loader: folder, Hub id, dtype, device), runs one
 * warm-up forward, then runs the forwards the pipeline's thread (worker.ts) sends, one at a time, and nothing
 * else. ONNX Runtime's run blocks the thread that calls it, so keeping decoding and features off this thread
 * lets them go on while a forward runs.
 */
import { availableParallelism } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import '../node/index.js';
import { ASTForAudioClassification } from '../model/ast.js';
import { pipeline, type PipelineOptions } from '../pipeline/audio-classification.js';
import { float32Tensor } from '../tensor.js';
import { currentThreadId } from './thread-cpu.js';
import type { FromModelThread, ModelThreadInit, ToModelThread } from './protocol.js';

const port = parentPort!;
const init = workerData as ModelThreadInit;
const post = (m: FromModelThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

/**
 * ORT's intra-op threads spin after each parallel section by default, waiting for the next. Here they would spin
 * on cores the HTTP thread, the pipeline's thread and the clients need (measured on 2 cores, embedded model,
 * concurrency 8: 8.3 -> 4.9 ms of server CPU per clip with spinning off).
 */
const NO_SPINNING = { session: { 'intra_op.allow_spinning': '0' } };

/** Weights up to this size are session initializers (see below); the embedded model's are 2.3 MB, AST-Base's 346 MB. */
const SMALL_MODEL_BYTES = 64 * 2 ** 20;

async function main(): Promise<void> {
  const t0 = performance.now();
  // the pipeline checks the dtype and device (transformers.js's names) and refuses what the engine cannot do
  const classifier = await pipeline('audio-classification', init.model, {
    revision: init.revision,
    threads: init.threads,
    dtype: init.dtype as PipelineOptions['dtype'],
    device: init.device,
    sessionConfig: NO_SPINNING,
  });
  // A small model's forward is short, so feeding ~100 weight tensors at every run (the Node default, which keeps
  // loading copy-free) is a visible share of it: as initializers, prepacked once, the embedded model takes 2.0
  // instead of 2.4 ms of CPU per clip (batch 4). A large model keeps them as inputs: there the per-run cost is
  // lost in a forward of seconds, and initializers would hold a second copy of every weight.
  const loaded = classifier.model;
  const small = [...loaded.weights.values()].reduce((n, w) => n + w.data.byteLength, 0) <= SMALL_MODEL_BYTES;
  const rebuild = small && loaded.loadOptions.weights === 'inputs';
  // Without --threads, a small model's forwards leave one core to the HTTP and pipeline threads: decoding, features
  // and HTTP are then about half of the CPU per clip, and ORT's pool on every core made its threads wait on each
  // other (embedded model, 2 cores, c=8 and 32: 4.9 / 4.2 ms of server CPU per clip with 2 threads, 4.1 / 3.5 with 1).
  // A large model's forward is nearly all of it, so it keeps ORT's default (every core).
  const threads = init.threads ?? (rebuild ? Math.max(1, availableParallelism() - 1) : undefined);
  const model = rebuild ? await ASTForAudioClassification.fromWeights(loaded.config, loaded.weights, { ...loaded.loadOptions, weights: 'initializers', threads }) : loaded;
  if (model !== classifier.model) await classifier.dispose();
  const fe = classifier.featureExtractor.config;
  const numLabels = model.config.labels.length;
  const hidden = model.config.hidden_size;
  const t1 = performance.now();
  // readiness means one real forward has run (sessions built, kernels and buffers warmed)
  await model.forward({ inputValues: float32Tensor([1, fe.max_length, fe.num_mel_bins]) });
  const t2 = performance.now();

  port.on('message', (m: ToModelThread) => {
    void (async () => {
      try {
        // logits and the pooled output only: last_hidden_state stays in ORT (no copy, no garbage per forward)
        const out = await model.forward({ inputValues: float32Tensor(m.dims, m.inputValues), outputLastHiddenState: false });
        const B = m.dims[0];
        const rows = new Float32Array(B * (numLabels + hidden)); // [B, num_labels + hidden]
        for (let b = 0; b < B; b++) {
          rows.set(out.logits.data.subarray(b * numLabels, (b + 1) * numLabels), b * (numLabels + hidden));
          rows.set(out.poolerOutput.data.subarray(b * hidden, (b + 1) * hidden), b * (numLabels + hidden) + numLabels);
        }
        // the input goes back too: this thread allocates little, so it collects garbage rarely, and transferred
        // buffers would pile up here until it did (the pipeline's thread collects often)
        post({ type: 'output', seq: m.seq, rows, inputValues: m.inputValues }, [rows.buffer, m.inputValues.buffer as ArrayBuffer]);
      } catch (err) {
        post({ type: 'failed', seq: m.seq, message: err instanceof Error ? err.message : String(err) });
      }
    })();
  });

  post({
    type: 'ready',
    config: model.config.toJSON(),
    preprocessor: classifier.featureExtractor.toJSON(),
    loadSeconds: (t1 - t0) / 1000,
    warmupSeconds: (t2 - t1) / 1000,
    threadId: currentThreadId(),
    threads,
  });
}

main().catch((err: unknown) => post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) }));
