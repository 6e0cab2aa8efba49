// The spawner capability: starts programs (rg for grep) from a small long-lived process instead of the daemon, whose
// fork would copy the daemon's page tables while its event loop waits (docs/architecture.md, "Spawner").
export { createSpawner, type SpawnerOptions } from './spawner.js';
export { SpawnError, type ProgramExit, type ProgramOptions, type RunningProgram, type Spawner } from './types.js';
