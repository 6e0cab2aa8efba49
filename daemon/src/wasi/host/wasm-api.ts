// The slice of the WebAssembly JS API the host uses (the daemon compiles without DOM types).

/** A wasm linear memory. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

/** An instantiated module's exports, as the host sees them. */
export interface WasmExports {
  memory?: WasmMemory;
  _start?: () => void;
  _initialize?: () => void;
  [name: string]: unknown;
}

export interface WasmInstance {
  readonly exports: WasmExports;
}

/** Node's WebAssembly global, typed to what the runner calls. */
export const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(module: object, imports: Record<string, Record<string, unknown>>): Promise<WasmInstance>;
      compile(bytes: Uint8Array): Promise<object>;
      Module: new (bytes: Uint8Array) => object;
      Memory: new (d: { initial: number; maximum?: number }) => WasmMemory;
    };
  }
).WebAssembly;
