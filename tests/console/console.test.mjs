// The console in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core, 1280 px wide. Started by tests/api/test_console_browser.py, which runs
// `baton serve` with a topic that emails through an SMTP server writing each message to a
// folder; it passes what it set up in BATON_CONSOLE_TEST (JSON). Screenshots go to
// tests/console/artifacts/ (not committed).
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

// At 1280 px nothing scrolls sideways, neither the page nor a block of JSON in it: long JSON
// wraps, the graph fits.
async function noSidewaysScroll(what) {
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= inner, `${what} is ${scroll} px wide in a ${inner} px window`);
  const scrolled = await page.locator("pre").evaluateAll((blocks) =>
    blocks.filter((b) => b.scrollWidth > b.clientWidth + 1).map((b) => `${b.scrollWidth} > ${b.clientWidth}: ${b.textContent.slice(0, 60)}`));
  assert.deepEqual(scrolled, [], `${what} has JSON that scrolls sideways`);
}

// Every edge and edge label lies inside the graph, and no two labels overlap.
async function graphFits() {
  const problems = await page.locator("svg.graph").first().evaluate((svg) => {
    const box = svg.viewBox.baseVal;
    const out = [];
    const inside = (b, what) => {
      const m = svg.querySelector("g").transform.baseVal.consolidate()?.matrix ?? { e: 0, f: 0 };
      if (b.x + m.e < -0.5 || b.y + m.f < -0.5 || b.x + b.width + m.e > box.width + 0.5 || b.y + b.height + m.f > box.height + 0.5)
        out.push(`${what} reaches outside the graph`);
    };
    svg.querySelectorAll(":scope > g > path.edge").forEach((p, i) => inside(p.getBBox(), `edge ${i}`));
    const labels = [...svg.querySelectorAll(":scope > g > g.edge-labels tspan")].map((t) => [t.textContent, t.getBBox()]);
    labels.forEach(([text, b]) => inside(b, `label ${text}`));
    for (let i = 0; i < labels.length; i++)
      for (let j = i + 1; j < labels.length; j++) {
        const [a, b] = [labels[i][1], labels[j][1]];
        if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height)
          out.push(`labels ${labels[i][0]} and ${labels[j][0]} overlap`);
      }
    return out;
  });
  assert.deepEqual(problems, []);
}

// What arrived at the SMTP server, each message as received.
function rawMails() {
  return fs.readdirSync(setup.mailDir).map((f) => fs.readFileSync(path.join(setup.mailDir, f), "utf8"));
}

// A value far longer than a line, with no space to break at: a scanned answer sheet.
const LONG = "data:application/pdf;base64," + "JVBERi0xLjcKJeLjz9MKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+Pgo".repeat(10);

try {
  step("the machine page draws the graph, its Choice labelled, and refuses invalid JSON input");
  await page.goto(`${base}/machine?arn=${encodeURIComponent(setup.machine)}`);
  await page.locator('svg.graph g.node[data-state="Exam"]').waitFor();
  assert.equal(await page.locator("header", { hasText: "Sign out" }).count(), 0, "no Sign out without users");
  await page.locator("svg.graph tspan", { hasText: "$.review.approved == true" }).waitFor();
  await page.locator("svg.graph tspan", { hasText: "default" }).waitFor();
  await graphFits();
  await page.fill("textarea[name=input]", '{"student": "ana"');
  await page.locator(".status.error", { hasText: "Invalid JSON" }).waitFor();
  await shot("machine");
  await noSidewaysScroll("the machine page");
  await page.fill("input[name=name]", setup.name);
  await page.fill("textarea[name=input]", JSON.stringify({ student: "ana", to: "ana@example.com", sheet: LONG }));
  await page.locator(".status.ok").waitFor();

  step("start an execution from the console and watch it pause");
  await page.click("form.start button[type=submit]");
  await page.waitForURL(/\/execution\?arn=/);
  await page.locator('#live g.node.st-waiting[data-state="Exam"]', { state: "attached" }).waitFor({ timeout: 30000 });
  assert.match(await stateClass("Register"), /st-succeeded/);
  assert.equal(await stateFill("Register"), GREEN);
  assert.equal(await stateFill("Exam"), PURPLE);
  await page.locator('.timeline .tl-row[data-state="Exam"] .tl-wait').first().waitFor({ state: "attached" });
  await shot("execution-waiting");
  await noSidewaysScroll("an execution with long JSON");

  step("answer the exam's form from the inbox");
  await page.goto(`${base}/inbox`);
  const card = page.locator(`div.task[data-execution="${setup.execution}"]`);
  await card.waitFor();
  await shot("inbox");
  await card.locator('input[name="f.score"]').fill("9");
  await card.locator('select[name="f.result"]').selectOption("pass");
  await card.locator("form.answer-form button[type=submit]").click();
  await page.locator("h1", { hasText: "Answered" }).waitFor();

  step("the emailed link works as it stands in the raw message, and on the Mail page");
  let link = null;
  for (let i = 0; i < 300 && !link; i++) {
    for (const mail of rawMails()) {
      assert.doesNotMatch(mail, /=\r?\n|=3D/, "no quoted-printable in the mail");
      const m = mail.match(/^Approve: (http\S+\/link\/\S+)\r?$/m);
      if (m) link = m[1];
    }
    if (!link) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(link, "no email with an approve link arrived");
  await page.goto(`${base}/mail`);
  const mail = page.locator("div.mail", { hasText: "Review the exam of ana" });
  await mail.waitFor();
  assert.match(await mail.innerText(), /To teacher@example\.com/);
  await shot("mail");
  await noSidewaysScroll("the Mail page");
  await mail.locator(`a[href="${link}"]`).click();
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
  assert.equal(types.filter((t) => t === "ActivitySucceeded").length, 1);
  assert.equal(types.filter((t) => t === "TaskSucceeded").length, 1);
  assert.equal(types.at(-1), "ExecutionSucceeded");
  for (const state of ["Exam", "Review"]) {
    const row = page.locator(`.timeline .tl-row[data-state="${state}"]`);
    assert.equal(await row.locator(".tl-bar.tl-ok").count(), 1, `${state} has its bar`);
    assert.ok((await row.locator(".tl-wait").count()) >= 1, `${state}'s wait shows`);
  }
  await graphFits();
  await shot("execution-done");
  await noSidewaysScroll("the finished execution");

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
