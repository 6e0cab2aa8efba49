// Regenerates docs/protocol.md from the protocol package's declarations (build first: npm run build).
import { writeFileSync } from 'node:fs';
import { renderProtocolDocs } from '../protocol/dist/index.js';

writeFileSync(new URL('../docs/protocol.md', import.meta.url), renderProtocolDocs());
console.log('wrote docs/protocol.md');
