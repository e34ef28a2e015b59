/** `ast-audio serve`: the HTTP inference service (src/serve) started from the command line. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DTYPE_HELP, deviceOption, modelDtype, positiveInteger, threadsOption } from './options.js';
import { DEFAULT_MODEL_DIR } from '../pipeline/audio-classification.js';
import { createServer, type ServeOptions } from '../serve/app.js';

export interface ServeCliOptions extends Omit<ServeOptions, 'failForwards' | 'logger'> {
  host: string;
  port: number;
}

/** After SIGTERM/SIGINT, accepted requests get this long beyond --timeout-s to be answered before a hard exit. */
const DRAIN_GRACE_S = 5;

const EXAMPLES = `
Examples:
  $ ast-audio serve                                     # embedded speech-commands model on http://127.0.0.1:8000
  $ ast-audio serve -m MIT/ast-finetuned-audioset-10-10-0.4593 --port 8080 --max-batch 16
  $ curl -s --data-binary @models/speech-commands/examples/yes.wav -H 'Content-Type: audio/wav' 'http://127.0.0.1:8000/classify?top_k=3'

Routes: POST /classify, POST /embed, GET /health/live, /health/ready, /info, /metrics, /openapi.json.
Logs are JSON lines (pino) on stdout; the ready line with the URL goes to stderr.
SIGTERM or SIGINT: stop accepting, answer every accepted request, exit 0.`;

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve a checkpoint over HTTP: /classify and /embed with dynamic batching, health and metrics')
    .option('-m, --model <id|dir>', `Hugging Face Hub id or local checkpoint folder (default: the embedded ${DEFAULT_MODEL_DIR})`)
    .option('--revision <rev>', 'Hub branch, tag or commit (default: main)')
    .option('--dtype <dtype>', DTYPE_HELP, modelDtype, 'fp32')
    .addOption(deviceOption())
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', parsePort, 8000)
    .option('--max-batch <n>', 'most windows in one forward', positiveInteger('--max-batch'), 8)
    .option('--max-delay-ms <ms>', 'longest wait for a batch to fill', parseNonNegative('--max-delay-ms'), 5)
    .option('--max-queue <n>', 'inference requests accepted at once; more get 429', positiveInteger('--max-queue'), 256)
    .option('--max-body-mb <mb>', 'largest request body; larger gets 413', parsePositive('--max-body-mb'), 64)
    .option('--timeout-s <s>', 'a request not answered within this gets 503', parsePositive('--timeout-s'), 60)
    .option('-t, --threads <n>', 'ONNX Runtime intra-op threads (default: ONNX Runtime decides)', threadsOption)
    .addHelpText('after', EXAMPLES)
    .action(async (opts: ServeCliOptions) => {
      process.exitCode = await serveCommand(opts);
    });
}

export async function serveCommand(opts: ServeCliOptions): Promise<number> {
  const server = createServer({
    model: opts.model,
    revision: opts.revision,
    dtype: opts.dtype,
    maxBatch: opts.maxBatch,
    maxDelayMs: opts.maxDelayMs,
    maxQueue: opts.maxQueue,
    maxBodyMb: opts.maxBodyMb,
    timeoutS: opts.timeoutS,
    threads: opts.threads,
    device: opts.device,
    failForwards: (process.env.AST_AUDIO_SERVE_FAIL_FORWARD ?? '').split(',').filter(Boolean).map(Number),
  });
  const { app } = server;
  let stopping: Promise<number> | undefined;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      const graceS = opts.timeoutS + DRAIN_GRACE_S;
      app.log.info({ signal, graceS }, 'stopping: no new requests; answering the accepted ones');
      const hard = setTimeout(() => {
        app.log.error({ graceS }, 'drain deadline passed: exiting with requests unanswered');
        process.exit(1);
      }, graceS * 1000);
      hard.unref();
      await server.close();
      app.log.info('stopped');
      return 0;
    })();
    return stopping;
  };
  // listen first, so /health/live and /health/ready answer while the model loads
  await app.listen({ host: opts.host, port: opts.port });
  const done = new Promise<number>((resolve) => {
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => void stop(s).then(resolve));
  });
  try {
    const info = await server.ready;
    const url = app.listeningOrigin;
    process.stderr.write(
      `ast-audio serve: ready on ${url} (model ${opts.model ?? DEFAULT_MODEL_DIR}, ${info.labels.length} labels, ` +
        `max batch ${opts.maxBatch}, max delay ${opts.maxDelayMs} ms)\n`,
    );
  } catch (err) {
    process.stderr.write(`ast-audio serve: cannot load the model: ${err instanceof Error ? err.message : String(err)}\n`);
    await server.close();
    return 1;
  }
  return done;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be an integer from 0 to 65535, got "${value}"`);
  return n;
}

function parsePositive(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got "${value}"`);
    return n;
  };
}

function parseNonNegative(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number of at least 0, got "${value}"`);
    return n;
  };
}
