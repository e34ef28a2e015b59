/**
 * fetch() that reports bytes read / total for each file, for the model loader's progress bar. The body is
 * passed through a counting stream, so the bytes are read once, as they arrive.
 */
export type BytesCallback = (file: string, loaded: number, total: number) => void;

export function countingFetch(onBytes: BytesCallback): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!res.ok || !res.body || init?.method === 'HEAD') return res;
    const file = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? url);
    const total = Number(res.headers.get('content-length') ?? 0);
    let loaded = 0;
    onBytes(file, 0, total);
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          loaded += chunk.byteLength;
          onBytes(file, loaded, total);
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
