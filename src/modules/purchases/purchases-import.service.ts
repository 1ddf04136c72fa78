import { AppError, type FieldError, forbidden, validationFailed } from '../../errors.js'
import type { Principal } from '../../plugins/auth.js'
import type { IdempotentOutcome, IdempotentRequest } from '../idempotency/idempotency.js'
import { type CreatePurchaseInput, createPurchaseBody } from './purchases.schemas.js'
import { type CreateBody, createPurchasesService } from './purchases.service.js'
import {
  type CsvEncoding,
  type CsvHeader,
  checkEncoding,
  forEachCsvRow,
  readHeader,
  rowToInput,
} from './purchases-csv.js'

/** A 100 000-row file with a wrong column would otherwise answer with 100 000 errors. */
export const MAX_REPORTED_ERRORS = 1_000

export interface ImportOptions {
  encoding: CsvEncoding
  dryRun: boolean
  /** Records every row for this org; the file's org_id column, if any, is then ignored. */
  orgId?: string
}

/** Keeps the first MAX_REPORTED_ERRORS problems of a 400/409 and says how many there were. */
function capErrors(err: unknown): unknown {
  if (!(err instanceof AppError) || !err.errors || err.errors.length <= MAX_REPORTED_ERRORS) return err
  return new AppError(
    err.code,
    err.status,
    `${err.detail} ${err.errors.length} problems in all; the first ${MAX_REPORTED_ERRORS} are listed.`,
    err.errors.slice(0, MAX_REPORTED_ERRORS),
    err.extra,
  )
}

/**
 * Reads a CSV file into create bodies: the header, then every row checked against the create-body schema.
 * Throws one 400 with every problem (header problems alone when the header is wrong), by spreadsheet row.
 */
export async function parseImport(
  bytes: Buffer,
  opts: { encoding: CsvEncoding; orgIdRequired: boolean; orgId?: string },
): Promise<{ items: CreatePurchaseInput[]; rowNumbers: number[] }> {
  checkEncoding(bytes, opts.encoding)
  let header: CsvHeader | undefined
  const items: CreatePurchaseInput[] = []
  const rowNumbers: number[] = []
  const errors: FieldError[] = []
  let problems = 0
  const report = (list: FieldError[]) => {
    problems += list.length
    for (const e of list) if (errors.length < MAX_REPORTED_ERRORS) errors.push(e)
  }
  await forEachCsvRow(bytes, opts.encoding, (row) => {
    if (!header) {
      if (row.cells.every((c) => c.trim() === '')) {
        throw validationFailed([
          { path: '/rows/1', message: 'row 1 must be the header row (column names); it is empty' },
        ])
      }
      header = readHeader(row.cells, { orgIdRequired: opts.orgIdRequired })
      return
    }
    const parsed = rowToInput(row, header)
    if (!parsed) return
    const { input } = parsed
    if (opts.orgId) input.org_id = opts.orgId
    const result = createPurchaseBody.safeParse(input)
    const rowErrors = parsed.errors
    if (!result.success) {
      const flagged = new Set(rowErrors.map((e) => e.path))
      for (const issue of result.error.issues) {
        const field = String(issue.path[0] ?? '')
        const path = `/rows/${row.row}/${field}`
        if (flagged.has(path)) continue
        flagged.add(path)
        rowErrors.push({
          path,
          message: input[field] === undefined ? 'required (the cell is empty)' : issue.message,
        })
      }
    }
    if (rowErrors.length > 0) report(rowErrors)
    else if (result.success) {
      items.push(result.data)
      rowNumbers.push(row.row)
    }
  })
  if (!header) {
    throw validationFailed([{ path: '/rows/1', message: 'the file is empty; row 1 must be the header row' }])
  }
  if (problems > 0) {
    const more = problems > errors.length ? `; the first ${errors.length} are listed` : ''
    throw validationFailed(errors, `${problems} problem(s) in the file${more}. Nothing was imported.`)
  }
  if (items.length === 0) {
    throw validationFailed([{ path: '/rows', message: 'the file has a header row but no data rows' }])
  }
  return { items, rowNumbers }
}

export function createPurchasesImportService(deps: Parameters<typeof createPurchasesService>[0]) {
  const purchases = createPurchasesService(deps)
  return {
    /** Imports a CSV file all or nothing (one transaction); a dry run checks everything and stores nothing. */
    async import(
      idem: IdempotentRequest,
      principal: Principal,
      bytes: Buffer,
      opts: ImportOptions,
    ): Promise<IdempotentOutcome<CreateBody>> {
      // Answer before reading 64 MiB when the request can never succeed.
      if (principal.role === 'reporter' && opts.orgId && opts.orgId !== principal.orgId) {
        throw forbidden('A reporter key can only import purchases for its own org.')
      }
      const { items, rowNumbers } = await parseImport(bytes, {
        encoding: opts.encoding,
        orgId: opts.orgId,
        orgIdRequired: principal.role !== 'reporter' && !opts.orgId,
      })
      try {
        return await purchases.create(idem, principal, items, {
          shape: 'import',
          dryRun: opts.dryRun,
          pathOf: (i) => `/rows/${rowNumbers[i]}`,
        })
      } catch (err) {
        throw capErrors(err)
      }
    },
  }
}
