/**
 * The totals module's public surface: what other modules may use. Its routes are
 * registered by src/routes.ts.
 */
export { progress } from './totals.domain.js'
