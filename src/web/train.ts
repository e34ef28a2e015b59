/** Browser training entry (`ast-audio/train` in a bundler): the web entry's runtime plus the training API. */
export * from './index.js';
export * from '../train.js';
