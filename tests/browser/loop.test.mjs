// One report's closed loop (事件闭环) across every surface, against the real
// server started by run.sh with the demo data:
//   - the grid worker's phone is the real Kotlin SDK on the JVM
//     (mobile-bindings/jvm-tests/src/CrossLoop.kt, one process per phase,
//     the same encrypted store throughout): it reports offline with two
//     photos and syncs;
//   - the street supervisor (jiedao), in Chromium, escalates to the
//     community, accepts and dispatches to 城管 (吹哨报到);
//   - the 城管 clerk (chengguan), in Chromium, handles with a photo and
//     feeds back;
//   - the phone syncs, sees those steps, is refused a close at once, and
//     verifies (核查通过);
//   - the community supervisor (shequ), in Chromium, closes;
//   - the phone records the resident's rating;
//   - the street supervisor's page shows the whole loop.
// Out-of-role steps are refused on each surface with the Chinese reason.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launch, pages, png, runner } from './lib.mjs';

const BASE = process.env.GRIDSYNC_URL ?? 'http://127.0.0.1:8080';
const WORK = process.env.GRIDSYNC_WORK ?? mkdtempSync(path.join(tmpdir(), 'gs-loop-'));
const ARTIFACTS = process.env.ARTIFACTS ?? 'target/browser-artifacts';
// How to run the phone: `java <PHONE_JAVA_ARGS…> CrossLoopKt <phase> …`.
const JAVA_ARGS = JSON.parse(process.env.PHONE_JAVA_ARGS ?? 'null');
assert.ok(Array.isArray(JAVA_ARGS), 'PHONE_JAVA_ARGS (a JSON array of java arguments) is required');

const { step, report, failed } = runner();
const store = path.join(WORK, 'loop-phone.db');

