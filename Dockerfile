# Partner Hub. Set DATABASE_URL to use an external PostgreSQL; without it the embedded
# server runs inside the container with its data in /data.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY schema ./schema
COPY resolvers ./resolvers
COPY auth ./auth
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --create-home hub && mkdir /data && chown hub /data
USER hub
ENV HUB_DATA_DIR=/data
EXPOSE 8000
CMD ["hub", "serve", "--host", "0.0.0.0", "--port", "8000"]
