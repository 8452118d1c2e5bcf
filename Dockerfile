# syntax=docker/dockerfile:1
# One image for every process of the shop and the fault proxy (docker-compose.yml
# picks the entry per container). Node 24 runs the TypeScript sources directly,
# so the image is the production dependencies plus the sources, run as the
# unprivileged `node` user.

FROM node:24.21.0-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; no install scripts (the `prepare` build and the
# `node` devDependency are for development machines).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24.21.0-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY package.json ./
COPY demo-services ./demo-services
COPY chaos ./chaos
COPY load ./load
USER node
EXPOSE 8080
CMD ["node", "--import", "./demo-services/kit/instrument.ts", "demo-services/gateway/main.ts"]
