/** What a worker tells its sandboxed children (through one environment variable, since BullMQ forks them). */
export const WORKER_ENV = 'AST_AUDIO_WORKER';

export interface WorkerEnv {
  /** The worker's --out folder. */
  out: string;
  /** Unique per worker; shards are named after it and the job. */
  workerId: string;
  /** ONNX Runtime threads per child (a machine setting, not the queue's): default ONNX Runtime's. */
  threads?: number;
}

export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const text = env[WORKER_ENV];
  if (text === undefined) throw new Error(`${WORKER_ENV} is not set: this module runs as an ast-audio worker's sandboxed processor`);
  return JSON.parse(text) as WorkerEnv;
}
