import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Deps } from '../../deps.js'
import { errorResponses } from '../../schemas.js'
import { breakdownQuery, breakdownSchema, totalsQuery, totalsSchema } from './totals.schemas.js'
import { createTotalsService } from './totals.service.js'

const HOW_COUNTED =
  'Sums come from rollups kept by database triggers in the same statement as every write to purchases, so ' +
  'the cost does not grow with the number of records: for the whole district and a year to date (as_of ' +
  '31 December, or today or later) from the year rollups, a few hundred rows whatever the number of records ' +
  'and orgs; otherwise from the monthly rollup `purchase_totals`, whole months, and when as_of falls inside a ' +
  'month and is before today, that one month summed from the active records dated from its 1st to as_of ' +
  '(records are never dated in the future, so from today on the rollups are already exact). Every figure of ' +
  'one response comes from one SQL statement, so from one snapshot. Money is exact (integer fen); ratios ' +
  'are half-up to 4 places.'

export const totalsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createTotalsService(deps)
  const tags = ['totals']

  app.get(
    '/totals',
    {
      schema: {
        tags,
        summary: 'Running totals against the year’s targets',
        description:
          'Active records with occurred_on ≤ as_of, per channel, with progress, remaining and pace ' +
          '(`expected_by_now = target × elapsed_days / days_in_year`, elapsed counted up to and including ' +
          'as_of; `projected_year_end = total × days_in_year / elapsed_days`; both half-up to the fen; ' +
          '`on_track = total ≥ expected_by_now`). Pace is given for every channel and every market-sales ' +
          'county with a target, and is null (like target, progress and remaining) without one. The canteen ' +
          'channel’s target is the sum of the declared units’ reserved amounts. Every role may read the ' +
          'district’s figures; with `org_id`, one org’s: admin and finance any org, a reporter its own only ' +
          `(another org → 403). ${HOW_COUNTED}`,
        querystring: totalsQuery,
        response: { 200: totalsSchema, ...errorResponses(403) },
      },
    },
    async (request) => service.totals(request.principal, request.query),
  )

  app.get(
    '/totals/breakdown',
    {
      schema: {
        tags,
        summary: 'Totals broken down by month, org, county or channel',
        description:
          '`by=month`: every month from January to as_of’s month (key `2024-05`, label `2024年5月`), zero or not. ' +
          '`by=channel`: all five channels in their fixed order (only the filtered one with `channel=`), label in ' +
          'Chinese. `by=region`: every registered county by code, zero or not, label = county name. `by=org`: ' +
          'every org with at least one counted record, largest total first, label = org name; a reporter’s ' +
          'lists its own org only (as if `org_id` named it). The rows always add up to the matching figure of ' +
          '`GET /v1/totals`. Who may name which `org_id`: as for totals. ' +
          HOW_COUNTED,
        querystring: breakdownQuery,
        response: { 200: breakdownSchema, ...errorResponses(403) },
      },
    },
    async (request) => service.breakdown(request.principal, request.query),
  )
}
