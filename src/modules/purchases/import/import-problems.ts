/** The bounded problem lists of an import pass: at most MAX_REPORTED_ERRORS of each kind are kept. */
import { AppError, type FieldError } from '../../../errors.js'

/** A 100 000-row file with a wrong column would otherwise answer with 100 000 errors. */
export const MAX_REPORTED_ERRORS = 1_000

/** The first MAX_REPORTED_ERRORS problems of one kind, and how many there were in all. */
export class Problems {
  readonly list: FieldError[] = []
  count = 0
  add(error: FieldError) {
    this.count++
    if (this.list.length < MAX_REPORTED_ERRORS) this.list.push(error)
  }
  /** No more problems will be listed (only counted). */
  get full(): boolean {
    return this.list.length >= MAX_REPORTED_ERRORS
  }
}

/**
 * Voucher clashes, reported sorted by row. A clash is found when its row is reached, except the first row
 * of a voucher repeated in the file, found at the second one; so the list is kept as the lowest rows seen
 * (sorted and trimmed whenever it doubles), which bounds it without changing what is reported.
 */
export class Clashes {
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
export function capped(err: AppError, count: number): AppError {
  if (count <= MAX_REPORTED_ERRORS) return err
  return new AppError(
    err.code,
    err.status,
    `${err.detail} ${count} problems in all; the first ${MAX_REPORTED_ERRORS} are listed.`,
    err.errors?.slice(0, MAX_REPORTED_ERRORS),
    err.extra,
  )
}
