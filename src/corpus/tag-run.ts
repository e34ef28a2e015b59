/**
 * The single-process `tag` loop: items -> tagger (a few in flight, so one file decodes while another's
 * windows run) -> rows into the shard writer, errors appended to errors.jsonl as they happen. A stop
 * request (Ctrl-C) stops taking new files; the files in flight finish and the partial shard is written.
 */
import { appendError } from './error-log.js';
import type { TagError, TagRow } from './row.js';
import type { ShardWriter } from './shard-writer.js';
import type { AudioItem, Tagger } from './tag-file.js';

export interface TagRunOptions {
  items: Iterable<AudioItem> | AsyncIterable<AudioItem>;
  tagger: Tagger;
  writer: ShardWriter;
  /** Folder of errors.jsonl. */
  errorsDir: string;
  /** Files tagged at once (default 2: one decodes while the other's windows run on the model). */
  concurrency?: number;
  /** Checked before each new file; true: take no more files, finish those in flight, write the shard. */
  stopRequested?: () => boolean;
  /** Each file's outcome, as it comes. */
  onRow?(row: TagRow): void;
  onError?(error: TagError): void;
  /** A shard was written (the caller updates its manifest). */
  onShard?(path: string): void | Promise<void>;
}

export interface TagRunResult {
  rows: number;
  errors: number;
  /** True when a stop request ended the run before every item was taken. */
  stopped: boolean;
}

export async function runTagging(o: TagRunOptions): Promise<TagRunResult> {
  const concurrency = o.concurrency ?? 2;
  if (!(Number.isInteger(concurrency) && concurrency > 0)) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  const iterator = (Symbol.asyncIterator in o.items ? o.items[Symbol.asyncIterator]() : o.items[Symbol.iterator]()) as
    | AsyncIterator<AudioItem>
    | Iterator<AudioItem>;
  let rows = 0;
  let errors = 0;
  let stopped = false;
  let exhausted = false;
  let shardsSeen = o.writer.written.length;

  const shardsWritten = async () => {
    while (shardsSeen < o.writer.written.length) await o.onShard?.(o.writer.written[shardsSeen++]!);
  };

  // Taking the next item is serialised: an async iterator must not be asked twice at once.
  let taking: Promise<unknown> = Promise.resolve();
  const next = (): Promise<AudioItem | undefined> => {
    const p = taking.then(async () => {
      if (exhausted) return undefined;
      if (o.stopRequested?.()) {
        stopped = true;
        exhausted = true;
        return undefined;
      }
      const r = await iterator.next();
      if (r.done) {
        exhausted = true;
        return undefined;
      }
      return r.value;
    });
    taking = p.catch(() => {});
    return p;
  };

  const lane = async () => {
    for (let item = await next(); item; item = await next()) {
      const outcome = await o.tagger.tag(item);
      if (outcome.row) {
        rows++;
        o.onRow?.(outcome.row);
        await o.writer.add(outcome.row);
        await shardsWritten();
      } else {
        errors++;
        await appendError(o.errorsDir, outcome.error);
        o.onError?.(outcome.error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  await o.writer.flush();
  await shardsWritten();
  return { rows, errors, stopped };
}
