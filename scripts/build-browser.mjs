// Builds the prebuilt ES module dist/browser/ast-audio.js (esbuild, platform 'browser'): src/web/prebuilt.ts with
// onnxruntime-web bundled, plus onnxruntime-web's WASM binary and loader copied beside it, so a page can
//   <script type="module">import { pipeline } from './ast-audio.js'</script>
// from any static server (cross-origin isolated for WASM threads). `npm run build` runs it after tsc.
//   npm run build:browser
//
// onnxruntime-web is resolved with its 'onnxruntime-web-use-extern-wasm' export condition (dist/ort.min.mjs): the
// Emscripten loader then stays a separate file (ort-wasm-simd-threaded.jsep.mjs), loaded from env.wasm.wasmPaths,
// and its WASM threads start as workers of that small file. (The default ort.bundle.min.mjs inlines the loader and
// starts each thread as a worker of the whole bundle that contains it, i.e. of ast-audio.js and everything in it.)
// The 'jsep' build is the one onnxruntime-web's main export uses: WASM threads + SIMD, and WebGPU.
import * as esbuild from 'esbuild';
import { browserBundle } from './esbuild-browser.mjs';
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/browser');
const ortDist = dirname(createRequire(join(root, 'package.json')).resolve('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm'));
export const ORT_FILES = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await esbuild.build({
  absWorkingDir: root,
  ...browserBundle,
  entryPoints: ['src/web/prebuilt.ts'],
  outfile: join(out, 'ast-audio.js'),
  target: 'es2022',
  conditions: ['onnxruntime-web-use-extern-wasm'],
  // no source map: it would be 15 MB, nearly all of it the audio decoders' sources
  logLevel: 'warning',
});
for (const f of ORT_FILES) copyFileSync(join(ortDist, f), join(out, f));
const externals = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
const size = (f) => statSync(join(out, f)).size.toLocaleString('en');
console.log(`dist/browser/ast-audio.js ${size('ast-audio.js')} bytes; beside it: ${ORT_FILES.map((f) => `${f} (${size(f)})`).join(', ')}`);
if (externals.length) console.log(`  left external: ${[...new Set(externals)].join(', ')}`);
