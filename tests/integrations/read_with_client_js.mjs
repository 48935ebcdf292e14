// Reads one thread with @mastra/client-js (as a Mastra app would) and prints it as JSON:
// {"thread": ..., "messages": [...]}. Env: MEMKIT_URL, MASTRA_CLIENT_DIR, THREAD_ID, RESOURCE_ID.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const { MEMKIT_URL: baseUrl, MASTRA_CLIENT_DIR: clientDir, THREAD_ID: threadId, RESOURCE_ID: resourceId } = process.env;
const requireFromClientDir = createRequire(path.join(path.resolve(clientDir), "package.json"));
const { MastraClient } = await import(pathToFileURL(requireFromClientDir.resolve("@mastra/client-js")).href);

const client = new MastraClient({ baseUrl, retries: 0 });
const thread = client.getMemoryThread({ threadId, agentId: "default" });
const info = await thread.get();
const page = await thread.listMessages({ resourceId, perPage: false, orderBy: { field: "createdAt", direction: "ASC" } });
console.log(JSON.stringify({ thread: info, messages: page.messages }));
