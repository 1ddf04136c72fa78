/** CSV import of purchases: all or nothing, in one transaction with the idempotency record. */

import type { Principal } from '../../../auth/principal.js'
import { shanghaiToday } from '../../../dates.js'
import type { Db, Executor } from '../../../db/client.js'
import { isUniqueViolation } from '../../../db/errors.js'
import { AppError, forbidden } from '../../../errors.js'
import {
  type IdempotentOutcome,
  type IdempotentRequest,
  runIdempotent,
} from '../../../idempotency/idempotency.js'
import { formatMoney } from '../../../money.js'
import { voucherRace } from '../purchases.domain.js'
import type { DryRunBody } from '../purchases.service.js'
import { type CsvEncoding, checkEncoding } from './csv-reader.js'
import { importPass } from './import-pass.js'

export interface ImportOptions {
  encoding: CsvEncoding
  dryRun: boolean
  /** Records every row for this org; the file's org_id column, if any, is then ignored. */
  orgId?: string
}

export type ImportBody = { imported: number; amount: string } | DryRunBody

const isKeyConflict = (err: unknown) =>
  err instanceof AppError && (err.code === 'idempotency_key_reused' || err.code === 'idempotency_key_in_use')

export function createPurchasesImportService(deps: { db: Db; now: () => Date }) {
  /**
   * Imports a CSV file all or nothing (one transaction, with the idempotency record), validating and
   * inserting chunk by chunk while the file is parsed; a dry run checks everything and stores nothing.
   */
  async function importCsv(
    idem: IdempotentRequest,
    principal: Principal,
    bytes: Buffer,
    opts: ImportOptions,
  ): Promise<IdempotentOutcome<ImportBody>> {
    // Answer before reading 64 MiB when the request can never succeed.
    if (principal.role === 'reporter' && opts.orgId && opts.orgId !== principal.orgId) {
      throw forbidden('A reporter key can only import purchases for its own org.')
    }
    await checkEncoding(bytes, opts.encoding)
    const today = shanghaiToday(deps.now())
    const pass = (ex: Executor | undefined, insert: boolean) =>
      importPass(bytes, principal, { encoding: opts.encoding, orgId: opts.orgId, ex, insert, today })
    try {
      return await runIdempotent<ImportBody>(deps.db, idem, async (tx) => {
        const { count, amountFen } = await pass(tx, !opts.dryRun)
        const amount = formatMoney(amountFen)
        if (opts.dryRun) return { status: 200, body: { valid: true, count, amount } }
        return { status: 201, body: { imported: count, amount } }
      })
    } catch (err) {
      if (isUniqueViolation(err, 'purchase_voucher')) {
        // A voucher is on an active record, stored before or by a concurrent request. The transaction is
        // rolled back; a checking pass over the file gives the answer the checks give (a 409 listing every
        // clashing row, or whatever else is wrong). It finds nothing only when the other request has
        // rolled back since.
        await pass(deps.db, false)
        throw voucherRace()
      }
      // The file's own problems (header, CSV, cells) come before the key, as when it was parsed first.
      if (isKeyConflict(err)) await pass(undefined, false)
      throw err
    }
  }

  return { import: importCsv }
}
