/** The checking pass's record of vouchers: which row first held each, and which clash. */
import { voucherRepeatedMessage, voucherTakenMessage } from '../purchases.domain.js'
import { Clashes } from './import-problems.js'

export class VoucherLedger {
  readonly clashes = new Clashes()
  /** voucher → the first row holding it. */
  private readonly seen = new Map<string, number>()
  /** Vouchers found clashing: → the stored record's id, or null when repeated in the file. */
  private readonly flagged = new Map<string, string | null>()

  /** The chunk's vouchers not met in an earlier row: those to look up among stored records. */
  unseen(items: readonly { voucher_no?: string | null }[]): string[] {
    const fresh = new Set<string>()
    for (const { voucher_no: v } of items) if (v != null && !this.seen.has(v)) fresh.add(v)
    return [...fresh]
  }

  /**
   * A row's voucher: the first row holding it clashes when a stored active record has it (`stored`:
   * voucher → record id, for the vouchers looked up); a later row always clashes, and makes the first
   * clash too when that one did not already.
   */
  record(voucher: string, row: number, stored: ReadonlyMap<string, string> | undefined): void {
    const path = `/rows/${row}/voucher_no`
    const first = this.seen.get(voucher)
    if (first === undefined) {
      this.seen.set(voucher, row)
      const existing = stored?.get(voucher)
      if (existing) {
        this.flagged.set(voucher, existing)
        this.clashes.existingId ??= existing
        this.clashes.add(row, { path, message: voucherTakenMessage(voucher, existing) })
      }
      return
    }
    let existing = this.flagged.get(voucher)
    if (existing === undefined) {
      existing = null
      this.flagged.set(voucher, null)
      this.clashes.add(first, { path: `/rows/${first}/voucher_no`, message: voucherRepeatedMessage(voucher) })
    }
    const message =
      existing === null ? voucherRepeatedMessage(voucher) : voucherTakenMessage(voucher, existing)
    this.clashes.add(row, { path, message })
  }
}
