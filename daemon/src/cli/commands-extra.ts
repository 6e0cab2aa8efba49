// Subcommands of capabilities beyond the lifecycle ones; each registers itself here.
export {};
