/**
 * Reading a Parquet dataset's rows in a training order (src/node/parquet-dataset.ts): rows asked for out of
 * order (a shuffled batch) come back right and are read alone, so a shuffled epoch does not read the file
 * whole, nor a whole row group per row where the file has an offset index; rows asked for in order read
 * their row group once. The bytes read are counted through the file's AsyncBuffer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Rng } from '../../src/rng.js';
import { openParquetDataset, ParquetRowReader, readParquetRows, type ParquetDatasetFile } from '../../src/node/parquet-dataset.js';

const ROWS = 40;
const ROW_BYTES = 32 * 1024;

/** The dataset file's reads, counted. */
function counted(ds: ParquetDatasetFile): { ds: ParquetDatasetFile; bytes: () => number } {
  let bytes = 0;
  const file = ds.file;
  return {
    ds: { ...ds, file: { byteLength: file.byteLength, slice: (start: number, end?: number) => ((bytes += (end ?? file.byteLength) - start), file.slice(start, end)) } },
    bytes: () => bytes,
  };
}

describe('Parquet dataset rows read in a training order', () => {
  let dir: string;
  let audio: Uint8Array[];
  const write = (name: string, offsetIndex: boolean, rowGroupSize: number) => {
    const path = join(dir, name);
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'audio', data: audio, offsetIndex },
        { name: 'label', data: audio.map((_, i) => `class-${i % 3}`) },
      ],
      schema: [
        { name: 'schema', num_children: 2 },
        { name: 'audio', type: 'BYTE_ARRAY', repetition_type: 'REQUIRED' },
        { name: 'label', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      ],
      rowGroupSize,
      pageSize: 16 * 1024, // a page per row
      codec: 'UNCOMPRESSED',
    });
    writeFileSync(path, new Uint8Array(buffer));
    return path;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ast-parquet-rows-'));
    const rng = new Rng(11);
    audio = Array.from({ length: ROWS }, () => Uint8Array.from({ length: ROW_BYTES }, () => rng.int(256)));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a shuffled order and the file order both give every row its own bytes', async () => {
    const path = write('groups-of-8.parquet', true, 8);
    const order = new Rng(5).shuffle(Array.from({ length: ROWS }, (_, i) => i));
    for (const ids of [order, order.map((_, i) => i)]) {
      const reader = new ParquetRowReader();
      // as a training batch asks: several rows at once
      for (let b = 0; b < ids.length; b += 5) {
        const batch = ids.slice(b, b + 5);
        const got = await Promise.all(batch.map((i) => reader.read(`${path}#${i}`)));
        batch.forEach((i, k) => assert.deepEqual(got[k], audio[i], `row ${i}`));
      }
    }
  });

  it('one row out of a row group: its pages only with an offset index, the column chunk without', async () => {
    for (const [name, offsetIndex] of [['with-index.parquet', true], ['without-index.parquet', false]] as const) {
      const c = counted(await openParquetDataset(write(name, offsetIndex, ROWS), {}, false));
      const [row] = await readParquetRows(c.ds, 23, 24);
      assert.deepEqual(row!.bytes, audio[23]);
      if (offsetIndex) assert.ok(c.bytes() < 3 * ROW_BYTES, `${name}: one row read ${c.bytes()} bytes`);
      else assert.ok(c.bytes() >= ROWS * ROW_BYTES, `${name}: ${c.bytes()} bytes (the whole chunk, as expected without page locations)`);
    }
  });
});
