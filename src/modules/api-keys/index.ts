/**
 * The api-keys module's public surface: what the app may use. Its routes are
 * registered by src/routes.ts.
 */
export { createApiKeysService, createPrincipalLookup } from './api-keys.service.js'
