/**
 * Hugging Face `audiofolder`'s split layout for labelled folders:
 *
 *   data/train/<label>/*.wav   data/validation/<label>/*.wav   data/test/<label>/*.wav
 *
 * A folder is in this layout when every top-level folder is named like a split; the names are those of
 * `datasets` (data_files.py SPLIT_KEYWORDS): train|training, validation|valid|dev|val,
 * test|testing|eval|evaluation, alone or followed by one of `-._ ` or a digit (`train-0`, `test_clean`).
 * A split-named folder among class folders is refused: read as a class it would put, say, the test
 * clips into training under the label "test".
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type SplitName = 'train' | 'validation' | 'test';

const SPLIT_KEYWORDS: Record<SplitName, readonly string[]> = {
  train: ['train', 'training'],
  validation: ['validation', 'valid', 'dev', 'val'],
  test: ['test', 'testing', 'eval', 'evaluation'],
};

/** The split a folder name stands for, as `datasets` matches `{keyword}` and `{keyword}[-._ 0-9]*`. */
export function splitOfFolderName(name: string): SplitName | undefined {
  const lower = name.toLowerCase();
  for (const split of Object.keys(SPLIT_KEYWORDS) as SplitName[]) {
    if (SPLIT_KEYWORDS[split].some((k) => lower === k || (lower.startsWith(k) && /^[-._ 0-9]/.test(lower.slice(k.length))))) return split;
  }
  return undefined;
}

/** A folder in the split layout: the folder of each split present. */
export interface DataSplits {
  root: string;
  folders: Partial<Record<SplitName, string>>;
}

/** Visible sub-folders of `dir`, sorted. */
function subfolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.') && (d.isDirectory() || (d.isSymbolicLink() && statSync(join(dir, d.name)).isDirectory())))
    .map((d) => d.name)
    .sort();
}

/**
 * The split layout of `source`, or undefined when it is a manifest, a plain folder of class folders, or
 * missing (the caller's reader reports those). Every top-level folder split-named: the layout; some of
 * them: an error that says why.
 */
export function findSplits(source: string): DataSplits | undefined {
  let isDir: boolean;
  try {
    isDir = statSync(source).isDirectory();
  } catch {
    return undefined;
  }
  if (!isDir) return undefined;
  const names = subfolders(source);
  const named = names.filter((n) => splitOfFolderName(n) !== undefined);
  if (named.length === 0) return undefined;
  refuseSplitFoldersAmongClasses(source, names);
  const folders: DataSplits['folders'] = {};
  for (const n of named) {
    const split = splitOfFolderName(n)!;
    const other = folders[split];
    if (other) throw new Error(`${source}: both ${other} and ${join(source, n)} are the ${split} split; keep one`);
    folders[split] = join(source, n);
  }
  return { root: source, folders };
}

const folderList = (xs: readonly string[]) => xs.map((x) => `${x}/`).join(', ');

/**
 * Class folders (`names`, the top level of `root`) may not mix with split folders: either all are
 * splits (the audiofolder layout) or none is.
 */
export function refuseSplitFoldersAmongClasses(root: string, names: readonly string[]): void {
  const splits = names.filter((n) => splitOfFolderName(n) !== undefined);
  const classes = names.filter((n) => splitOfFolderName(n) === undefined);
  if (splits.length === 0 || classes.length === 0) return;
  const list = folderList;
  throw new Error(
    `${join(root, splits[0]!)}: a folder named like a split (${list(splits)}) among class folders (${list(classes)}); ` +
      `read as a class, its clips would be labelled "${splits[0]}" (and, by train, trained on). Use Hugging Face's audiofolder layout (${root}/train/<label>/, ` +
      `${root}/validation/<label>/, ${root}/test/<label>/) or, if "${splits[0]}" really is a label, a CSV manifest`,
  );
}

/**
 * For a reader of class folders (no split support there, e.g. `--validation DIR`): no top-level folder
 * may be named like a split.
 */
export function refuseSplitFolders(root: string, names: readonly string[]): void {
  refuseSplitFoldersAmongClasses(root, names);
  const splits = names.filter((n) => splitOfFolderName(n) !== undefined);
  if (splits.length > 0) {
    const order: SplitName[] = ['validation', 'test', 'train'];
    const example = order.map((o) => splits.find((n) => splitOfFolderName(n) === o)).find((n) => n !== undefined)!;
    throw new Error(
      `${root}: holds the splits ${folderList(splits)} (Hugging Face's audiofolder layout), not class folders; ` +
        `give one split's folder here (such as ${join(root, example)})`,
    );
  }
}

/** The folder of `split`, or an error naming the splits that are there. */
export function splitFolder(splits: DataSplits, split: SplitName): string {
  const folder = splits.folders[split];
  if (!folder) {
    const present = Object.keys(splits.folders).join(', ');
    throw new Error(`${splits.root}: no ${split} split (a ${split}/ folder); this folder has the split(s) ${present}`);
  }
  return folder;
}
