// What every browser bundle we make shares (the prebuilt module, the bundle-size check): esbuild's browser ESM
// settings, and audio-decode's optional codec packages left as external imports when they are not installed,
// as they would be in any app's bundle.

/** Leaves `@audio/*` imports that cannot be resolved external instead of failing the build. */
export const missingExternal = {
  name: 'missing-external',
  setup(build) {
    build.onResolve({ filter: /^@audio\// }, async (args) => {
      if (args.pluginData?.inner) return undefined;
      const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: { inner: true } });
      return r.errors.length ? { path: args.path, external: true } : r;
    });
  },
};

/** Options for a minified browser ES module; spread first, then add the entry, output and anything particular. */
export const browserBundle = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  minify: true,
  metafile: true,
  plugins: [missingExternal],
};
