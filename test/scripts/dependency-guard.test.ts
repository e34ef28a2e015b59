/**
 * The layout guard (.dependency-cruiser.cjs, dependency-cruiser): src/ has no import cycle and the
 * browser-safe folders reach no Node built-in. The guard runs on the real src/, and on a temporary copy
 * with a planted cycle and a planted `node:fs` import, where it must fail and name both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/fixtures.js';

const depcruise = join(REPO_ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

function guard(root: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [depcruise, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: root, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('the guard passes on src/: no cycle, no Node built-in reachable from the browser-safe folders', () => {
  const r = guard(REPO_ROOT);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /no dependency violations found/);
});

/** Folder-level edges of src/ (a root file such as tensor.ts is its own node), from the guard's JSON output. */
function folderCycles(root: string): string[] {
  const r = spawnSync(process.execPath, [depcruise, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
  const { modules } = JSON.parse(r.stdout) as { modules: { source: string; dependencies: { resolved: string }[] }[] };
  const node = (p: string) => (/^src\/([^/]+)\//.exec(p)?.[1] ?? (p.startsWith('src/') ? p : null));
  const edges = new Map<string, Set<string>>();
  for (const m of modules) {
    const a = node(m.source);
    if (!a) continue;
    for (const d of m.dependencies) {
      const b = node(d.resolved);
      if (b && b !== a) edges.set(a, (edges.get(a) ?? new Set()).add(b));
    }
  }
  // a cycle exists iff some folder reaches itself
  const cycles: string[] = [];
  for (const start of edges.keys()) {
    const seen = new Set<string>();
    const stack = [...(edges.get(start) ?? [])];
    while (stack.length) {
      const n = stack.pop()!;
      if (n === start) {
        cycles.push(start);
        break;
      }
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...(edges.get(n) ?? []));
    }
  }
  return cycles;
}

test('no folder of src/ reaches itself through other folders', () => {
  assert.deepEqual(folderCycles(REPO_ROOT), []);
});

test('the guard fails on a copy with a planted cycle and a planted node:fs import, naming both', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ast-guard-'));
  try {
    cpSync(join(REPO_ROOT, 'src'), join(dir, 'src'), { recursive: true });
    for (const f of ['tsconfig.json', '.dependency-cruiser.cjs', 'package.json']) cpSync(join(REPO_ROOT, f), join(dir, f));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    // a cycle: graph/planted-a.ts -> graph/planted-b.ts -> graph/planted-a.ts
    writeFileSync(join(dir, 'src/graph/planted-a.ts'), "import { b } from './planted-b.js';\nexport const a = () => b;\n");
    writeFileSync(join(dir, 'src/graph/planted-b.ts'), "import { a } from './planted-a.js';\nexport const b = () => a;\n");
    // a Node built-in in a browser-safe folder
    appendFileSync(join(dir, 'src/model/config.ts'), "\nimport { readFileSync } from 'node:fs';\nexport const plantedRead = readFileSync;\n");
    const r = guard(dir);
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /no-cycle/);
    assert.match(r.output, /planted-a\.ts/);
    assert.match(r.output, /browser-safe-no-node-builtin/);
    assert.match(r.output, /src\/model\/config\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
