# Stands in for redis:7 on a registry-less engine: Debian's redis-server and redis-cli (in
# matchcast-services), with /data owned by uid 999, the official image's redis user, which
# docker-compose.yml runs it as.
FROM matchcast-services:bookworm
RUN mkdir -p /data && chown 999:999 /data
WORKDIR /data
EXPOSE 6379
CMD ["redis-server"]
