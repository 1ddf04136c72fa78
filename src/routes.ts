import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Deps } from './deps.js'
import { apiKeysRoutes } from './modules/api-keys/api-keys.routes.js'
import { auditRoutes } from './modules/audit/audit.routes.js'
import { canteenRoutes } from './modules/canteen/canteen.routes.js'
import { orgsRoutes } from './modules/orgs/orgs.routes.js'
import { purchasesExportRoutes } from './modules/purchases/export/purchases-export.routes.js'
import { purchasesImportRoutes } from './modules/purchases/import/purchases-import.routes.js'
import { purchasesRoutes } from './modules/purchases/purchases.routes.js'
import { regionsRoutes } from './modules/regions/regions.routes.js'
import { reportsRoutes } from './modules/reports/reports.routes.js'
import { targetsRoutes } from './modules/targets/targets.routes.js'
import { totalsRoutes } from './modules/totals/totals.routes.js'

/** Every /v1 route plugin, registered in this order under authentication and rate limiting. */
export const v1Routes: FastifyPluginAsyncZod<{ deps: Deps }>[] = [
  orgsRoutes,
  regionsRoutes,
  apiKeysRoutes,
  auditRoutes,
  purchasesRoutes,
  purchasesImportRoutes,
  purchasesExportRoutes,
  targetsRoutes,
  canteenRoutes,
  totalsRoutes,
  reportsRoutes,
]
