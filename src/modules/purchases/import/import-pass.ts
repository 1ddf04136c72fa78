/**
 * One pass over a CSV file, streaming. Rows are parsed and checked against the create-body schema one by
 * one; valid rows gather into chunks (FIRST_CHUNK rows, doubling up to IMPORT_CHUNK), and each chunk gets
 * the domain checks (orgs, regions, dates; known orgs and regions are remembered across chunks). Then:
 *
 * - inserting pass (`insert`): while nothing has gone wrong, the chunk is inserted, and the insert is not
 *   awaited — the parser goes on with the next chunk while PostgreSQL writes this one; the next statement
 *   waits for it (one at a time on the transaction's connection), so at most one insert is in flight.
 *   Vouchers are not looked up: the partial unique index on active vouchers refuses a clash with a stored
 *   record or an earlier row of the file, and the insert fails (a `purchase_voucher` unique violation); the caller then rolls
 *   back and runs a checking pass for the answer.
 * - checking pass (dry run, or after that violation, outside the rolled-back transaction): every voucher is
 *   checked against the file's earlier rows and new ones against the stored active records, to list every
 *   clashing row (see VoucherLedger).
 *
 * Once a problem is found nothing more is inserted, but the file is read to the end so the answer lists
 * every problem; the caller's transaction rolls back whatever was inserted. The CPU work (parsing, the
 * checks of each row and each chunk) runs in slices of about 10 ms with a turn of the event loop between
 * them (CpuSlices), so other requests are answered while a large file is checked.
 *
 * Memory holds a chunk or two and the problems to report (and, when checking, one map entry per voucher),
 * never the file's rows.
 *
 * The answer follows the order the checks had when the whole file was parsed first and checked after:
 * header / CSV syntax → 400 at once; cell problems → 400 with those alone; no data rows → 400; a reporter
 * naming another org → 403; domain problems → 400; voucher clashes → 409 listing every clashing row.
 */

import type { Principal } from '../../../auth/principal.js'
import type { Executor } from '../../../db/client.js'
import { validationFailed } from '../../../errors.js'
import {
  assertOwnOrg,
  type DomainContext,
  type NewPurchase,
  recordProblems,
  toNewPurchase,
  voucherClash,
} from '../purchases.domain.js'
import { INSERT_CHUNK, purchasesRepository as repo } from '../purchases.repository.js'
import type { CreatePurchaseInput } from '../purchases.schemas.js'
import { CpuSlices } from './cpu-slices.js'
import { type CsvEncoding, type CsvHeader, type CsvRow, forEachCsvRow, readHeader } from './csv-reader.js'
import { capped, Problems } from './import-problems.js'
import { rowToItem } from './import-rows.js'
import { VoucherLedger } from './voucher-ledger.js'

/**
 * Valid rows checked and inserted together, while the parser goes on with the next ones: one INSERT
 * statement (the repository's chunk), so memory holds about this many rows whatever the file's size.
 */
export const IMPORT_CHUNK = INSERT_CHUNK
/** The first chunk is smaller, so the database starts writing soon; chunks then double up to IMPORT_CHUNK. */
const FIRST_CHUNK = 500

export interface PassOptions {
  encoding: CsvEncoding
  /** Records every row for this org; the file's org_id column, if any, is then ignored. */
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

/** What a successful pass over the file found: the rows it would store (or stored) and their sum. */
export interface ImportTally {
  count: number
  amountFen: bigint
}

/** Valid rows waiting for their domain checks, with their spreadsheet row numbers. */
interface Chunk {
  items: CreatePurchaseInput[]
  rows: number[]
}

/** Runs one pass over the file; resolves to the tally, or throws the answer's problem. */
export async function importPass(
  bytes: Buffer,
  principal: Principal,
  opts: PassOptions,
): Promise<ImportTally> {
  return new ImportPass(principal, opts).run(bytes)
}

class ImportPass {
  private header: CsvHeader | undefined
  private readonly slices = new CpuSlices()
  private readonly cells = new Problems()
  private readonly domain = new Problems()
  private readonly vouchers = new VoucherLedger()
  private notOwnOrg: unknown
  private validRows = 0
  private readonly tally: ImportTally = { count: 0, amountFen: 0n }
  private chunk: Chunk = { items: [], rows: [] }
  private chunkSize = FIRST_CHUNK
  private context: DomainContext | undefined
  private readonly missingOrgs = new Set<string>()
  private inserting: Promise<void> | undefined
  private flushing: Promise<void> | undefined

