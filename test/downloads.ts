/**
 * Real HTTP against a listening test app, for what `inject` cannot show: clients that stop reading, sockets
 * that are dropped, responses held by backpressure.
 */

/**
 * A CSV of `rows` valid records, each with a 2 000-character note (about 6 KB as UTF-8), dated over 2023 and
 * 2024: a few thousand of them export to far more than socket buffers hold, so an unread download blocks
 * the server mid-stream.
 */
export function bulkyCsv(rows: number): string {
  const note = '备'.repeat(2000)
  const lines = ['channel,amount,occurred_on,region_code,supplier,note']
  for (let i = 0; i < rows; i++) {
    lines.push(
      `wholesale,${1 + (i % 97)}.25,${2023 + (i % 2)}-0${1 + (i % 9)}-1${i % 10},530502,s${i},${note}`,
    )
  }
  return `${lines.join('\n')}\n`
}
