/**
 * The layout guard (run by test/scripts/dependency-guard.test.ts, so `npm test` enforces it):
 *  - no import cycle anywhere in src/ (file level; a folder cycle is always made of file imports);
 *  - nothing Node-only reachable from the browser-safe core: its files import no Node built-in, no
 *    Node-only package and no file of a Node-only folder (so, transitively, nothing Node-only at all).
 */
const BROWSER_SAFE = '^src/(tensor\\.ts|rng\\.ts|index\\.ts|train\\.ts|audio|graph|model|pipeline|runtime|io|train|web)(/|$)';
const NODE_ONLY = '^src/(node|cli|serve|corpus)/';

module.exports = {
  forbidden: [
    { name: 'no-cycle', severity: 'error', comment: 'an import cycle in src/', from: { path: '^src/' }, to: { circular: true } },
    { name: 'browser-safe-no-node-builtin', severity: 'error', comment: 'a browser-safe file imports a Node built-in', from: { path: BROWSER_SAFE }, to: { dependencyTypes: ['core'] } },
    { name: 'browser-safe-no-node-folder', severity: 'error', comment: 'a browser-safe file imports a Node-only folder', from: { path: BROWSER_SAFE }, to: { path: NODE_ONLY } },
    { name: 'browser-safe-no-node-package', severity: 'error', comment: 'a browser-safe file imports a Node-only package', from: { path: BROWSER_SAFE }, to: { path: 'node_modules/(onnxruntime-node|commander|cli-progress)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
