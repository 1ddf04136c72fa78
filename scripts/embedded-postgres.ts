/**
 * `npx tsx scripts/embedded-postgres.ts <data dir>`: runs the embedded PostgreSQL of a data directory on its
 * own and prints its connection URL as the first line of stdout, until SIGINT or SIGTERM stops it. CI runs
 * the test suite on it (the `npm start` default's server, with its settings); an operator can point psql
 * at it while no server runs.
 */
import { openEmbeddedPostgres } from '../src/db/embedded-postgres.js'

async function main() {
  const dataDir = process.argv[2]
  if (!dataDir) throw new Error('usage: tsx scripts/embedded-postgres.ts <data dir>')
  const server = await openEmbeddedPostgres({ dataDir, exclusive: true })
  console.log(server.url)
  const stop = () => {
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((err) => {
  console.error(`embedded-postgres: ${(err as Error).message}`)
  process.exit(1)
})
