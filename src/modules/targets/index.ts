/**
 * The targets module's public surface: what other modules may use. Its routes are
 * registered by src/routes.ts.
 */
export { targetsOfYear } from './targets.repository.js'
export { loadYearTargets, type YearTargets, yearTargetsOf } from './targets.service.js'
