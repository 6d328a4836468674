// PostGraphile 5 over the hub's tables: the third column of `python -m bench.read_path`.
//
// Connects as the application role `hub_app` (DATABASE_URL), so the hub's forced row-level
// security applies unchanged, and sets the same settings per request through pgSettings:
// `hub.org_id` from the trusted header X-Hub-Org and `hub.grant_ids` from X-Hub-Grant-Ids
// (the partner's live grants, read by the benchmark before each round). Like the raw endpoint
// it is a peer to measure against, not a product: no token, no disclosure record.
//
// Run (node >= 22): DATABASE_URL=postgresql://hub_app@/hub?host=/tmp/... PORT=8002 \
//   node bench/postgraphile/server.mjs
import { createServer } from "node:http";

import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { postgraphile } from "postgraphile";

const connectionString = process.env.DATABASE_URL;
const port = Number(process.env.PORT ?? 8002);
const host = process.env.HOST ?? "127.0.0.1";
if (!connectionString) {
  console.error("DATABASE_URL (as hub_app) is required");
  process.exit(2);
}

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      pgSettings(requestContext) {
        const headers = requestContext.node?.req?.headers ?? {};
        return {
          "hub.org_id": String(headers["x-hub-org"] ?? ""),
          "hub.grant_ids": String(headers["x-hub-grant-ids"] ?? ""),
        };
      },
    }),
  ],
  grafserv: { graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 120_000;
server.on("error", (error) => {
  console.error(error);
  process.exit(1);
});
await serv.addTo(server);
// Build the schema before listening, so the first timed request does not pay for it.
await pgl.getSchema();
server.listen(port, host, () => {
  console.log(`PostGraphile listening on http://${host}:${port}/graphql`);
});

const stop = async () => {
  server.close();
  await pgl.release();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
