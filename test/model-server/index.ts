// The scripted model server (the project's only test double) lives in daemon/src/demo/model-server so that
// `shadowbox demo` and the benchmarks run the same code; tests import it from here.
export * from '../../daemon/src/demo/model-server/index.js';
