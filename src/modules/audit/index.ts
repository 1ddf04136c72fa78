/**
 * The audit module's public surface: what other modules may use. Its routes are
 * registered by src/routes.ts.
 */
export { appendAudit } from './audit.repository.js'
