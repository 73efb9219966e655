// The console in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core. Started by tests/api/test_console_browser.py, which runs `baton serve`, an
// SMTP server and the activity worker that emails links; it passes what it set up in
// BATON_CONSOLE_TEST (JSON). Screenshots go to tests/console/artifacts/ (not committed).
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const setup = JSON.parse(process.env.BATON_CONSOLE_TEST);
const base = setup.endpoint;
const artifacts = path.join(path.dirname(new URL(import.meta.url).pathname), "artifacts");
fs.mkdirSync(artifacts, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "baton-chromium-"));

// A fresh profile each run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  viewport: { width: 1280, height: 900 },
});
const page = browser.pages()[0] || (await browser.newPage());
const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
const stateClass = (name) =>
  page.locator(`#live g.node[data-state="${name}"]`).first().getAttribute("class");
// The colour the browser really paints a state's box with.
const stateFill = (name) =>
  page.locator(`#live g.node[data-state="${name}"] > rect`).first().evaluate((r) => getComputedStyle(r).fill);
const GREEN = "rgb(201, 238, 212)";
const PURPLE = "rgb(230, 215, 251)";

function step(name) {
  console.log(`- ${name}`);
}

try {
  step("the machine page draws the graph and refuses invalid JSON input");
  await page.goto(`${base}/machine?arn=${encodeURIComponent(setup.machine)}`);
  await page.locator('svg.graph g.node[data-state="Exam"]').waitFor();
  await page.fill("textarea[name=input]", '{"student": "ana"');
  await page.locator(".status.error", { hasText: "Invalid JSON" }).waitFor();
  await shot("machine");
  await page.fill("input[name=name]", setup.name);
  await page.fill("textarea[name=input]", JSON.stringify({ student: "ana", to: "ana@example.com" }));
  await page.locator(".status.ok").waitFor();

  step("start an execution from the console and watch it pause");
  await page.click("form.start button[type=submit]");
  await page.waitForURL(/\/execution\?arn=/);
  await page.locator('#live g.node.st-waiting[data-state="Exam"]', { state: "attached" }).waitFor({ timeout: 30000 });
  assert.match(await stateClass("Register"), /st-succeeded/);
  assert.equal(await stateFill("Register"), GREEN);
  assert.equal(await stateFill("Exam"), PURPLE);
  await shot("execution-waiting");

  step("answer the exam's form from the inbox");
  await page.goto(`${base}/inbox`);
  const card = page.locator(`div.task[data-execution="${setup.execution}"]`);
  await card.waitFor();
  await shot("inbox");
  await card.locator('input[name="f.score"]').fill("9");
  await card.locator('select[name="f.result"]').selectOption("pass");
  await card.locator("form.answer-form button[type=submit]").click();
  await page.locator("h1", { hasText: "Answered" }).waitFor();

  step("approve the review from the emailed link");
  let link = null;
  for (let i = 0; i < 300 && !link; i++) {
    const mails = fs.readdirSync(setup.mailDir).map((f) => fs.readFileSync(path.join(setup.mailDir, f), "utf8"))
      // Quoted-printable: undo soft line breaks and escaped '='.
      .map((mail) => mail.replace(/=\r?\n/g, "").replace(/=3D/g, "="));
    for (const mail of mails) {
      const m = mail.match(/Approve: (http\S+\/link\/\S+)/);
      if (m) link = m[1];
    }
    if (!link) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(link, "no email with an approve link arrived");
  await page.goto(link);
  await page.locator("h1", { hasText: "Approve: Review" }).waitFor();
  await shot("link");
  await page.fill("input[name=comment]", "well done");
  await page.click("form.confirm button[type=submit]");
  await page.locator("h1", { hasText: "Thank you" }).waitFor();

  step("the used link changes nothing");
  await page.goto(link);
  await page.locator("h1", { hasText: "This task is no longer waiting" }).waitFor();

  step("the finished execution: graph colours and history");
  await page.goto(`${base}/execution?arn=${encodeURIComponent(setup.execution)}`);
  await page.locator('#live[data-status="SUCCEEDED"]').waitFor({ timeout: 30000 });
  for (const state of ["Register", "Exam", "Review", "Done"]) {
    assert.match(await stateClass(state), /st-succeeded/, `${state} is not drawn succeeded`);
    assert.equal(await stateFill(state), GREEN, `${state} is not painted green`);
  }
  const types = await page.locator("table.history tr[data-type]").evaluateAll((rows) => rows.map((r) => r.dataset.type));
  assert.equal(types.filter((t) => t === "ActivitySucceeded").length, 2);
  assert.equal(types.at(-1), "ExecutionSucceeded");
  await shot("execution-done");

  step("the executions list finds it by status and name");
  await page.goto(`${base}/executions?machine=${encodeURIComponent(setup.machine)}&status=SUCCEEDED&name=${setup.name}`);
  await page.locator("table a", { hasText: setup.name }).waitFor();
  await shot("executions");
  await page.goto(`${base}/`);
  await shot("machines");
  console.log("ok");
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
