/**
 * `npm run openapi`: writes the OpenAPI document the app serves at /openapi.json to openapi/openapi.json.
 * The app is built on a throwaway in-memory database with the default configuration (never the caller's
 * environment), so the document is the same on every machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openDatabase } from '../src/db/client.js'

export const OPENAPI_PATH = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url))

async function main() {
  const database = openDatabase({})
  try {
    const app = await buildApp({ config: loadConfig({}), database })
    try {
      await app.ready()
      mkdirSync(dirname(OPENAPI_PATH), { recursive: true })
      writeFileSync(OPENAPI_PATH, `${JSON.stringify(app.swagger(), null, 2)}\n`)
    } finally {
      await app.close()
    }
  } finally {
    await database.close()
  }
  console.log(`wrote ${OPENAPI_PATH}`)
}

main().catch((err) => {
  console.error(`openapi generation failed: ${(err as Error).message}`)
  process.exit(1)
})
