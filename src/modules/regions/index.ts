/**
 * The regions module's public surface: what other modules may use. Its routes are
 * registered by src/routes.ts.
 */
export { allRegions } from './regions.service.js'
