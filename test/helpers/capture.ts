/** A writable stream that keeps what a command prints, for tests of the CLI's stdout / stderr. */
import { PassThrough } from 'node:stream';

export function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}
