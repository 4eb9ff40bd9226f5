# Stratum in a container: `docker-compose up --build` (see docker-compose.yml and the README).
#
# Two stages: the first compiles the TypeScript and keeps only the production dependencies; the
# second is a slim Node.js image with the compiled JavaScript, run as the unprivileged `node` user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# No install scripts: the build needs only the TypeScript compiler, and the native modules of the
# benchmarks (devDependencies) would otherwise be fetched or compiled for nothing.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY proto ./proto
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/proto ./proto
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 50051
# `stratum serve` stops gracefully on SIGTERM: calls in flight finish, the store is flushed and closed.
STOPSIGNAL SIGTERM
# Needs no token; with TLS, set LSE_TLS_CA (the CA of the server's certificate) in the environment.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "bin/stratum.mjs", "health", "--address", "127.0.0.1:50051", "--deadline-ms", "4000"]
# Arguments after the image name (compose's `command:`) are added to these: --insecure, or the TLS
# and token flags, since serve refuses 0.0.0.0 without either.
ENTRYPOINT ["node", "bin/stratum.mjs", "serve", "--host", "0.0.0.0", "--data-dir", "/data"]
CMD []
