/**
 * The canteen module's public surface: what other modules may use. Its routes are
 * registered by src/routes.ts.
 */
export { type CanteenUnit, canteenUnitsOf } from './canteen.domain.js'
export { budgetsOfYear } from './canteen.repository.js'
export { loadCanteenUnits } from './canteen.service.js'
