import { forbidden } from '../errors.js'
import type { Principal } from './principal.js'

/**
 * The one visibility rule (README, "Who sees what"):
 * - figures of the whole district (totals, breakdowns by month, channel or county, the monthly report's
 *   channel and county tables) are for every role;
 * - anything about one org (its records, its figures, its row in a per-org list, its canteen budget) is for
 *   admin and finance, and for a reporter only when the org is its own.
 * A filter naming another org is a 403 (orgs are not secret: their names are in every export); a record of
 * another org answers 404 on every verb, as a missing one does, so its existence does not leak.
 */
export const seesOrg = (principal: Principal, orgId: string): boolean =>
  principal.role !== 'reporter' || principal.orgId === orgId

/** 403 when a reporter's query names an org other than its own; `what` says what was asked for. */
export function assertMayNameOrg(principal: Principal, orgId: string | undefined, what: string): void {
  if (orgId !== undefined && !seesOrg(principal, orgId)) {
    throw forbidden(`A reporter key can only see its own org's ${what}.`)
  }
}

/** The org a per-org query is held to: a reporter's own (naming another is a 403); others' as asked. */
export function ownOrgScope(
  principal: Principal,
  orgId: string | undefined,
  what: string,
): string | undefined {
  assertMayNameOrg(principal, orgId, what)
  return principal.role === 'reporter' ? principal.orgId! : orgId
}

/** The rows of a per-org list the principal may see. */
export const visibleOrgRows = <T extends { orgId: string }>(principal: Principal, rows: readonly T[]): T[] =>
  rows.filter((row) => seesOrg(principal, row.orgId))
