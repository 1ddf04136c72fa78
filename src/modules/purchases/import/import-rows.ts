/** One data row of an import → a checked create body, or every problem of its cells. */
import type { FieldError } from '../../../errors.js'
import { type CreatePurchaseInput, createPurchaseBody } from '../purchases.schemas.js'
import { type CsvHeader, type CsvRow, rowToInput } from './csv-reader.js'

/**
 * The row's cell problems (CSV-only spellings, then the create-body schema's, one per field) and, when it
 * has none, the create body. Undefined for a row with every cell empty (skipped). `orgId` (the `?org_id=`
 * of the import) replaces the row's own.
 */
export function rowToItem(
  row: CsvRow,
  header: CsvHeader,
  orgId: string | undefined,
): { item?: CreatePurchaseInput; errors: FieldError[] } | undefined {
  const parsed = rowToInput(row, header)
  if (!parsed) return undefined
  const { input, errors } = parsed
  if (orgId) input.org_id = orgId
  const result = createPurchaseBody.safeParse(input)
  if (result.success) return errors.length > 0 ? { errors } : { item: result.data, errors }
  const flaggedPaths = new Set(errors.map((e) => e.path))
  for (const issue of result.error.issues) {
    const field = String(issue.path[0] ?? '')
    const path = `/rows/${row.row}/${field}`
    if (flaggedPaths.has(path)) continue
    flaggedPaths.add(path)
    errors.push({
      path,
      message: input[field] === undefined ? 'required (the cell is empty)' : issue.message,
    })
  }
  return { errors }
}
