;; Stand-ins for shadowbox's host imports while Wizer pre-initializes python.wasm.
;; Initialization never calls them; the snapshot still imports the real ones from `shadowbox`.
(module
  (func (export "net_fetch") (param i32 i32 i32 i32 i32) (result i32)
    i32.const -1))
