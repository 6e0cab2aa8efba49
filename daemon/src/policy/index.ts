// Permission policy: allow / ask / deny per tool call, from mode defaults, project rules, session grants and protected paths.
export { createPolicy, type PolicyService, type PolicyDeps } from './service.js';
export {
  decide,
  modeDefault,
  grantRulesFor,
  DEFAULT_PROTECTED,
  type PolicyQuery,
  type PolicyDecision,
  type PolicyInputs,
  type PolicyMode,
} from './decide.js';
export { rulesFilePath } from './rules-file.js';
export { viewWriteProtected } from './view-rules.js';
