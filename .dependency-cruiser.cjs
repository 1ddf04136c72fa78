/**
 * The architecture as a check (`npm run lint`): where SQL may live, which way plugins and modules may
 * depend on each other, what a module may use of another, and no cycles. See docs/architecture.md.
 */
/** Composition roots: they wire modules and plugins together, so they may import both. */
const ROOTS = '^src/(app|routes|server)\\.ts$'

module.exports = {
  forbidden: [
    {
      name: 'sql-only-in-repositories',
      comment:
        'drizzle-orm (SQL) is imported only by *.repository.ts files, src/db/ and the schema: services, ' +
        'routes and plugins call repositories.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['\\.repository\\.ts$', '^src/db/'] },
      to: { path: '^node_modules/drizzle-orm/' },
    },
    {
      name: 'plugins-import-no-modules',
      comment: 'Plugins are infrastructure; what they need from a module is passed in by src/app.ts.',
      severity: 'error',
      from: { path: '^src/plugins/' },
      to: { path: '^src/modules/' },
    },
    {
      name: 'modules-import-no-plugins',
      comment: 'What modules and plugins both need (the principal, idempotency) lives in a neutral folder.',
      severity: 'error',
      from: { path: '^src/modules/' },
      to: { path: '^src/plugins/' },
    },
    {
      name: 'neutral-code-imports-no-modules-or-plugins',
      comment: 'src/db, src/auth, src/http, src/idempotency… sit below modules and plugins.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/modules/', '^src/plugins/', ROOTS] },
      to: { path: '^src/(modules|plugins)/' },
    },
    {
      name: 'modules-meet-through-public-files',
      comment:
        "A module uses another only through that module's declared public file, src/modules/<name>/index.ts; " +
        'never its services, repositories or other internals.',
      severity: 'error',
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/[^/]+/', pathNot: ['^src/modules/$1/', '^src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'no-cycles',
      comment: 'No import cycle anywhere (type-only imports count too).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
}
