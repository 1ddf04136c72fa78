import t from 'tap'
import type { Principal } from '../../src/auth/principal.js'
import { assertMayNameOrg, ownOrgScope, seesOrg, visibleOrgRows } from '../../src/auth/visibility.js'
import { AppError } from '../../src/errors.js'

const ORG = '0190a1b2-0000-7000-8000-000000000001'
const OTHER = '0190a1b2-0000-7000-8000-000000000002'
const admin: Principal = { keyId: 'k-admin', role: 'admin', orgId: null }
const finance: Principal = { keyId: 'k-fin', role: 'finance', orgId: null }
const reporter: Principal = { keyId: 'k-rep', role: 'reporter', orgId: ORG }

const status = (fn: () => unknown) => {
  try {
    fn()
    return 'ok'
  } catch (err) {
    return err instanceof AppError ? err.status : 'not an AppError'
  }
}

t.test('seesOrg: admin and finance see every org, a reporter only its own', async (t) => {
  t.ok(seesOrg(admin, OTHER))
  t.ok(seesOrg(finance, OTHER))
  t.ok(seesOrg(reporter, ORG))
  t.notOk(seesOrg(reporter, OTHER))
})

t.test('assertMayNameOrg: a reporter naming another org is 403; no org named is fine', async (t) => {
  t.equal(
    status(() => assertMayNameOrg(reporter, OTHER, 'totals')),
    403,
  )
  t.equal(
    status(() => assertMayNameOrg(reporter, ORG, 'totals')),
    'ok',
  )
  t.equal(
    status(() => assertMayNameOrg(reporter, undefined, 'totals')),
    'ok',
  )
  t.equal(
    status(() => assertMayNameOrg(finance, OTHER, 'totals')),
    'ok',
  )
})

t.test('ownOrgScope: a reporter is held to its own org; others keep what they asked', async (t) => {
  t.equal(ownOrgScope(reporter, undefined, 'x'), ORG)
  t.equal(ownOrgScope(reporter, ORG, 'x'), ORG)
  t.equal(
    status(() => ownOrgScope(reporter, OTHER, 'x')),
    403,
  )
  t.equal(ownOrgScope(admin, undefined, 'x'), undefined)
  t.equal(ownOrgScope(finance, OTHER, 'x'), OTHER)
})

t.test('visibleOrgRows: a reporter keeps its own rows only', async (t) => {
  const rows = [{ orgId: ORG }, { orgId: OTHER }, { orgId: ORG }]
  t.same(visibleOrgRows(reporter, rows), [{ orgId: ORG }, { orgId: ORG }])
  t.same(visibleOrgRows(finance, rows), rows)
})
