/**
 * Bundle size of an inference-only browser page: `import { pipeline } from 'ast-audio/web'`, resolved
 * through package.json "exports" (and "sideEffects") as an app's bundler would, with esbuild
 * (platform 'browser', minified). Needs `npm run build` first (the exports point into dist/).
 * Optional audio decoders that are not installed stay external, as they would fail in any bundler.
 *   node scripts/bundle-size.mjs            sizes with and without onnxruntime-web bundled
 *   LIST=1 node scripts/bundle-size.mjs     also the ast-audio modules that ended up in the bundle
 */
import * as esbuild from 'esbuild';
import { browserBundle } from './esbuild-browser.mjs';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const pkg = resolve(process.argv[2] ?? '.');
const dir = mkdtempSync(join(tmpdir(), 'ast-bundle-'));
mkdirSync(join(dir, 'node_modules'));
symlinkSync(pkg, join(dir, 'node_modules', 'ast-audio'));
writeFileSync(join(dir, 'entry.js'), "import { pipeline } from 'ast-audio/web';\nglobalThis.astPipeline = pipeline;\n");

try {
  for (const external of [[], ['onnxruntime-web']]) {
    const r = await esbuild.build({
      ...browserBundle,
      entryPoints: [join(dir, 'entry.js')],
      write: false,
      external,
      preserveSymlinks: false,
      logLevel: 'error',
    });
    const bytes = r.outputFiles[0].contents.length;
    const inputs = Object.values(r.metafile.outputs)[0].inputs;
    const ours = Object.entries(inputs).filter(([k]) => !k.includes('node_modules'));
    const own = ours.reduce((a, [, v]) => a + v.bytesInOutput, 0);
    const what = external.length ? 'onnxruntime-web left external' : 'everything bundled';
    console.log(`${what}: ${bytes} bytes minified; ast-audio's own modules: ${ours.length}, ${own} bytes`);
    if (process.env.LIST) for (const [k, v] of ours) console.log(`  ${k.replace(/^.*?dist\//, 'dist/')} ${v.bytesInOutput}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
