// Sends one agent turn with the real OpenTelemetry JS SDK and its OTLP/HTTP exporter, which
// speaks OTLP/JSON (the Python SDK has no JSON exporter).
//
//   OTLP_URL=http://127.0.0.1:4318/v1/traces OTEL_JS_DIR=.cache/otel-js AGENT_ID=a COMPRESSION=gzip node js_exporter.mjs
//
// The packages load from OTEL_JS_DIR because this file lives outside the folder npm installed
// them in. Prints the export's result code as JSON (0 is success).

import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const { OTLP_URL: url, OTEL_JS_DIR: dir, AGENT_ID: agentId, COMPRESSION: compression } = process.env;
const requireFromDir = createRequire(path.join(path.resolve(dir), "package.json"));
const load = async (name) => import(pathToFileURL(requireFromDir.resolve(name)).href);

const { context, trace, SpanKind, SpanStatusCode } = await load("@opentelemetry/api");
const { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } = await load("@opentelemetry/sdk-trace");
const { resourceFromAttributes } = await load("@opentelemetry/resources");
const { OTLPTraceExporter } = await load("@opentelemetry/exporter-trace-otlp-http");

const memory = new InMemorySpanExporter();
const provider = new TracerProvider({
  resource: resourceFromAttributes({ "service.name": "js-agent" }),
  spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
});
const tracer = provider.getTracer("memkit-js-tests", "0.1.0");

const run = tracer.startSpan("invoke_agent Planner", {
  attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": agentId, "gen_ai.agent.name": "Planner" },
});
const inRun = trace.setSpan(context.active(), run);
const chat = tracer.startSpan(
  "chat claude",
  {
    kind: SpanKind.CLIENT,
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-sonnet",
      "gen_ai.usage.input_tokens": 11,
      "gen_ai.usage.output_tokens": 3,
      "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: "plan" }] }]),
    },
  },
  inRun,
);
chat.addEvent("first token", { "ttft.ms": 120.5 });
chat.setStatus({ code: SpanStatusCode.ERROR, message: "overloaded" });
chat.end();
run.end();
await provider.forceFlush();

// The spans the SDK finished, sent in one request by its exporter.
const exporter = new OTLPTraceExporter({ url, compression: compression || "none" });
const code = await new Promise((resolve) => exporter.export(memory.getFinishedSpans(), (result) => resolve(result.code)));
await exporter.shutdown();
console.log(JSON.stringify({ code, traceId: run.spanContext().traceId, runId: run.spanContext().spanId }));
