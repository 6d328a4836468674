# Partner Hub. Set DATABASE_URL to use an external PostgreSQL; without it the embedded server
# runs inside the container with its data in the /data volume. HUB_ISSUER is required: the URL
# clients reach the hub at (tokens name it, links point to it); `hub serve` refuses to listen
# on 0.0.0.0 without it.
#
#   docker build -t partner-hub .
#   docker run -p 8000:8000 -e HUB_ISSUER=http://localhost:8000 -v hub-data:/data partner-hub
#   docker run -p 8000:8000 -e HUB_ISSUER=https://hub.example.com \
#       -e DATABASE_URL=postgresql+asyncpg://owner:secret@db/hub partner-hub
FROM python:3.11.11-slim-bookworm
WORKDIR /app
# Dependencies first, exactly as pinned: a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY schema ./schema
COPY resolvers ./resolvers
COPY auth ./auth
COPY migrations ./migrations
RUN pip install --no-cache-dir --no-deps . && useradd --create-home hub && mkdir /data \
    && chown hub /data
USER hub
ENV HUB_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
CMD ["hub", "serve", "--host", "0.0.0.0", "--port", "8000"]
