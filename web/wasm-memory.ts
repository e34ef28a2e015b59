/**
 * Records every WebAssembly.Memory made in this worker, so the page (and its memory test) can read how
 * big ONNX Runtime's heap is. ORT's threaded build creates its memory in JS (a shared memory handed to
 * its pthreads), so wrapping the constructor sees it; memories a module exports are caught at
 * instantiation. Imported before onnxruntime-web, so it is in place when ORT starts.
 */
const memories = new Set<WebAssembly.Memory>();

const NativeMemory = WebAssembly.Memory;
WebAssembly.Memory = new Proxy(NativeMemory, {
  construct(target, args: [WebAssembly.MemoryDescriptor]) {
    const memory = Reflect.construct(target, args) as WebAssembly.Memory;
    memories.add(memory);
    return memory;
  },
});

function noteExports(instance: WebAssembly.Instance): void {
  for (const value of Object.values(instance.exports)) if (value instanceof NativeMemory) memories.add(value);
}

const nativeInstantiate = WebAssembly.instantiate.bind(WebAssembly) as (...args: unknown[]) => Promise<unknown>;
(WebAssembly as { instantiate: unknown }).instantiate = async (...args: unknown[]) => {
  const out = await nativeInstantiate(...args);
  noteExports(out instanceof WebAssembly.Instance ? out : (out as WebAssembly.WebAssemblyInstantiatedSource).instance);
  return out;
};
if (typeof WebAssembly.instantiateStreaming === 'function') {
  const nativeStreaming = WebAssembly.instantiateStreaming.bind(WebAssembly);
  WebAssembly.instantiateStreaming = async (source, imports) => {
    const out = await nativeStreaming(source, imports);
    noteExports(out.instance);
    return out;
  };
}

/** Bytes held by the WebAssembly memories made so far (a memory only grows, so this is also its peak). */
export function wasmMemoryBytes(): { bytes: number; count: number } {
  let bytes = 0;
  for (const m of memories) bytes += m.buffer.byteLength;
  return { bytes, count: memories.size };
}
