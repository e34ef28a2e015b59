/**
 * Child process of dispose.test.ts: loads the embedded model (models/speech-commands) through `pipeline`,
 * classifies one clip, disposes, `cycles` times, and prints one JSON line with the RSS after each cycle
 * (bytes, after a full GC so that only memory nobody holds any more could be counted as freed).
 * Run in its own process so the parent test's heap and ORT's other sessions do not blur the figure.
 */
import '../../src/node/index.js';
import { pipeline } from '../../src/pipeline/audio-classification.js';

const cycles = Number(process.argv[2] ?? 100);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
// half a second of a 440 Hz tone at 16 kHz
const clip = Float32Array.from({ length: 8000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000));
const rss: number[] = [];
let labels = '';
for (let c = 0; c < cycles; c++) {
  const classify = await pipeline('audio-classification', undefined, { threads: 1 });
  const top = await classify(clip, { topK: 1 });
  if (c === 0) labels = top[0]!.label;
  else if (top[0]!.label !== labels) throw new Error(`cycle ${c}: top label ${top[0]!.label}, cycle 0 said ${labels}`);
  await classify.dispose();
  gc();
  rss.push(process.memoryUsage().rss);
}
process.stdout.write(JSON.stringify({ cycles, rss }) + '\n');
