// One scenario, driven with the real @mastra/client-js against memkit and against Mastra's own
// server, alternating between them in the same process so that both see the same client, the
// same machine and the same moment. `make bench` (bench/peer/__init__.py) runs it; it prints one
// JSON document on stdout.
//
//   MASTRA_PEER_DIR=.cache/mastra-peer node driver.mjs '{"mode": "latency", "targets": [...]}'
//
// A target is {"name", "url", "agentId"} and, for the "calls" mode, "meter": the URL of the
// counting proxy (infra/local/dynamodb_meter.py) its server reaches DynamoDB through, and
// "calls", the groups of calls to meter for it ("turn", "saves", "bulk"; all by default), and
// "redisPort" when its server caches in Upstash (the local gateway's redis-server, where the
// commands Upstash would bill are counted).
//
// An agent turn is what an agent does per user message through client-js: list the thread's
// last 20 messages, get the resource's working memory, save the user's message and the reply.
//
// Modes:
//   latency  sequential turns, each call timed; per round a fresh conversation per target
//   load     N concurrent users doing turns for a fixed time: completed turns and turn latencies
//   calls    one call at a time, with the DynamoDB requests and capacity units the meter saw
//
// Every reply is checked (a list of 20 messages, the working memory written at setup, the saved
// ids echoed back): a server that answers wrongly fails the run instead of being measured.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { performance } from "node:perf_hooks";

const peerDir = process.env.MASTRA_PEER_DIR;
if (!peerDir || !process.argv[2]) {
  console.error("usage: MASTRA_PEER_DIR=DIR node driver.mjs '<json config>'");
  process.exit(2);
}
const { MastraClient } = createRequire(path.join(path.resolve(peerDir), "package.json"))("@mastra/client-js");

const config = JSON.parse(process.argv[2]);
const HISTORY = config.history ?? 30;
const LAST_MESSAGES = 20;
const WORKING_MEMORY = "# User Information\n- **First Name**: Ada\n- **Location**: Lisbon\n";
const TEXT = "lorem ipsum ".repeat(20);

// retries: 0, so a server error fails the run at once instead of hiding behind backoff.
const clientFor = (target) => new MastraClient({ baseUrl: target.url, retries: 0 });

let clock = Date.UTC(2025, 0, 1);
function message(conversation, role, text = TEXT) {
  clock += 1;
  return {
    id: `m-${randomUUID()}`,
    threadId: conversation.threadId,
    resourceId: conversation.resourceId,
    role,
    type: "v2",
    createdAt: new Date(clock),
    content: { format: 2, parts: [{ type: "text", text }] },
  };
}

function exchange(conversation, count, text) {
  return Array.from({ length: count }, (_, i) => message(conversation, i % 2 === 0 ? "user" : "assistant", text));
}

async function save(client, target, messages) {
  const saved = await client.saveMessageToMemory({ agentId: target.agentId, messages });
  const ids = (saved.messages ?? saved).map((m) => m.id);
  assert.deepEqual(new Set(ids), new Set(messages.map((m) => m.id)), `${target.name}: save did not echo the saved ids`);
}

/** A thread with `history` messages and working memory on its resource; nothing of it is measured. */
async function conversation(client, target, history = HISTORY) {
  const suffix = randomUUID();
  const conv = { resourceId: `peer-user-${suffix}`, threadId: `peer-thread-${suffix}` };
  await client.createMemoryThread({ agentId: target.agentId, resourceId: conv.resourceId, threadId: conv.threadId, title: "Bench" });
  for (let saved = 0; saved < history; saved += 100) {
    await save(client, target, exchange(conv, Math.min(100, history - saved)));
  }
  await client.updateWorkingMemory({
    agentId: target.agentId,
    threadId: conv.threadId,
    resourceId: conv.resourceId,
    workingMemory: WORKING_MEMORY,
  });
  return conv;
}

// The three calls of a turn, each a function so that it can be timed or metered alone.
function turnCalls(client, target, conv) {
  return {
    "list last 20": async () => {
      const page = await client.getMemoryThread({ threadId: conv.threadId, agentId: target.agentId }).listMessages({
        resourceId: conv.resourceId,
        perPage: LAST_MESSAGES,
        orderBy: { field: "createdAt", direction: "DESC" },
      });
      assert.equal(page.messages.length, LAST_MESSAGES, `${target.name}: list last 20 returned ${page.messages.length}`);
    },
    "get working memory": async () => {
      const got = await client.getWorkingMemory({ agentId: target.agentId, threadId: conv.threadId, resourceId: conv.resourceId });
      assert.equal(got.workingMemory, WORKING_MEMORY, `${target.name}: working memory differs`);
    },
    "save 2 messages": () => save(client, target, exchange(conv, 2)),
  };
}

