# Stands in for postgres:15 on a registry-less engine: Debian's postgresql-15 (in
# matchcast-services, made by scripts/compose-images.sh) behind an entrypoint with the official
# image's interface (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA).
FROM matchcast-services:bookworm
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
