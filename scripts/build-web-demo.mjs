#!/usr/bin/env node
/**
 * Builds the demo page (web/) into dist/web-demo/: the page and its worker bundled by esbuild (browser
 * platform, ES modules) and the AudioWorklet as its own file. `npm run build` runs it; `ast-audio demo`
 * serves the result, with onnxruntime-web's WASM runtime beside it from dist/browser/ (the worker sets
 * ort.env.wasm.wasmPaths to its own folder).
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/**
 * audio-decode reaches its codecs with dynamic imports, some of optional packages that may not be
 * installed; those become a module that throws a clear error when that format is met, instead of
 * failing the build.
 */
const optionalCodecs = {
  name: 'optional-codecs',
  setup(b) {
    b.onResolve({ filter: /^@audio\/decode-/ }, (args) => {
      try {
        require.resolve(args.path, { paths: [args.resolveDir] });
        return undefined;
      } catch {
        return { path: args.path, namespace: 'missing-codec' };
      }
    });
    b.onLoad({ filter: /.*/, namespace: 'missing-codec' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`the ${args.path} codec is not installed in this build`)});`,
      loader: 'js',
    }));
  },
};

/**
 * package.json's `sideEffects` lists dist/web/index.js, not src/web/index.ts, so esbuild would drop the
 * web entry's registrations (onnxruntime-web, URL sources) as unused when the page bundles the source.
 */
const webEntrySideEffects = {
  name: 'web-entry-side-effects',
  setup(b) {
    b.onResolve({ filter: /\/src\/web\/index\.js$/ }, (args) => ({
      path: resolvePath(args.resolveDir, args.path.replace(/\.js$/, '.ts')),
      sideEffects: true,
    }));
  },
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/web-demo');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: {
    main: join(root, 'web/main.ts'),
    worker: join(root, 'web/worker.ts'),
    'capture-worklet': join(root, 'web/capture-worklet.ts'),
  },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  // ORT's "extern wasm" build loads its .mjs/.wasm from wasmPaths instead of inlining the .mjs into our
  // worker (where its pthreads would start our whole worker script again)
  conditions: ['onnxruntime-web-use-extern-wasm'],
  // audio-decode's codecs load on demand as their own chunks
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [optionalCodecs, webEntrySideEffects],
  minify: true,
  logLevel: 'warning',
});

for (const f of ['index.html', 'style.css']) copyFileSync(join(root, 'web', f), join(out, f));
// onnxruntime-web's runtime (ort-wasm-simd-threaded.jsep.mjs/.wasm, 28 MB) is not copied here: `ast-audio demo`
// serves the copy scripts/build-browser.mjs puts in dist/browser/, so the package holds it once.