  constructor(
    private readonly principal: Principal,
    private readonly opts: PassOptions,
  ) {}

  async run(bytes: Buffer): Promise<ImportTally> {
    try {
      await forEachCsvRow(bytes, this.opts.encoding, (row) => this.onRow(row), this.slices)
      this.flushing = this.flush()
      await this.flushing
      await this.insertDone()
    } finally {
      // A failure mid-file (bad CSV, a failed query) may leave a chunk's checks or insert running on the
      // transaction's connection: let them end before the caller rolls back and gives the connection up.
      await this.flushing?.catch(() => {})
      await this.inserting?.catch(() => {})
    }
    return this.answer()
  }

  /** Header first; then each data row: its cell problems, or a valid item into the chunk. */
  private onRow(row: CsvRow): undefined | Promise<void> {
    if (!this.header) {
      this.header = this.readHeaderRow(row)
      return
    }
    const item = this.checkedItem(row)
    if (!item || !this.opts.ex || this.cells.count > 0) return
    this.chunk.items.push(item)
    this.chunk.rows.push(row.row)
    if (this.chunk.items.length < this.chunkSize) return
    this.chunkSize = Math.min(2 * this.chunkSize, IMPORT_CHUNK)
    this.flushing = this.flush()
    return this.flushing
  }

  private readHeaderRow(row: CsvRow): CsvHeader {
    if (row.cells.every((c) => c.trim() === '')) {
      throw validationFailed([
        { path: '/rows/1', message: 'row 1 must be the header row (column names); it is empty' },
      ])
    }
    return readHeader(row.cells, { orgIdRequired: this.principal.role !== 'reporter' && !this.opts.orgId })
  }

  /** The row as a create body, or undefined when it is blank or has problems (recorded). */
  private checkedItem(row: CsvRow): CreatePurchaseInput | undefined {
    const checked = rowToItem(row, this.header!, this.opts.orgId)
    if (!checked) return undefined
    for (const e of checked.errors) this.cells.add(e)
    if (!checked.item) return undefined
    this.validRows++
    return checked.item
  }

  /** Waits for the insert in flight (the connection runs one statement at a time); rethrows its failure. */
  private async insertDone(): Promise<void> {
    const pending = this.inserting
    this.inserting = undefined
    if (pending) await pending
  }

  /** Checks the chunk gathered so far, then inserts it or checks its vouchers. */
  private async flush(): Promise<void> {
    const chunk = this.chunk
    this.chunk = { items: [], rows: [] }
    const { ex } = this.opts
    // After a cell problem the answer is that 400; after a 403, that 403: nothing more to check.
    if (!ex || chunk.items.length === 0 || this.cells.count > 0 || this.notOwnOrg !== undefined) return
    try {
      assertOwnOrg(this.principal, chunk.items)
    } catch (err) {
      this.notOwnOrg = err
      return
    }
    await this.checkDomain(ex, chunk)
    // With a domain problem the answer is a 400 (or the 403 / cell 400): voucher clashes would not be shown.
    if (this.domain.count > 0) return
    if (this.opts.insert) await this.insertChunk(ex, chunk)
    else await this.checkChunkVouchers(ex, chunk)
  }

