import type { Principal } from '../../auth/principal.js'
import { shanghaiToday } from '../../dates.js'
import { type Db, type Executor, pgConstraint, pgErrorCode } from '../../db/client.js'
import { AppError, type FieldError, forbidden, validationFailed } from '../../errors.js'
import {
  type IdempotentOutcome,
  type IdempotentRequest,
  runIdempotent,
} from '../../idempotency/idempotency.js'
import { formatMoney } from '../../money.js'
import { INSERT_CHUNK, purchasesRepository as repo } from './purchases.repository.js'
import { type CreatePurchaseInput, createPurchaseBody } from './purchases.schemas.js'
import {
  assertOwnOrg,
  type CreateBody,
  type DomainContext,
  recordProblems,
  toNewPurchase,
  VOUCHER_INDEX,
  voucherClash,
  voucherTakenMessage,
} from './purchases.service.js'
import {
  type CsvEncoding,
  type CsvHeader,
  type CsvRow,
  checkEncoding,
  forEachCsvRow,
  readHeader,
  rowToInput,
} from './purchases-csv.js'

/** A 100 000-row file with a wrong column would otherwise answer with 100 000 errors. */
export const MAX_REPORTED_ERRORS = 1_000

/**
 * Valid rows checked and inserted together, while the parser goes on with the next ones: one INSERT
 * statement (the repository's chunk), so memory holds about this many rows whatever the file's size.
 */
export const IMPORT_CHUNK = INSERT_CHUNK
/** The first chunk is smaller, so the database starts writing soon; chunks then double up to IMPORT_CHUNK. */
const FIRST_CHUNK = 500

export interface ImportOptions {
  encoding: CsvEncoding
  dryRun: boolean
  /** Records every row for this org; the file's org_id column, if any, is then ignored. */
  orgId?: string
}

/** What a successful pass over the file found: the rows it would store (or stored) and their sum. */
interface ImportTally {
  count: number
  amountFen: bigint
}

interface PassOptions {
  encoding: CsvEncoding
  orgId?: string
  /**
   * Where the domain and voucher checks (and inserts) run. Undefined: only the file itself is checked
   * (header, CSV syntax, cells), as it was before any key or database was looked at.
   */
  ex?: Executor
  /** Insert the rows (chunk by chunk, while parsing) as long as no problem has been found. */
  insert: boolean
  today: string
}

/** Thrown out of the transaction when the voucher index refuses a row: the voucher is on an active record. */
class VoucherTaken extends Error {}

/** The first MAX_REPORTED_ERRORS problems of one kind, and how many there were in all. */
class Problems {
  readonly list: FieldError[] = []
  count = 0
  add(error: FieldError) {
    this.count++
    if (this.list.length < MAX_REPORTED_ERRORS) this.list.push(error)
  }
}

/**
 * Voucher clashes, reported sorted by row. A clash is found when its row is reached, except the first row
 * of a voucher repeated in the file, found at the second one; so the list is kept as the lowest rows seen
 * (sorted and trimmed whenever it doubles), which bounds it without changing what is reported.
 */
class Clashes {
  private rows: { row: number; error: FieldError }[] = []
  count = 0
  existingId: string | undefined
  add(row: number, error: FieldError) {
    this.count++
    this.rows.push({ row, error })
    if (this.rows.length >= 2 * MAX_REPORTED_ERRORS) this.trim()
  }
  private trim() {
    this.rows.sort((a, b) => a.row - b.row)
    if (this.rows.length > MAX_REPORTED_ERRORS) this.rows.length = MAX_REPORTED_ERRORS
  }
  errors(): FieldError[] {
    this.trim()
    return this.rows.map((r) => r.error)
  }
}

/** A 400/409 with at most MAX_REPORTED_ERRORS problems, saying how many there were when some are left out. */
function capped(err: AppError, count: number): AppError {
  if (count <= MAX_REPORTED_ERRORS) return err
  return new AppError(
    err.code,
    err.status,
    `${err.detail} ${count} problems in all; the first ${MAX_REPORTED_ERRORS} are listed.`,
    err.errors?.slice(0, MAX_REPORTED_ERRORS),
    err.extra,
  )
}

/**
 * One pass over a CSV file, streaming. Rows are parsed and checked against the create-body schema one by
 * one; valid rows gather into chunks (FIRST_CHUNK rows, doubling up to IMPORT_CHUNK), and each chunk gets
 * the domain checks (orgs, regions, dates; known orgs and regions are remembered across chunks). Then:
 *
 * - inserting pass (`insert`): while nothing has gone wrong, the chunk is inserted, and the insert is not
 *   awaited — the parser goes on with the next chunk while PostgreSQL writes this one; the next statement
 *   waits for it (one at a time on the transaction's connection), so at most one insert is in flight.
 *   Vouchers are not looked up: the partial unique index on active vouchers refuses a clash with a stored
 *   record or an earlier row of the file, and the insert fails with VoucherTaken; the caller then rolls
 *   back and runs a checking pass for the answer.
 * - checking pass (dry run, or after VoucherTaken, outside the rolled-back transaction): every voucher is
 *   checked against the file's earlier rows (a map voucher → first row) and new ones against the stored
 *   active records, to list every clashing row.
 *
 * Once a problem is found nothing more is inserted, but the file is read to the end so the answer lists
 * every problem; the caller's transaction rolls back whatever was inserted. Memory holds a chunk or two
 * and the problems to report (and, when checking, one map entry per voucher), never the file's rows.
 *
 * The answer follows the order the checks had when the whole file was parsed first and checked after:
 * header / CSV syntax → 400 at once; cell problems → 400 with those alone; no data rows → 400; a reporter
 * naming another org → 403; domain problems → 400; voucher clashes → 409 listing every clashing row.
 */
