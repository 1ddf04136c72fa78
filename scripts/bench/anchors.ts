/**
 * The anchors the service is measured against, each run as its own process by the bench:
 *   hello — a bare Fastify hello-world GET (the framework's ceiling on this machine);
 *   post  — a bare Fastify POST that validates a small JSON body with a JSON schema and does one INSERT
 *           through a `pg` Pool (max 20): the floor any purchase-recording service pays.
 * Usage: node --import tsx scripts/bench/anchors.ts hello|post   (PORT, HOST; DATABASE_URL for post)
 */
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'

export const ANCHOR_TABLE = 'bench_anchor_purchases'

const postBody = {
  type: 'object',
  additionalProperties: false,
  required: ['channel', 'amount', 'occurred_on', 'region_code', 'supplier'],
  properties: {
    channel: { enum: ['wholesale', 'union_welfare', 'enterprise', 'canteen', 'market_sales'] },
    amount: { type: 'string', pattern: '^\\d{1,10}(\\.\\d{1,2})?$' },
    occurred_on: { type: 'string', format: 'date' },
    region_code: { type: 'string', pattern: '^[0-9]{6}$' },
    supplier: { type: 'string', minLength: 1, maxLength: 200 },
    product: { type: 'string', maxLength: 200 },
    voucher_no: { type: 'string', maxLength: 100 },
  },
} as const

/** The POST anchor: validate by JSON schema, one INSERT through a pool of 20; answers the pool. */
async function registerPost(app: FastifyInstance): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 })
  await pool.query(`create table if not exists ${ANCHOR_TABLE} (
    id bigserial primary key, channel text not null, amount_fen bigint not null, occurred_on date not null,
    region_code char(6) not null, supplier text not null, product text, voucher_no text,
    created_at timestamptz not null default now())`)
  app.post<{ Body: Record<string, string> }>('/', { schema: { body: postBody } }, async (request, reply) => {
    const b = request.body
    const [yuan, fen = ''] = b.amount!.split('.')
    const { rows } = await pool.query(
      `insert into ${ANCHOR_TABLE} (channel, amount_fen, occurred_on, region_code, supplier, product, voucher_no)
     values ($1, $2, $3, $4, $5, $6, $7) returning id`,
      [
        b.channel,
        `${yuan}${fen.padEnd(2, '0')}`,
        b.occurred_on,
        b.region_code,
        b.supplier,
        b.product ?? null,
        b.voucher_no ?? null,
      ],
    )
    reply.code(201)
    return { id: String(rows[0].id) }
  })
  return pool
}

async function main() {
  const kind = process.argv[2]
  const app = Fastify({ logger: false })
  let pool: pg.Pool | undefined

  if (kind === 'hello') {
    app.get('/', async () => ({ hello: 'world' }))
  } else if (kind === 'post') {
    pool = await registerPost(app)
  } else {
    throw new Error(`unknown anchor ${kind}; use hello or post`)
  }
  app.get('/healthz', async () => ({ ok: true }))

  const close = async () => {
    await app.close()
    await pool?.end()
    process.exit(0)
  }
  process.once('SIGTERM', close)
  process.once('SIGINT', close)
  await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' })
}

main().catch((err) => {
  console.error(`anchor failed: ${(err as Error).message}`)
  process.exit(1)
})
