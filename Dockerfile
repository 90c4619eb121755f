# AgentHub Billing: a multi-stage image. The build stage compiles the server and the dashboard; the runtime stage holds
# production dependencies and the build only, runs as a non-root user and checks its own health.
#   docker build -t agenthub-billing .
#   docker compose up            (compose.yaml: the server with PostgreSQL)
# Production needs DATABASE_URL, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and JWT_SECRET (or JWT_JWKS_URL): see
# docs/operations.md#container-image and docs/configuration.md.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY emulator ./emulator
COPY scripts ./scripts
COPY dashboard ./dashboard
RUN npm run -s build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=4000 HOST=0.0.0.0 DATA_DIR=/app/.data
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
USER node
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Migrations run at start (as with npm start); run `node dist/src/cli/db.js migrate` first to separate them.
CMD ["node", "dist/src/main.js"]
