/**
 * `npm run create-key -- --role admin --name me [--org <uuid>]`: creates an API key in the configured
 * database and prints its secret (only on stdout, only once; it is stored as a hash).
 */
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../src/config.js'
import { inTransaction, openTaskDatabase } from '../src/db/client.js'
import { EmbeddedPostgresError } from '../src/db/embedded-postgres.js'
import { runMigrations } from '../src/db/migrate.js'
import { AppError } from '../src/errors.js'
import { ROLES } from '../src/modules/api-keys/api-keys.schemas.js'
import { createApiKeysService } from '../src/modules/api-keys/api-keys.service.js'

const USAGE = 'usage: npm run create-key -- --role admin|finance|reporter --name <name> [--org <org uuid>]'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

class UsageError extends Error {}

type Role = (typeof ROLES)[number]

function parse(argv: string[]): { role: Role; name: string; org?: string } {
  let values: { role?: string; name?: string; org?: string; help?: boolean }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        role: { type: 'string' },
        name: { type: 'string' },
        org: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const role = values.role
  if (!role) throw new UsageError('--role is required')
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(', ')} (got "${role}")`)
  }
  const name = values.name?.trim()
  if (!name) throw new UsageError('--name is required and must not be empty')
  if (name.length > 200) throw new UsageError('--name must be at most 200 characters')
  if (values.org !== undefined && !UUID.test(values.org))
    throw new UsageError('--org must be an org id (UUID)')
  if (role === 'reporter' && !values.org) throw new UsageError('a reporter key needs --org <org id>')
  if (role !== 'reporter' && values.org) throw new UsageError(`an ${role} key must not have --org`)
  return { role: role as Role, name, org: values.org }
}

async function main() {
  const args = parse(process.argv.slice(2))
  const config = loadConfig(process.env)
  const database = await openTaskDatabase(config)
  try {
    await runMigrations(database)
    const db = database.db
    const created = await inTransaction(db, (tx) =>
      createApiKeysService({ db }).createIn(tx, null, { name: args.name, role: args.role, org_id: args.org }),
    )
    console.error(`created ${created.body.role} key ${created.body.id} ("${created.body.name}"); the secret:`)
    console.log(created.body.secret)
  } finally {
    await database.close()
  }
}

main().catch((err) => {
  if (err instanceof UsageError) {
    console.error(`create-key: ${err.message}\n${USAGE}`)
  } else if (err instanceof ConfigError) {
    console.error(err.message)
  } else if (err instanceof EmbeddedPostgresError) {
    console.error(`create-key: ${err.message}, or give the server ADMIN_API_KEY instead`)
  } else if (err instanceof AppError) {
    const details = err.errors
      ?.map((e) => `${e.path === '/org_id' ? '--org' : e.path}: ${e.message}`)
      .join('; ')
    console.error(`create-key: ${details || err.detail}`)
  } else {
    console.error(`create-key failed: ${(err as Error).message}`)
  }
  process.exit(1)
})
