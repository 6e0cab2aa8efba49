// Built-in file tools: every one does its I/O through ToolContext.view (the session's shadow view).
import type { Spawner } from '../../spawner/index.js';
import type { Tool } from '../define.js';
import { createDeleteFileTool } from './delete-file.js';
import { createEditFileTool } from './edit-file.js';
import { createGlobTool } from './glob.js';
import { createGrepTool } from './grep.js';
import { createListDirTool } from './list-dir.js';
import { createMoveFileTool } from './move-file.js';
import { createReadFileTool } from './read-file.js';
import { createWriteFileTool } from './write-file.js';

/** Options of the built-in tools. */
export interface BuiltinToolsOptions {
  /** The ripgrep binary grep searches the person's unchanged files with (findRipgrep()); null = in process only. */
  rg?: string | null;
  /** What starts rg (the daemon's spawner process); default direct spawns. */
  spawner?: Spawner;
}

/** The eight built-in file tools, in the order the model sees them. */
export function createBuiltinTools(options: BuiltinToolsOptions = {}): Tool[] {
  return [
    createReadFileTool(),
    createListDirTool(),
    createGlobTool(),
    createGrepTool({ rg: options.rg ?? null, ...(options.spawner ? { spawner: options.spawner } : {}) }),
    createWriteFileTool(),
    createEditFileTool(),
    createDeleteFileTool(),
    createMoveFileTool(),
  ] as Tool[];
}