const median = (values) => quantile(values, 0.5);
function quantile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/** Targets in turn, the order flipped every round so neither always goes first. */
function alternating(targets, round) {
  return round % 2 === 0 ? targets : [...targets].reverse();
}

async function latency() {
  const rounds = config.rounds ?? 3;
  const turns = config.turnsPerRound ?? 20;
  const warmup = config.warmupTurns ?? 5;
  const samples = Object.fromEntries(config.targets.map((t) => [t.name, { turn: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const target of alternating(config.targets, round)) {
      const client = clientFor(target);
      const conv = await conversation(client, target);
      const calls = turnCalls(client, target, conv);
      for (let i = 0; i < warmup + turns; i++) {
        const turnStart = performance.now();
        for (const [name, call] of Object.entries(calls)) {
          const start = performance.now();
          await call();
          if (i >= warmup) (samples[target.name][name] ??= []).push(performance.now() - start);
        }
        if (i >= warmup) samples[target.name].turn.push(performance.now() - turnStart);
      }
    }
  }
  return Object.fromEntries(
    Object.entries(samples).map(([name, byCall]) => [
      name,
      Object.fromEntries(Object.entries(byCall).map(([call, values]) => [call, { median_ms: median(values), samples: values.length }])),
    ]),
  );
}

async function load() {
  const rounds = config.rounds ?? 3;
  const users = config.users ?? 16;
  const seconds = config.seconds ?? 4;
  const warmupSeconds = config.warmupSeconds ?? 1;
  const results = Object.fromEntries(config.targets.map((t) => [t.name, { turns: 0, seconds: 0, latencies: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const target of alternating(config.targets, round)) {
      const client = clientFor(target);
      const convs = [];
      for (let u = 0; u < users; u++) convs.push(await conversation(client, target));
      const result = results[target.name];
      const warmEnd = performance.now() + warmupSeconds * 1000;
      const end = warmEnd + seconds * 1000;
      // A turn counts when it starts after the warm-up and ends before the deadline.
      const user = async (conv) => {
        const calls = Object.values(turnCalls(client, target, conv));
        while (performance.now() < end) {
          const start = performance.now();
          for (const call of calls) await call();
          const finished = performance.now();
          if (start >= warmEnd && finished <= end) {
            result.turns += 1;
            result.latencies.push(finished - start);
          }
        }
      };
      await Promise.all(convs.map(user));
      result.seconds += seconds;
    }
  }
  return Object.fromEntries(
    Object.entries(results).map(([name, r]) => [
      name,
      {
        turns_per_s: r.turns / r.seconds,
        p50_ms: quantile(r.latencies, 0.5),
        p99_ms: quantile(r.latencies, 0.99),
        turns: r.turns,
        users,
      },
    ]),
  );
}

async function readMeter(target) {
  const response = await fetch(target.meter);
  assert.equal(response.status, 200, `${target.name}: the meter at ${target.meter} answered ${response.status}`);
  return response.json();
}

/** The meter once nothing more arrives: a server may finish work after it has answered. */
async function settledMeter(target) {
  let previous = await readMeter(target);
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const current = await readMeter(target);
    if (current.total_requests === previous.total_requests) return current;
    previous = current;
  }
  throw new Error(`${target.name}: DynamoDB requests kept arriving a second after the call returned`);
}

// Connection plumbing of the local Upstash gateway (its transactions and connection setup), not
// commands a client sent to Upstash.
const GATEWAY_PLUMBING = new Set(["multi", "exec", "client", "hello", "select", "echo"]);

function redisConnection(port) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.setEncoding("utf8");
    socket.once("error", reject);
  });
}

/**
 * Watches redis-server with MONITOR and counts the commands clients send it, leaving out those a
 * Lua script runs (Upstash runs a script as one command) and the gateway's plumbing. ``stop()``
 * sends a marker from another connection and counts up to it, so nothing in flight is missed.
 */
async function watchRedis(port) {
  const socket = await redisConnection(port);
  const marker = `peer-marker-${randomUUID()}`;
  let buffer = "";
  let count = 0;
  let started;
  let finished;
  const ready = new Promise((resolve) => (started = resolve));
  const done = new Promise((resolve) => (finished = resolve));
  socket.on("data", (chunk) => {
    buffer += chunk;
    const lines = buffer.split("\r\n");
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "+OK") started();
      const seen = line.match(/^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/);
      if (!seen) continue;
      if (line.includes(marker)) finished(count);
      else if (seen[1] !== "lua" && !GATEWAY_PLUMBING.has(seen[2].toLowerCase())) count += 1;
    }
  });
  socket.write("MONITOR\r\n");
  await ready;
  return {
    async stop() {
      const other = await redisConnection(port);
      other.write(`ECHO ${marker}\r\n`);
      const counted = await done;
      other.end();
      socket.end();
      return counted;
    },
  };
}

