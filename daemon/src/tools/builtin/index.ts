// Built-in file tools: every one does its I/O through ToolContext.view (the session's shadow view).
import type { Tool } from '../define.js';
import { createDeleteFileTool } from './delete-file.js';
import { createEditFileTool } from './edit-file.js';
import { createGlobTool } from './glob.js';
import { createGrepTool } from './grep.js';
import { createListDirTool } from './list-dir.js';
import { createMoveFileTool } from './move-file.js';
import { createReadFileTool } from './read-file.js';
import { createWriteFileTool } from './write-file.js';

/** The eight built-in file tools, in the order the model sees them. */
export function createBuiltinTools(): Tool[] {
  return [
    createReadFileTool(),
    createListDirTool(),
    createGlobTool(),
    createGrepTool(),
    createWriteFileTool(),
    createEditFileTool(),
    createDeleteFileTool(),
    createMoveFileTool(),
  ] as Tool[];
}
