/**
 * The one error type for bad input files. Every parser (WAV, safetensors, .npy, the torch unpickler,
 * config.json, preprocessor_config.json, the Hub cache reader) throws this for a file it cannot read
 * as what it claims to be, so callers (the CLI, a server) can tell "your file is bad" from "our bug".
 * The message keeps the house format `<file>: <problem>`.
 */
export class FormatError extends Error {
  // `name` stays "Error": String(err) and stack headers read as before (`Error: <file>: <problem>`);
  // tell it apart with `instanceof FormatError`.
  constructor(
    /** The file (path, URL, `hub:owner/name@rev/file` or `<bytes>`) the problem is in. */
    readonly file: string,
    /** What is wrong with it, without the file name. */
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${problem}`, options);
  }
}
