/**
 * The orgs module's public surface: what other modules may use. Its routes are
 * registered by src/routes.ts.
 */
export { orgExists, orgNames } from './orgs.service.js'
