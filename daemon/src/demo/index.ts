// The scripted model server: the tests' only double and `shadowbox demo`'s clearly labelled model.
export {
  startModelServer,
  type ModelServer,
  type ModelServerOptions,
  type RecordedRequest,
  type Reply,
  type ScriptedToolCall,
  type WireFormat,
} from './model-server/index.js';
