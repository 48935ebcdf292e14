// Mastra's own memory server, the peer memkit is measured against in `make bench`.
//
//   MASTRA_PEER_DIR=.cache/mastra-peer node mastra_server.mjs --port 4111 --storage file:/tmp/mastra.db
//   MASTRA_PEER_DIR=.cache/mastra-peer node mastra_server.mjs --port 4111 \
//       --storage dynamodb://mastra-bench --endpoint http://127.0.0.1:8000
//
// The Hono adapter serves every Mastra route under /api, as `mastra build` does. One agent,
// "default", has the memory the scenario compares: the last 20 messages, resource-scoped
// working memory, no generated titles, no semantic recall. The memory routes never call its
// model, so no model key is needed. Storage is LibSQLStore on a file, or DynamoDBStore on its
// single table, created here as the adapter's TABLE_SETUP.md describes when it is missing.
//
// The packages come from MASTRA_PEER_DIR (installed from bench/peer/package.json), not from a
// node_modules next to this file; they are all loaded through one require so that every
// package sees the same @mastra/core classes.

import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";

const peerDir = process.env.MASTRA_PEER_DIR;
if (!peerDir) {
  console.error("MASTRA_PEER_DIR (the folder holding the installed bench/peer/package.json) is required");
  process.exit(2);
}
const load = createRequire(path.join(path.resolve(peerDir), "package.json"));

const { values: options } = parseArgs({
  options: {
    port: { type: "string" },
    storage: { type: "string" },
    endpoint: { type: "string" },
  },
});
if (!options.port || !options.storage) {
  console.error("usage: mastra_server.mjs --port N --storage (file:PATH | dynamodb://TABLE --endpoint URL)");
  process.exit(2);
}

const { Mastra } = load("@mastra/core/mastra");
const { Agent } = load("@mastra/core/agent");
const { Memory } = load("@mastra/memory");
const { MastraServer } = load("@mastra/hono");
const { Hono } = load("hono");
const { serve } = load("@hono/node-server");

const AGENT_MEMORY = {
  lastMessages: 20,
  semanticRecall: false,
  generateTitle: false,
  workingMemory: { enabled: true, scope: "resource" },
};

async function createDynamoDBTable(tableName, endpoint) {
  const { DynamoDBClient, CreateTableCommand, waitUntilTableExists } = load("@aws-sdk/client-dynamodb");
  const client = new DynamoDBClient({ endpoint, region: process.env.AWS_REGION || "us-east-1" });
  const stringKey = (name) => ({ AttributeName: name, AttributeType: "S" });
  const index = (name) => ({
    IndexName: name,
    KeySchema: [
      { AttributeName: `${name}pk`, KeyType: "HASH" },
      { AttributeName: `${name}sk`, KeyType: "RANGE" },
    ],
    Projection: { ProjectionType: "ALL" },
  });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"].map(stringKey),
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [index("gsi1"), index("gsi2")],
      }),
    );
  } catch (error) {
    if (error.name !== "ResourceInUseException") throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
  client.destroy();
}

async function createStorage(url, endpoint) {
  if (url.startsWith("file:")) {
    const { LibSQLStore } = load("@mastra/libsql");
    return new LibSQLStore({ id: "mastra-bench", url });
  }
  if (url.startsWith("dynamodb://")) {
    if (!endpoint) throw new Error("--endpoint is required with dynamodb:// storage");
    const tableName = url.slice("dynamodb://".length);
    await createDynamoDBTable(tableName, endpoint);
    const { DynamoDBStore } = load("@mastra/dynamodb");
    return new DynamoDBStore({
      name: "dynamodb",
      config: { id: "mastra-bench", tableName, endpoint, region: process.env.AWS_REGION || "us-east-1" },
    });
  }
  throw new Error(`--storage must be file:PATH or dynamodb://TABLE, not ${url}`);
}

const storage = await createStorage(options.storage, options.endpoint);
const agent = new Agent({
  id: "default",
  name: "default",
  instructions: "A memory benchmark agent; its model is never called.",
  model: "openai/gpt-4o-mini",
  memory: new Memory({ options: AGENT_MEMORY }),
});
const mastra = new Mastra({ storage, agents: { default: agent } });

const app = new Hono();
await new MastraServer({ app, mastra }).init();
const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: Number(options.port) }, (info) => {
  console.log(`mastra memory server on http://127.0.0.1:${info.port} (storage ${options.storage})`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
