/**
 * The checking pass's record of vouchers, by key (see voucher-key.ts: 'INV-001' in row 2 and 'inv-001 ' in
 * row 9 are the same voucher): which row first held each, and which clash.
 */
import { voucherRepeatedMessage, voucherTakenMessage } from '../purchases.domain.js'
import { voucherKey } from '../voucher-key.js'
import { Clashes } from './import-problems.js'

export class VoucherLedger {
  readonly clashes = new Clashes()
  /** key → the first row holding it and its voucher text there. */
  private readonly seen = new Map<string, { row: number; voucher: string }>()
  /** Keys found clashing: → the stored record's id, or null when repeated in the file. */
  private readonly flagged = new Map<string, string | null>()

  /** The keys of the chunk's vouchers not met in an earlier row: those to look up among stored records. */
  unseen(items: readonly { voucher_no?: string | null }[]): string[] {
    const fresh = new Set<string>()
    for (const { voucher_no: v } of items) {
      if (v == null) continue
      const key = voucherKey(v)
      if (!this.seen.has(key)) fresh.add(key)
    }
    return [...fresh]
  }

  /**
   * A row's voucher: the first row holding its key clashes when a stored active record has it (`stored`:
   * key → record id, for the keys looked up); a later row always clashes, and makes the first clash too
   * when that one did not already. Each message quotes its own row's voucher text.
   */
  record(voucher: string, row: number, stored: ReadonlyMap<string, string> | undefined): void {
    const key = voucherKey(voucher)
    const path = `/rows/${row}/voucher_no`
    const first = this.seen.get(key)
    if (first === undefined) {
      this.seen.set(key, { row, voucher })
      const existing = stored?.get(key)
      if (existing) {
        this.flagged.set(key, existing)
        this.clashes.existingId ??= existing
        this.clashes.add(row, { path, message: voucherTakenMessage(voucher, existing) })
      }
      return
    }
    let existing = this.flagged.get(key)
    if (existing === undefined) {
      existing = null
      this.flagged.set(key, null)
      this.clashes.add(first.row, {
        path: `/rows/${first.row}/voucher_no`,
        message: voucherRepeatedMessage(first.voucher),
      })
    }
    const message =
      existing === null ? voucherRepeatedMessage(voucher) : voucherTakenMessage(voucher, existing)
    this.clashes.add(row, { path, message })
  }
}
