/** Rows of Hugging Face `datasets` Parquet files as items to tag (see src/node/parquet-dataset.ts). */
import { listParquetFiles, openParquetDataset, parquetRows, rowBytes, type ParquetColumns, type ParquetDatasetFile } from '../node/parquet-dataset.js';
import { wholeMs } from './row.js';
import type { AudioItem } from './tag-file.js';

export { isParquetInput as isDatasetInput } from '../node/parquet-dataset.js';

/** The Parquet files of the inputs, opened (their row counts known before any audio is read). */
export async function openDatasets(inputs: readonly string[], columns: ParquetColumns): Promise<ParquetDatasetFile[]> {
  const out: ParquetDatasetFile[] = [];
  for (const input of inputs) for (const f of await listParquetFiles(input)) out.push(await openParquetDataset(f, columns, false));
  return out;
}

/**
 * Every row of the datasets as an item, a row group at a time (only that row group's audio is held).
 * An item's key is `FILE.parquet#ROW`, the audio's byte length and the Parquet file's mtime.
 */
export async function* datasetItems(datasets: readonly ParquetDatasetFile[]): AsyncGenerator<AudioItem> {
  for (const ds of datasets) {
    const mtime = wholeMs(ds.mtimeMs);
    for await (const row of parquetRows(ds)) {
      yield { path: row.id, size: row.bytes.length, mtime_ms: mtime, read: async () => rowBytes(row) };
    }
  }
}
