// Drives a memkit server with the real, unmodified @mastra/client-js 1.x (Node 22).
//
//   MEMKIT_URL=http://127.0.0.1:8000 MASTRA_CLIENT_DIR=.cache/mastra-client node client_compat.mjs
//
// Every step asserts on what the client returns; the first mismatch exits non-zero with a
// message naming the step. The client is loaded from MASTRA_CLIENT_DIR because this file lives
// in the repository, outside the folder where npm installed the package.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const baseUrl = process.env.MEMKIT_URL;
const clientDir = process.env.MASTRA_CLIENT_DIR;
if (!baseUrl || !clientDir) {
  console.error("MEMKIT_URL and MASTRA_CLIENT_DIR are required");
  process.exit(2);
}

const requireFromClientDir = createRequire(path.join(path.resolve(clientDir), "package.json"));
const { MastraClient } = await import(pathToFileURL(requireFromClientDir.resolve("@mastra/client-js")).href);

// retries: 0 so that a server error fails the step at once instead of after backoff.
const client = new MastraClient({ baseUrl, retries: 0 });
const agentId = "default";
const suffix = `${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
const resourceId = `compat-user-${suffix}`;
const threadId = `compat-thread-${suffix}`;
const messageIds = [0, 1, 2].map((i) => `compat-msg-${i}-${suffix}`);

let currentStep = "start";
async function step(name, body) {
  currentStep = name;
  await body();
  console.log(`ok  ${name}`);
}

function textMessage(id, text, role, second) {
  return {
    id,
    threadId,
    resourceId,
    role,
    type: "v2",
    createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, second)),
    content: { format: 2, parts: [{ type: "text", text }] },
  };
}

async function expectStatus(promise, status) {
  try {
    await promise;
  } catch (error) {
    assert.equal(error.status, status, `expected HTTP ${status}, got ${error.status}: ${error.message}`);
    return error;
  }
  assert.fail(`expected HTTP ${status}, but the call succeeded`);
}

try {
  await step("status and config", async () => {
    const status = await client.getMemoryStatus(agentId);
    assert.equal(status.result, true);
    const { config } = await client.getMemoryConfig({ agentId });
    assert.equal(config.workingMemory.enabled, true);
  });

  await step("create thread", async () => {
    const created = await client.createMemoryThread({
      agentId,
      resourceId,
      threadId,
      title: "Compat thread",
      metadata: { project: "compat" },
    });
    assert.equal(created.id, threadId);
    assert.equal(created.resourceId, resourceId);
    assert.equal(created.title, "Compat thread");
    assert.deepEqual(created.metadata, { project: "compat" });
  });

  await step("list threads", async () => {
    const listed = await client.listMemoryThreads({
      resourceId,
      agentId,
      metadata: { project: "compat" },
      page: 0,
      perPage: 10,
      orderBy: { field: "updatedAt", direction: "DESC" },
    });
    assert.deepEqual(listed.threads.map((t) => t.id), [threadId]);
    assert.equal(listed.total, 1);
    assert.equal(listed.hasMore, false);
  });

  const thread = client.getMemoryThread({ threadId, agentId });

  await step("get thread", async () => {
    const got = await thread.get();
    assert.equal(got.id, threadId);
    assert.equal(got.title, "Compat thread");
  });

  await step("update thread", async () => {
    const updated = await thread.update({ title: "Renamed", metadata: { project: "compat", stage: "two" }, resourceId });
    assert.equal(updated.title, "Renamed");
    assert.deepEqual(updated.metadata, { project: "compat", stage: "two" });
  });

  await step("save messages", async () => {
    const saved = await client.saveMessageToMemory({
      agentId,
      messages: [
        textMessage(messageIds[0], "My name is Ada", "user", 0),
        textMessage(messageIds[1], "Nice to meet you, Ada", "assistant", 1),
        textMessage(messageIds[2], "I live in Lisbon", "user", 2),
      ],
    });
    assert.deepEqual(saved.messages.map((m) => m.id), messageIds);
    assert.equal(saved.messages[0].createdAt, "2025-01-01T00:00:00.000Z");
  });

  await step("list messages with include", async () => {
    const page = await thread.listMessages({
      resourceId,
      page: 0,
      perPage: 1,
      orderBy: { field: "createdAt", direction: "DESC" },
      include: [{ id: messageIds[0], threadId, withNextMessages: 1 }],
    });
    assert.equal(page.total, 3);
    assert.equal(page.hasMore, true);
    assert.deepEqual(new Set(page.messages.map((m) => m.id)), new Set(messageIds));
    const ada = page.messages.find((m) => m.id === messageIds[0]);
    assert.equal(ada.content.parts[0].text, "My name is Ada");

    const users = await client.listThreadMessages(threadId, { agentId, filter: { roles: ["user"] } });
    assert.deepEqual(users.messages.map((m) => m.id), [messageIds[0], messageIds[2]]);
  });

  await step("working memory", async () => {
    const before = await client.getWorkingMemory({ agentId, threadId, resourceId });
    assert.equal(before.workingMemory, null);
    assert.equal(before.source, "resource");
    assert.equal(before.workingMemoryTemplate.format, "markdown");

    const written = await client.updateWorkingMemory({
      agentId,
      threadId,
      resourceId,
      workingMemory: "# User\n- **First Name**: Ada\n- **Location**: Lisbon",
    });
    assert.equal(written.success, true);

    // Without resourceId the client sends the literal "undefined"; the thread's owner is used.
    const after = await client.getWorkingMemory({ agentId, threadId });
    assert.equal(after.workingMemory, "# User\n- **First Name**: Ada\n- **Location**: Lisbon");
    assert.equal(after.threadExists, true);
  });

  await step("clone thread", async () => {
    const cloned = await thread.clone({ newThreadId: `${threadId}-copy`, title: "Copy" });
    assert.equal(cloned.thread.id, `${threadId}-copy`);
    assert.equal(cloned.clonedMessages.length, 3);
    await client.getMemoryThread({ threadId: `${threadId}-copy`, agentId }).delete();
  });

  await step("delete messages", async () => {
    const one = await thread.deleteMessages(messageIds[0]);
    assert.deepEqual(one, { success: true, message: "1 message(s) deleted successfully" });
    const objects = await thread.deleteMessages([{ id: messageIds[1] }, { id: messageIds[2] }]);
    assert.equal(objects.message, "2 message(s) deleted successfully");
    const left = await thread.listMessages({ resourceId });
    assert.equal(left.total, 0);
  });

  await step("errors surface as client errors", async () => {
    const missing = await expectStatus(client.getMemoryThread({ threadId: `missing-${suffix}`, agentId }).get(), 404);
    assert.deepEqual(missing.body, { error: "Thread not found" });
    await expectStatus(client.getMemoryThread({ threadId, agentId: `nobody-${suffix}` }).get(), 404);
    const bad = await expectStatus(thread.listMessages({ page: -1 }), 400);
    assert.match(bad.body.error, /page/);
  });

  await step("search memory", async () => {
    // The "recall" agent has semanticRecall; the server indexes synchronously (MEMKIT_INDEXING=sync).
    const recallAgent = "recall";
    const recallThread = `${threadId}-recall`;
    const ids = [0, 1, 2].map((i) => `compat-recall-${i}-${suffix}`);
    await client.createMemoryThread({ agentId: recallAgent, resourceId, threadId: recallThread, title: "Sailing" });
    await client.saveMessageToMemory({
      agentId: recallAgent,
      messages: [
        { ...textMessage(ids[0], "My sailing boat is called Albatross", "user", 10), threadId: recallThread },
        { ...textMessage(ids[1], "Albatross is a lovely name for a boat", "assistant", 11), threadId: recallThread },
        { ...textMessage(ids[2], "I also collect vintage postcards", "user", 12), threadId: recallThread },
      ],
    });

    const found = await client.searchMemory({ agentId: recallAgent, resourceId, searchQuery: "what is my sailing boat called?" });
    assert.equal(found.searchType, "semantic");
    assert.equal(found.searchScope, "resource");
    assert.equal(found.query, "what is my sailing boat called?");
    assert.equal(found.count, found.results.length);
    const best = found.results[0];
    assert.equal(best.id, ids[0]);
    assert.equal(best.content, "My sailing boat is called Albatross");
    assert.equal(best.threadId, recallThread);
    assert.equal(best.threadTitle, "Sailing");
    assert.deepEqual(best.context.before, []);
    assert.deepEqual(best.context.after.map((m) => m.id), [ids[1]]);

    const scoped = await client.searchMemory({
      agentId: recallAgent,
      resourceId,
      threadId: recallThread,
      searchQuery: "postcards",
      memoryConfig: { semanticRecall: { topK: 2, messageRange: 0, scope: "thread" } },
    });
    assert.equal(scoped.searchScope, "thread");
    assert.equal(scoped.results[0].id, ids[2]);

    const refused = await expectStatus(client.searchMemory({ agentId, resourceId, searchQuery: "boat" }), 400);
    assert.match(refused.body.error, /semantic recall is not enabled/);

    await client.getMemoryThread({ threadId: recallThread, agentId: recallAgent }).delete();
  });

  await step("delete thread", async () => {
    const deleted = await thread.delete();
    assert.deepEqual(deleted, { result: "Thread deleted" });
    await expectStatus(thread.get(), 404);
    const listed = await client.listMemoryThreads({ resourceId, agentId });
    assert.equal(listed.total, 0);
  });
} catch (error) {
  console.error(`FAILED at step "${currentStep}": ${error.stack || error}`);
  process.exit(1);
}
console.log("client compat: all steps passed");
