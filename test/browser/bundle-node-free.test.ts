/**
 * The browser entries bundle for `platform: 'browser'` (esbuild) with no Node built-in in their module graph:
 * every import or require of `node:*`, of a built-in name (`fs`, `os`, `path`, ...) or of a native addon (`.node`)
 * is recorded with its importer. The check runs on the real src/web entries, and on a temporary copy with planted Node imports
 * (a `node:fs` import in the core, and onnxruntime-node, which needs `fs`/`path`), where it must name them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { REPO_ROOT } from '../helpers/fixtures.js';

const BUILTIN = new RegExp(`^(node:.*|(${builtinModules.filter((m) => !m.startsWith('_')).join('|')})(/.*)?)$`);

interface NodeImport {
  path: string;
  importer: string;
}

/** Bundles `entry` (relative to `root`) for the browser; returns each Node built-in import reached, and the bundle's size. */
async function nodeImportsOf(root: string, entry: string): Promise<{ found: NodeImport[]; bytes: number }> {
  const found: NodeImport[] = [];
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    conditions: ['onnxruntime-web-use-extern-wasm'], // as scripts/build-browser.mjs; the default condition is checked too
    logLevel: 'silent',
    metafile: true,
    // a native addon (`.node`, also reached through a template-literal require) is read as empty and listed below
    loader: { '.node': 'empty' },
    plugins: [
      {
        name: 'record-node-builtins',
        setup(build) {
          build.onResolve({ filter: BUILTIN }, (args) => {
            found.push({ path: args.path, importer: args.importer.replace(`${root}/`, '') });
            return { path: args.path, external: true };
          });
          // audio-decode's optional codecs that are not installed (as in scripts/build-browser.mjs)
          build.onResolve({ filter: /^@audio\// }, async (args) => {
            if (args.pluginData?.inner) return undefined;
            const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: { inner: true } });
            return r.errors.length ? { path: args.path, external: true } : r;
          });
        },
      },
    ],
  });
  for (const [importer, input] of Object.entries(result.metafile.inputs)) {
    for (const i of input.imports) if (i.path.endsWith('.node')) found.push({ path: i.path, importer });
  }
  return { found, bytes: result.outputFiles[0]!.contents.byteLength };
}

for (const entry of ['src/web/index.ts', 'src/web/prebuilt.ts', 'src/web/train.ts']) {
  test(`${entry} bundles for the browser with no Node built-in reachable`, { timeout: 120_000 }, async () => {
    const { found, bytes } = await nodeImportsOf(REPO_ROOT, entry);
    console.log(`  ${entry}: ${bytes.toLocaleString('en')} bytes bundled, ${found.length} Node built-in imports`);
    assert.deepEqual(found, []);
  });
}

test('the check fails on a copy with planted Node imports, naming each and its importer', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ast-bundle-guard-'));
  try {
    cpSync(join(REPO_ROOT, 'src'), join(dir, 'src'), { recursive: true });
    cpSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    appendFileSync(join(dir, 'src/audio/fbank.ts'), "\nimport { readFileSync } from 'node:fs';\nexport const plantedRead = readFileSync;\n");
    appendFileSync(join(dir, 'src/model/config.ts'), "\nimport * as plantedOrt from 'onnxruntime-node';\nexport const plantedOrtNode = plantedOrt;\n");
    const { found } = await nodeImportsOf(dir, 'src/web/index.ts');
    console.log(`  planted copy: ${found.map((f) => `${f.importer} -> ${f.path}`).join('; ')}`);
    assert.ok(found.some((f) => f.path === 'node:fs' && f.importer === 'src/audio/fbank.ts'), 'the planted node:fs import was not caught');
    // onnxruntime-node's binding loader requires Node built-ins (path, fs, ...) from inside node_modules
    assert.ok(found.some((f) => f.importer.includes('onnxruntime-node/')), 'the built-ins behind a planted onnxruntime-node were not caught');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