async function importPass(bytes: Buffer, principal: Principal, opts: PassOptions): Promise<ImportTally> {
  const { ex } = opts
  const orgIdRequired = principal.role !== 'reporter' && !opts.orgId
  let header: CsvHeader | undefined
  const cells = new Problems()
  const domain = new Problems()
  const clashes = new Clashes()
  let notOwnOrg: unknown
  let validRows = 0
  const tally: ImportTally = { count: 0, amountFen: 0n }

  let items: CreatePurchaseInput[] = []
  let rowNumbers: number[] = []
  let chunkSize = FIRST_CHUNK
  let context: DomainContext | undefined
  const missingOrgs = new Set<string>()
  /** voucher → the first row holding it. */
  const seen = new Map<string, number>()
  /** Vouchers found clashing: → the stored record's id, or null when repeated in the file. */
  const flagged = new Map<string, string | null>()
  let inserting: Promise<void> | undefined
  let flushing: Promise<void> | undefined

  /** Waits for the insert in flight (the connection runs one statement at a time); rethrows its failure. */
  const settle = async () => {
    const pending = inserting
    inserting = undefined
    if (pending) await pending
  }

  const flush = async (): Promise<void> => {
    const chunk = items
    const rows = rowNumbers
    items = []
    rowNumbers = []
    // After a cell problem the answer is that 400; after a 403, that 403: nothing more to check.
    if (!ex || chunk.length === 0 || cells.count > 0 || notOwnOrg !== undefined) return
    try {
      assertOwnOrg(principal, chunk)
    } catch (err) {
      notOwnOrg = err
      return
    }

    // Domain: regions once per file, each org id once per file.
    const unknownOrgs = new Set<string>()
    for (const item of chunk) {
      const org = item.org_id
      if (org && !context?.orgs.has(org) && !missingOrgs.has(org)) unknownOrgs.add(org)
    }
    if (!context || unknownOrgs.size > 0) {
      await settle()
      context ??= { principal, today: opts.today, regions: await repo.regionCodes(ex), orgs: new Set() }
      if (unknownOrgs.size > 0) {
        const found = await repo.existingOrgIds(ex, [...unknownOrgs])
        for (const org of unknownOrgs) (found.has(org) ? context.orgs : missingOrgs).add(org)
      }
    }
    const c = context
    for (let i = 0; i < chunk.length; i++) {
      const row = rows[i]
      const problems = recordProblems(c, chunk[i]!, (field) => `/rows/${row}/${field}`)
      for (const p of problems) domain.add(p)
    }
    // With a domain problem the answer is a 400 (or the 403 / cell 400): voucher clashes would not be shown.
    if (domain.count > 0) return

    // Inserting: the partial unique index on active vouchers checks each chunk against the stored records
    // and the rows inserted before it (a clash fails the insert with VoucherTaken), so no lookup per chunk
    // sits on the database's path and no voucher is remembered.
    if (opts.insert) {
      const records = chunk.map((item) => toNewPurchase(principal, item))
      for (const r of records) tally.amountFen += r.amountFen
      tally.count += records.length
      await settle()
      const pending = repo.insertMany(ex, principal.keyId, records, false).then(
        () => undefined,
        (err: unknown) => {
          if (pgErrorCode(err) === '23505' && pgConstraint(err) === VOUCHER_INDEX) throw new VoucherTaken()
          throw err
        },
      )
      // Awaited by the next settle(); until then a failure must not count as an unhandled rejection.
      pending.catch(() => {})
      inserting = pending
      return
    }

    // Checking: every voucher against the file's earlier rows, new ones against the stored active records.
    const fresh = new Set<string>()
    for (const item of chunk) {
      const v = item.voucher_no
      if (v != null && !seen.has(v)) fresh.add(v)
    }
    let stored: Map<string, string> | undefined
    if (fresh.size > 0) {
      await settle()
      stored = new Map((await repo.activeByVouchers(ex, [...fresh])).map((s) => [s.voucherNo, s.id]))
    }
    for (let i = 0; i < chunk.length; i++) {
      const v = chunk[i]!.voucher_no
      if (v == null) continue
      const row = rows[i]!
      const path = `/rows/${row}/voucher_no`
      const first = seen.get(v)
      if (first === undefined) {
        seen.set(v, row)
        const existing = stored?.get(v)
        if (existing) {
          flagged.set(v, existing)
          clashes.existingId ??= existing
          clashes.add(row, { path, message: voucherTakenMessage(v, existing) })
        }
        continue
      }
      let existing = flagged.get(v)
      if (existing === undefined) {
        existing = null
        flagged.set(v, null)
        clashes.add(first, { path: `/rows/${first}/voucher_no`, message: repeatedMessage(v) })
      }
      clashes.add(row, {
        path,
        message: existing === null ? repeatedMessage(v) : voucherTakenMessage(v, existing),
      })
    }
    if (clashes.count > 0) return
    for (const item of chunk) tally.amountFen += toNewPurchase(principal, item).amountFen
    tally.count += chunk.length
  }

  const onRow = (row: CsvRow): undefined | Promise<void> => {
    if (!header) {
      if (row.cells.every((c) => c.trim() === '')) {
        throw validationFailed([
          { path: '/rows/1', message: 'row 1 must be the header row (column names); it is empty' },
        ])
      }
      header = readHeader(row.cells, { orgIdRequired })
      return
    }
    const parsed = rowToInput(row, header)
    if (!parsed) return
    const { input } = parsed
    if (opts.orgId) input.org_id = opts.orgId
    const result = createPurchaseBody.safeParse(input)
    const rowErrors = parsed.errors
    if (!result.success) {
      const flaggedPaths = new Set(rowErrors.map((e) => e.path))
      for (const issue of result.error.issues) {
        const field = String(issue.path[0] ?? '')
        const path = `/rows/${row.row}/${field}`
        if (flaggedPaths.has(path)) continue
        flaggedPaths.add(path)
        rowErrors.push({
          path,
          message: input[field] === undefined ? 'required (the cell is empty)' : issue.message,
        })
      }
    }
    if (rowErrors.length > 0) {
      for (const e of rowErrors) cells.add(e)
      return
    }
    if (!result.success) return
    validRows++
    if (!ex || cells.count > 0) return
    items.push(result.data)
    rowNumbers.push(row.row)
    if (items.length < chunkSize) return
    chunkSize = Math.min(2 * chunkSize, IMPORT_CHUNK)
    flushing = flush()
    return flushing
  }

  try {
    await forEachCsvRow(bytes, opts.encoding, onRow)
    flushing = flush()
    await flushing
    await settle()
  } finally {
    // A failure mid-file (bad CSV, a failed query) may leave a chunk's checks or insert running on the
    // transaction's connection: let them end before the caller rolls back and gives the connection up.
    await flushing?.catch(() => {})
    await inserting?.catch(() => {})
  }

  if (!header) {
    throw validationFailed([{ path: '/rows/1', message: 'the file is empty; row 1 must be the header row' }])
  }
  if (cells.count > 0) {
    const more = cells.count > cells.list.length ? `; the first ${cells.list.length} are listed` : ''
    throw validationFailed(cells.list, `${cells.count} problem(s) in the file${more}. Nothing was imported.`)
  }
  if (validRows === 0) {
    throw validationFailed([{ path: '/rows', message: 'the file has a header row but no data rows' }])
  }
  if (notOwnOrg !== undefined) throw notOwnOrg
  if (domain.count > 0) {
    throw capped(validationFailed(domain.list, `${domain.count} problem(s) in the request.`), domain.count)
  }
  if (clashes.count > 0) throw capped(voucherClash(clashes.errors(), clashes.existingId), clashes.count)
  return tally
}

