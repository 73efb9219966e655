// Baton's bootstrap for Node handlers: runs `module.function(event, context[, callback])`
// once, in the manner of AWS Lambda's Node.js runtime, for `runtime = "node"` functions in
// baton.toml. Async handlers, callback handlers and context.succeed/fail/done all work.
//
// In: the event (JSON) on stdin; the handler and function in the environment (_HANDLER,
// LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, BATON_REQUEST_ID, ...).
// Out, on file descriptor 1: "ok\n" and the result as JSON, or "error\n" and Lambda's error
// document {"errorType", "errorMessage", "trace"}. console.log and process.stdout go to
// stderr, as Lambda sends them to the function's log.
"use strict";
const fs = require("fs");
const path = require("path");
const { pathToFileURL } = require("url");

const started = Date.now();
const env = process.env;
const requestId = env.BATON_REQUEST_ID || "";
const taskRoot = env.LAMBDA_TASK_ROOT || process.cwd();
process.stdout.write = process.stderr.write.bind(process.stderr);

let answered = false;
function reply(kind, body) {
  if (answered) return;
  answered = true;
  fs.writeSync(1, kind + "\n" + body);
  process.exit(0);
}

function errorDocument(err) {
  if (err instanceof Error) {
    const trace = String(err.stack || "").split("\n");
    return { errorType: err.name || "Error", errorMessage: err.message, trace };
  }
  // A thrown non-Error: Lambda names the error after its type.
  const text = typeof err === "string" ? err : JSON.stringify(err);
  return { errorType: typeof err, errorMessage: text, trace: [] };
}

function fail(err) {
  reply("error", JSON.stringify(errorDocument(err)));
}

function succeed(result) {
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch (e) {
    reply("error", JSON.stringify({ errorType: "Runtime.MarshalError", errorMessage: "Unable to stringify response body", trace: [] }));
    return;
  }
  reply("ok", body);
}

async function load(spec) {
  const dot = spec.lastIndexOf(".");
  const modulePath = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  const base = path.resolve(taskRoot, modulePath);
  let mod;
  for (const ext of [".js", ".cjs", ".mjs"]) {
    if (!fs.existsSync(base + ext)) continue;
    if (ext === ".mjs") {
      mod = await import(pathToFileURL(base + ext).href);
    } else {
      try {
        mod = require(base + ext);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") mod = await import(pathToFileURL(base + ext).href);
        else throw e;
      }
    }
    break;
  }
  if (mod === undefined) {
    const e = new Error(`Cannot find module '${modulePath}'`);
    e.name = "Runtime.ImportModuleError";
    throw e;
  }
  const fn = mod[name] || (mod.default && mod.default[name]);
  if (typeof fn !== "function") {
    const e = new Error(`${modulePath}.${name} is undefined or not exported`);
    e.name = "Runtime.HandlerNotFound";
    throw e;
  }
  return fn;
}

function context() {
  const timeoutMs = Number(env.AWS_LAMBDA_FUNCTION_TIMEOUT || "60") * 1000;
  return {
    awsRequestId: requestId,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME || "",
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION || "$LATEST",
    invokedFunctionArn: env.BATON_FUNCTION_ARN || "",
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || "128",
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME || "",
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME || "",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, started + timeoutMs - Date.now()),
    succeed: (result) => succeed(result),
    fail: (err) => fail(err instanceof Error ? err : new Error(String(err))),
    done: (err, result) => (err ? fail(err instanceof Error ? err : new Error(String(err))) : succeed(result)),
  };
}

async function main() {
  const raw = fs.readFileSync(0).toString("utf8");
  let event;
  try {
    event = raw.trim() === "" ? {} : JSON.parse(raw);
  } catch (e) {
    reply("error", JSON.stringify({ errorType: "Runtime.UnmarshalError", errorMessage: `Unable to parse input as JSON: ${e.message}`, trace: [] }));
    return;
  }
  let handler;
  try {
    handler = await load(env._HANDLER || "");
  } catch (e) {
    fail(e);
    return;
  }
  const callback = (err, result) => (err ? fail(err) : succeed(result));
  try {
    const out = handler(event, context(), callback);
    if (out && typeof out.then === "function") {
      succeed(await out);
    } else if (handler.length < 3) {
      succeed(out);
    }
    // Otherwise the handler answers through its callback or context.
  } catch (e) {
    fail(e);
  }
}

process.on("unhandledRejection", (e) => fail(e));
process.on("uncaughtException", (e) => fail(e));
main();
