# Runtime image for the procurement tracker, on Node 24 LTS (the service supports Node 24 and 22).
# One stage: production dependencies (esbuild among them), then `npm run build` bundles src/ into
# dist/server.mjs, which the container runs with node, as `npm start` does. src/ and scripts/ stay in the
# image for the build and for the CLI scripts (`npm run create-key`, `npm run migrate`), which run through
# tsx, a runtime dependency; migrations/ is read at start-up, when pending migrations are applied.
FROM node:24-bookworm-slim

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

WORKDIR /app

# Dependencies first, so the layer is reused when only sources change.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY tsconfig.json ./
COPY migrations ./migrations
COPY openapi ./openapi
COPY scripts ./scripts
COPY src ./src
# The server runs as one bundled ES module (dependencies stay in node_modules, --packages=external): less
# memory than running the sources through tsx.
RUN npm run build --silent

# Sources stay root-owned (read-only to the app); only the PGlite data directory, used when
# DATABASE_URL is unset, must be writable by the unprivileged user.
RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 3000

# Node's own fetch: the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node directly (not npm start) so SIGTERM reaches the server and its graceful close.
CMD ["node", "--enable-source-maps", "--max-old-space-size=160", "dist/server.mjs"]