function difference(after, before) {
  const requests = {};
  for (const [operation, count] of Object.entries(after.requests)) {
    const delta = count - (before.requests[operation] ?? 0);
    if (delta) requests[operation] = delta;
  }
  const errors = Object.values(after.errors).reduce((a, b) => a + b, 0) - Object.values(before.errors).reduce((a, b) => a + b, 0);
  return {
    requests,
    total_requests: after.total_requests - before.total_requests,
    read_units: after.read_units - before.read_units,
    write_units: after.write_units - before.write_units,
    errors,
  };
}

async function metered(target, body) {
  const before = await settledMeter(target);
  const redis = target.redisPort ? await watchRedis(target.redisPort) : null;
  await body();
  const measured = difference(await settledMeter(target), before);
  if (redis) measured.cache_commands = await redis.stop();
  assert.equal(measured.errors, 0, `${target.name}: DynamoDB refused ${measured.errors} request(s) during a measured call`);
  return measured;
}

function sumOf(measurements) {
  const total = { requests: {}, total_requests: 0, read_units: 0, write_units: 0, errors: 0, calls: measurements.length };
  if (measurements.some((m) => "cache_commands" in m)) total.cache_commands = 0;
  for (const m of measurements) {
    if ("cache_commands" in m) total.cache_commands += m.cache_commands;
    for (const [operation, count] of Object.entries(m.requests)) total.requests[operation] = (total.requests[operation] ?? 0) + count;
    total.total_requests += m.total_requests;
    total.read_units += m.read_units;
    total.write_units += m.write_units;
  }
  return total;
}

const perCall = (total) => ({
  ...total,
  requests: Object.fromEntries(Object.entries(total.requests).map(([op, n]) => [op, n / total.calls])),
  total_requests: total.total_requests / total.calls,
  read_units: total.read_units / total.calls,
  write_units: total.write_units / total.calls,
  ...("cache_commands" in total ? { cache_commands: total.cache_commands / total.calls } : {}),
});

async function calls() {
  const results = {};
  for (const target of config.targets) {
    const wanted = new Set(target.calls ?? config.calls ?? ["turn", "saves", "bulk"]);
    const client = clientFor(target);
    const measured = (results[target.name] = {});
    if (wanted.has("turn")) {
      const conv = await conversation(client, target);
      const calls = turnCalls(client, target, conv);
      for (const call of Object.values(calls)) await call(); // the first turn on a thread is not the typical one
      const turn = [];
      for (const [name, call] of Object.entries(calls)) {
        measured[name] = await metered(target, call);
        turn.push(measured[name]);
      }
      measured["whole turn"] = sumOf(turn);
    }
    if (wanted.has("saves")) {
      const conv = await conversation(client, target);
      for (const count of [1, 10]) {
        measured[`save ${count} message${count > 1 ? "s" : ""}`] = await metered(target, () => save(client, target, exchange(conv, count)));
      }
    }
    if (wanted.has("bulk")) {
      const conv = await conversation(client, target, 0);
      measured["save 200 messages in one call"] = await metered(target, () => save(client, target, exchange(conv, 200)));
      const large = await conversation(client, target, 0);
      const eightKB = "x".repeat(8 * 1024);
      const batches = [];
      for (let i = 0; i < 6; i++) batches.push(await metered(target, () => save(client, target, exchange(large, 50, eightKB))));
      measured["save 50 messages of 8 KB (each of 6 calls)"] = perCall(sumOf(batches));
      const doomed = await conversation(client, target, 210);
      measured["delete a 210-message thread"] = await metered(target, () =>
        client.getMemoryThread({ threadId: doomed.threadId, agentId: target.agentId }).delete(),
      );
    }
  }
  return results;
}

const modes = { latency, load, calls };
if (!modes[config.mode]) {
  console.error(`mode must be one of ${Object.keys(modes).join(", ")}`);
  process.exit(2);
}
try {
  const result = await modes[config.mode]();
  process.stdout.write(JSON.stringify({ mode: config.mode, result }) + "\n");
} catch (error) {
  console.error(`driver ${config.mode} failed: ${error.stack ?? error}`);
  process.exit(1);
}