/** Run one phase on the phone; its last stdout line is JSON. */
function phone(phase, ...args) {
  let out;
  try {
    out = execFileSync('java', [...JAVA_ARGS, 'CrossLoopKt', phase, store, BASE, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
  } catch (e) {
    throw new Error(`phone ${phase}: ${e.stderr || e.message}`);
  }
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const browser = await launch();
const { shot, signIn, shotWarnings } = pages(browser, BASE, ARTIFACTS);
const text = async (page, sel) => (await page.textContent(sel))?.trim();

/** Take step `kind` from the report page's form, with `note`, through the confirmation page. */
async function takeStep(page, id, kind, note, { assignee, photo } = {}) {
  await page.goto(`${BASE}/web/reports/${id}`);
  const form = page.locator(`form.step-form:has(button.step-${kind})`);
  assert.equal(await form.count(), 1, `the page offers ${kind}`);
  if (assignee) await form.locator('select[name=assignee]').selectOption(assignee);
  await form.locator('input[name=note]').fill(note);
  await Promise.all([page.waitForLoadState('load'), form.locator(`button.step-${kind}`).click()]);
  assert.match(await text(page, 'h1'), /^确认/, 'a confirmation first');
  if (photo) await page.setInputFiles('input[type=file][name=photo]', photo);
  await Promise.all([page.waitForLoadState('load'), page.click('#confirm-step')]);
  assert.ok(await page.locator('#done').count() === 1, `${kind} taken: ${await text(page, 'body')}`.slice(0, 300));
}

let id;
let phonePhotos = [];
try {
  await step('the phone reports offline with two photos and syncs (Kotlin SDK on the JVM)', async () => {
    const r = phone('report');
    id = r.id;
    phonePhotos = r.photos;
    assert.equal(phonePhotos.length, 2);
  });
  assert.ok(id, 'the report exists; the rest of the loop needs it');

  const { context: streetCtx, page: street } = await signIn('jiedao');
  await step('the street supervisor sees the report with its photos, escalates, accepts and dispatches to 城管', async () => {
    await street.goto(`${BASE}/web/reports/${id}`);
    assert.equal(await text(street, '#report-source'), '巡查');
    assert.equal(await text(street, '#report-urgency'), '紧急');
    const thumbs = street.locator('#photos img');
    assert.equal(await thumbs.count(), 2, 'both photos from the phone');
    await thumbs.first().waitFor();
    assert.ok(await thumbs.first().evaluate((img) => img.complete && img.naturalWidth > 0), 'the thumbnail loaded');
    await takeStep(street, id, 'escalate', '占用消防通道，转社区统筹');
    assert.match(await text(street, '#report-stage'), /社区层级/);
    await takeStep(street, id, 'accept', '街道已受理');
    await takeStep(street, id, 'dispatch', '请城管到场清运', { assignee: 'dept:chengguan' });
    assert.equal(await street.getAttribute('#report-stage', 'data-stage'), 'dispatched');
    assert.match(await text(street, '#report-department'), /区城管执法局/);
  });

  const { context: cgCtx, page: cg } = await signIn('chengguan');
  await step('the 城管 clerk finds it in the queue, handles with a photo and feeds back', async () => {
    assert.equal(new URL(cg.url()).pathname, '/web/queue');
    const row = cg.locator(`#queue tr[data-id="${id}"]`);
    assert.equal(await row.count(), 1, 'dispatched to 城管: in its queue');
    const photo = path.join(WORK, 'loop-handled.png');
    writeFileSync(photo, png(160, 120));
    await takeStep(cg, id, 'handle', '已清运建筑垃圾，恢复消防通道', { photo });
    await takeStep(cg, id, 'feedback', '已处置完毕，请网格员核查');
    // Checking its own work is not the department's: refused with the reason.
    const csrf = await cg.locator('input[name=csrf]').first().getAttribute('value');
    const refused = await cg.request.post(`${BASE}/web/reports/${id}/step`, {
      form: { csrf, kind: 'verify_pass', back: 'report' }, maxRedirects: 0,
    });
    assert.equal(refused.status(), 400);
    assert.match(await refused.text(), /职能部门不能核查通过：须由本网格网格员或上报人核查/);
  });

  await step("the phone syncs, sees the others' steps, is refused a close, and verifies", async () => {
    const r = phone('verify', id);
    for (const k of ['escalate', 'accept', 'dispatch', 'handle', 'feedback']) assert.ok(r.seen.includes(k), k);
    assert.match(r.refused, /^网格员不能结案：/);
  });

  const { context: sqCtx, page: sq } = await signIn('shequ');
  await step("the community supervisor sees the phone's check and closes", async () => {
    await sq.goto(`${BASE}/web/reports/${id}`);
    const verified = sq.locator('#timeline tr[data-kind="verify_pass"]');
    assert.equal(await verified.count(), 1);
    assert.match(await verified.locator('td.note').textContent(), /现场核实，通道已畅通/);
    assert.match(await verified.locator('td.who').textContent(), /网格员/);
    await takeStep(sq, id, 'close', '群众满意，予以结案');
    assert.equal(await sq.getAttribute('#report-stage', 'data-stage'), 'closed');
  });

  await step("the phone records the resident's rating", async () => {
    const r = phone('rate', id);
    assert.deepEqual(r.steps, ['上报', '上报上级', '受理', '派遣', '处置', '反馈', '核查通过', '结案', '评价']);
  });

  await step('the street supervisor sees the whole loop on the report page', async () => {
    await street.goto(`${BASE}/web/reports/${id}`);
    assert.equal(await street.getAttribute('#report-stage', 'data-stage'), 'rated');
    const kinds = await street.$$eval('#timeline tbody tr', (trs) => trs.map((t) => t.dataset.kind));
    assert.deepEqual(kinds, ['report', 'escalate', 'accept', 'dispatch', 'handle', 'feedback', 'verify_pass', 'close', 'rate']);
    assert.match(await text(street, '#timeline tr[data-kind="rate"]'), /5星/);
    assert.match(await text(street, '#timeline tr[data-kind="handle"]'), /城管执法队员（职能部门）/);
    assert.equal(await street.locator('#photos img').count(), 3, "the phone's two photos and the clerk's");
    assert.equal(await street.locator('#no-steps').count(), 1, 'nothing left to do');
    await shot(street, 'loop-report-page');
  });

  for (const c of [streetCtx, cgCtx, sqCtx]) await c.close();
} finally {
  await browser.close();
}
if (failed() === 0) console.log(`report ${id}: walked phone → street → 城管 → phone → community → phone`);
report(ARTIFACTS, shotWarnings);