const repeatedMessage = (voucher: string) => `voucher ${voucher} appears more than once in this request`

export function createPurchasesImportService(deps: { db: Db; now: () => Date }) {
  return {
    /**
     * Imports a CSV file all or nothing (one transaction, with the idempotency record), validating and
     * inserting chunk by chunk while the file is parsed; a dry run checks everything and stores nothing.
     */
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
      checkEncoding(bytes, opts.encoding)
      const pass = (ex: Executor | undefined, insert: boolean) =>
        importPass(bytes, principal, {
          encoding: opts.encoding,
          orgId: opts.orgId,
          ex,
          insert,
          today: shanghaiToday(deps.now()),
        })
      try {
        return await runIdempotent<CreateBody>(deps.db, idem, async (tx) => {
          const { count, amountFen } = await pass(tx, !opts.dryRun)
          const amount = formatMoney(amountFen)
          if (opts.dryRun) return { status: 200, body: { valid: true, count, amount } }
          return { status: 201, body: { imported: count, amount } }
        })
      } catch (err) {
        if (err instanceof VoucherTaken) {
          // A voucher is on an active record, stored before or by a concurrent request. The transaction is
          // rolled back; a checking pass over the file gives the answer the checks give (a 409 listing every
          // clashing row, or whatever else is wrong). It finds nothing only when the other request has
          // rolled back since.
          await pass(deps.db, false)
          throw new AppError(
            'duplicate_voucher',
            409,
            'A voucher number was taken by a concurrent request; retry.',
          )
        }
        if (
          err instanceof AppError &&
          (err.code === 'idempotency_key_reused' || err.code === 'idempotency_key_in_use')
        ) {
          // The file's own problems (header, CSV, cells) come before the key, as when it was parsed first.
          await pass(undefined, false)
        }
        throw err
      }
    },
  }
}