  /** Dates, regions and orgs: regions are read once per file, each org id looked up once per file. */
  private async checkDomain(ex: Executor, chunk: Chunk): Promise<void> {
    const unknownOrgs = new Set<string>()
    for (const item of chunk.items) {
      const org = item.org_id
      if (org && !this.context?.orgs.has(org) && !this.missingOrgs.has(org)) unknownOrgs.add(org)
    }
    if (!this.context || unknownOrgs.size > 0) {
      await this.insertDone()
      this.context ??= {
        principal: this.principal,
        today: this.opts.today,
        regions: await repo.regionCodes(ex),
        orgs: new Set(),
      }
      const found = unknownOrgs.size > 0 ? await repo.existingOrgIds(ex, [...unknownOrgs]) : new Set<string>()
      for (const org of unknownOrgs) (found.has(org) ? this.context.orgs : this.missingOrgs).add(org)
    }
    const c = this.context
    await this.eachItem(chunk, (item, row) => {
      for (const p of recordProblems(c, item, (field) => `/rows/${row}/${field}`)) this.domain.add(p)
    })
  }

  /** Runs `each` over the chunk's rows (5 000 of them), giving the event loop its turns. */
  private async eachItem(
    chunk: Chunk,
    each: (item: CreatePurchaseInput, row: number) => void,
  ): Promise<void> {
    for (let i = 0; i < chunk.items.length; i++) {
      each(chunk.items[i]!, chunk.rows[i]!)
      if (i % 256 === 255 && this.slices.due()) await this.slices.pause()
    }
  }

  /**
   * Starts the chunk's insert without awaiting it. The partial unique index on active vouchers checks it
   * against the stored records and the rows inserted before it (a clash fails it), so
   * no lookup per chunk sits on the database's path and no voucher is remembered.
   */
  private async insertChunk(ex: Executor, chunk: Chunk): Promise<void> {
    const records: NewPurchase[] = []
    await this.eachItem(chunk, (item) => {
      const record = toNewPurchase(this.principal, item)
      this.tally.amountFen += record.amountFen
      records.push(record)
    })
    this.tally.count += records.length
    await this.insertDone()
    const pending = repo.insertMany(ex, this.principal.keyId, records, false).then(() => undefined)
    // Awaited by the next insertDone(); until then a failure must not count as an unhandled rejection.
    pending.catch(() => {})
    this.inserting = pending
  }

  /** Checking pass: the chunk's vouchers against earlier rows and stored records; tallies a clean chunk. */
  private async checkChunkVouchers(ex: Executor, chunk: Chunk): Promise<void> {
    const fresh = this.vouchers.unseen(chunk.items)
    let stored: Map<string, string> | undefined
    if (fresh.length > 0) {
      await this.insertDone()
      stored = new Map((await repo.activeByVoucherKeys(ex, fresh)).map((s) => [s.voucherKey, s.id]))
    }
    await this.eachItem(chunk, (item, row) => {
      if (item.voucher_no != null) this.vouchers.record(item.voucher_no, row, stored)
    })
    if (this.vouchers.clashes.count > 0) return
    await this.eachItem(chunk, (item) => {
      this.tally.amountFen += toNewPurchase(this.principal, item).amountFen
    })
    this.tally.count += chunk.items.length
  }

  /** The tally, or the first answer in the checks' order. */
  private answer(): ImportTally {
    if (!this.header) {
      throw validationFailed([
        { path: '/rows/1', message: 'the file is empty; row 1 must be the header row' },
      ])
    }
    const { cells, domain } = this
    if (cells.count > 0) {
      const more = cells.count > cells.list.length ? `; the first ${cells.list.length} are listed` : ''
      throw validationFailed(
        cells.list,
        `${cells.count} problem(s) in the file${more}. Nothing was imported.`,
      )
    }
    if (this.validRows === 0) {
      throw validationFailed([{ path: '/rows', message: 'the file has a header row but no data rows' }])
    }
    if (this.notOwnOrg !== undefined) throw this.notOwnOrg
    if (domain.count > 0) {
      throw capped(validationFailed(domain.list, `${domain.count} problem(s) in the request.`), domain.count)
    }
    const { clashes } = this.vouchers
    if (clashes.count > 0) throw capped(voucherClash(clashes.errors(), clashes.existingId), clashes.count)
    return this.tally
  }
}
