/** `GET /openapi.json`: the API as OpenAPI 3.1, written by hand next to the routes it describes (app.ts). */
const problem = {
  type: 'object',
  required: ['error', 'detail'],
  properties: { error: { type: 'string' }, detail: { type: 'string' } },
};
const labels = {
  type: 'array',
  items: { type: 'object', required: ['label', 'score'], properties: { label: { type: 'string' }, score: { type: 'number' } } },
};
const audioBody = {
  required: true,
  content: {
    'audio/*': { schema: { type: 'string', format: 'binary' } },
    'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
    'multipart/form-data': { schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary' } } } },
  },
};
const err = (description: string) => ({ description, content: { 'application/json': { schema: problem } } });
const inferenceErrors = {
  400: err('empty, undecodable, too short or NaN audio, or a bad query parameter'),
  413: err('the body is over --max-body-mb'),
  415: err('a Content-Type other than audio/*, application/octet-stream or multipart/form-data'),
  429: err('the queue is full (--max-queue); see Retry-After'),
  500: err('the forward of this request\'s batch failed'),
  503: err('not ready yet, not answered within --timeout-s, or shutting down'),
};
const q = (name: string, description: string, schema: object) => ({ name, in: 'query', required: false, description, schema });

export function openApiDocument(version: string): object {
  return {
    openapi: '3.1.0',
    info: { title: 'ast-audio serve', version, description: 'Audio Spectrogram Transformer inference: classification and embeddings, dynamically batched.' },
    paths: {
      '/classify': {
        post: {
          summary: 'Top labels of one audio file (the Hugging Face Inference API audio-classification answer)',
          parameters: [
            q('top_k', 'labels to return, best first, or "all" (default 5)', { type: 'string', pattern: '^([1-9][0-9]*|all)$' }),
            q('function', 'score function (default: by checkpoint)', { type: 'string', enum: ['softmax', 'sigmoid', 'none'] }),
            q('window', 'window length in seconds for long audio (default and maximum: max_length)', { type: 'number' }),
            q('hop', 'seconds between windows (default: the window length)', { type: 'number' }),
            q('aggregate', 'clip score from window scores', { type: 'string', enum: ['mean', 'max', 'first'] }),
            q('timeline', 'also return the labels of every window', { type: 'boolean' }),
          ],
          requestBody: audioBody,
          responses: {
            200: {
              description: '[{label, score}] best first; with timeline=true {labels, windows: [{start, end, labels}]}',
              content: {
                'application/json': {
                  schema: {
                    oneOf: [
                      labels,
                      {
                        type: 'object',
                        properties: {
                          labels,
                          windows: { type: 'array', items: { type: 'object', properties: { start: { type: 'number' }, end: { type: 'number' }, labels } } },
                        },
                      },
                    ],
                  },
                },
              },
            },
            ...inferenceErrors,
          },
        },
      },
      '/embed': {
        post: {
          summary: 'The pooled embedding (pooler_output) of one audio file, its first max_length frames',
          requestBody: audioBody,
          responses: {
            200: {
              description: 'JSON, or raw little-endian float32 with Accept: application/octet-stream (X-Embedding-Dims says how many)',
              content: {
                'application/json': { schema: { type: 'object', properties: { embedding: { type: 'array', items: { type: 'number' } }, hidden_size: { type: 'integer' } } } },
                'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
              },
            },
            ...inferenceErrors,
          },
        },
      },
      '/health/live': { get: { summary: 'The process is up', responses: { 200: { description: '{"status":"live"}' } } } },
      '/health/ready': {
        get: { summary: 'The model is loaded and one warm-up forward ran', responses: { 200: { description: '{"status":"ready"}' }, 503: { description: 'loading or failed' } } },
      },
      '/info': { get: { summary: 'Model source, labels, dtype, max_length, package version, limits', responses: { 200: { description: 'JSON' }, 503: err('not ready') } } },
      '/metrics': { get: { summary: 'Prometheus metrics (text exposition format)', responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    },
  };
}
