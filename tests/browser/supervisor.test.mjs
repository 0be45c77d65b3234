// The supervisor web pages, in real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core), against the real server
// started by run.sh with the demo data.
//
// The expected numbers do not come from the server's web code: the
// `gridsync` command-line client (the phone's core) signs in as the
// supervisor, syncs, and counts households, residents and households not
// visited in 30 days from its own store.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { PASSWORD, launch, pages, png, runner } from './lib.mjs';

const BASE = process.env.GRIDSYNC_URL ?? 'http://127.0.0.1:8080';
const CLI = process.env.GRIDSYNC_CLI ?? 'target/debug/gridsync';
const WORK = process.env.GRIDSYNC_WORK ?? mkdtempSync(path.join(tmpdir(), 'gs-browser-'));
const ARTIFACTS = process.env.ARTIFACTS ?? 'target/browser-artifacts';
const { step, report } = runner();

const COMMUNITY = '110105001001';
const GRID1 = '110105001001001';
const GRID2 = '110105001001002';

// ---- the oracle: the phone core's own view of the supervisor's data
function cli(store, ...args) {
  return execFileSync(CLI, args, {
    env: { ...process.env, GRIDSYNC_STORE: store },
    input: `${PASSWORD}\n`,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
function phone(username) {
  const store = path.join(WORK, `${username}.sqlite3`);
  cli(store, 'login', '--server', BASE, '--username', username, '--password-stdin');
  cli(store, 'sync');
  return {
    store,
    sync: () => cli(store, 'sync'),
    json: (...args) => JSON.parse(cli(store, '--json', ...args)),
  };
}

const shequPhone = phone('shequ');
const households = shequPhone.json('household', 'list');
const notVisited = shequPhone.json('not-visited', '--days', '30');
const expected = {
  households: households.length,
  residents: households.reduce((n, h) => n + h.residents, 0),
  visited: households.length - notVisited.length,
  perGrid: Object.fromEntries(
    [GRID1, GRID2].map((g) => [g, households.filter((h) => h.grid === g).length]),
  ),
};
console.log('expected (from the phone core):', JSON.stringify(expected));
assert.ok(expected.households > 0, 'the demo seeded households');

const browser = await launch();
const { shot, signIn, shotWarnings } = pages(browser, BASE, ARTIFACTS);
const text = async (page, sel) => (await page.textContent(sel))?.trim();
const num = async (page, sel) => Number(await text(page, sel));

try {
  const { page } = await signIn('shequ');

  await step('a community supervisor lands on the overview of their community', async () => {
    assert.equal(new URL(page.url()).pathname, `/web/t/${COMMUNITY}`);
    assert.match(await text(page, 'h1'), /幸福社区/);
    await shot(page, '01-overview-community');
  });

  await step('the overview numbers match the seeded data (counted by the phone core)', async () => {
    assert.equal(await num(page, '#kpi-households'), expected.households);
    assert.equal(await num(page, '#kpi-residents'), expected.residents);
    assert.equal(await num(page, '#kpi-visited'), expected.visited);
    const rows = await page.$$eval('#children tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())));
    assert.equal(rows.length, 3, 'three grids');
    assert.equal(Number(rows[0][1]), expected.perGrid[GRID1]);
    assert.equal(Number(rows[1][1]), expected.perGrid[GRID2]);
    assert.ok(await num(page, '#kpi-open') > 0, 'open reports are counted');
    assert.ok(await num(page, '#kpi-overdue') > 0, 'overdue reports are counted');
    assert.equal(await page.locator('#chart rect').count(), 6, 'one bar (and its track) per grid');
    const syncs = await text(page, '#syncs tbody');
    for (const w of ['第1网格网格员', '第2网格网格员', '第3网格网格员']) assert.ok(syncs.includes(w), w);
  });

  await step('the page fits a 1366×768 screen without sideways scrolling', async () => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page overflows by ${overflow}px`);
  });

  let householdUrl;
  let householdAddress;
  await step('drill-down: community → grid → building → household, masked, with history', async () => {
    await Promise.all([page.waitForLoadState('load'), page.click('#children tbody tr:first-child a')]);
    assert.equal(new URL(page.url()).pathname, `/web/t/${GRID1}`);
    await shot(page, '02-overview-grid');
    await Promise.all([page.waitForLoadState('load'), page.click('#children tbody tr:first-child a')]);
    assert.match(new URL(page.url()).pathname, /\/building$/);
    assert.ok(await page.locator('table.households tbody tr').count() > 0);
    await shot(page, '03-building');
    await Promise.all([page.waitForLoadState('load'), page.click('table.households tbody tr:first-child a')]);
    householdUrl = page.url();
    const ids = await page.$$eval('#residents td.idno', (tds) => tds.map((t) => t.textContent.trim()));
    assert.ok(ids.length > 0);
    for (const id of ids) assert.match(id, /^\d{6}\*{8}[\dX]{4}$/, 'ID numbers masked');
    const phones = await page.$$eval('#residents td.phone', (tds) => tds.map((t) => t.textContent.trim()));
    for (const p of phones) assert.match(p, /^1\d{2}\*{4}\d{4}$/, 'phones masked');
    assert.ok(await page.locator('#history tbody tr').count() > 0, 'ledger history shown');
    // The history in words: codes by their names, keys by their labels,
    // ID numbers and phones masked.
    const history = await text(page, '#history tbody');
    assert.match(history, /新增住户/);
    assert.match(history, /民族: [^\d；]+族/);
    assert.match(history, /与户主关系: [^\d；]+/);
    assert.match(history, /居住状态: (户籍|流动)/);
    assert.match(history, /公民身份号码: \d{6}\*{8}[\dX]{4}/);
    assert.match(history, /联系电话: 1\d{2}\*{4}\d{4}/);
    for (const raw of [/民族: \d/, /与户主关系: \d/, /居住状态: [a-z]/, /[a-z_]{3,}: /, /身份证号/, /: (true|false)/]) {
      assert.doesNotMatch(history, raw);
    }
    householdAddress = await page.$eval('h1', (h) => h.firstChild.textContent.trim());
    assert.match(householdAddress, /室$/);
    await shot(page, '04-household-masked');
  });

  await step('unmasking shows the full numbers and is written to the audit log', async () => {
    await Promise.all([page.waitForLoadState('load'), page.click('#reveal')]);
    assert.ok(await page.locator('#revealed').isVisible());
    const ids = await page.$$eval('#residents td.idno', (tds) => tds.map((t) => t.textContent.trim()));
    for (const id of ids) assert.match(id, /^\d{17}[\dX]$/);
    await shot(page, '05-household-revealed');
  });

  let exported;
  // The ledger as a spreadsheet opens it (ExcelJS reads the file back):
  // typed cells, widths that fit, a filter on the frozen header, A4
  // landscape one page wide with the title and export time on top.
  const opensRight = (sheet, { masked }) => {
    const headers = sheet.getRow(1).values.slice(1);
    for (const h of ['网格编码', '楼栋', '单元', '室号', '姓名', '公民身份号码', '出生日期', '联系电话', '关注标签', '包保责任人']) {
      assert.ok(headers.includes(h), `header ${h}`);
    }
    assert.equal(sheet.rowCount - 1, expected.residents, 'one row per resident');
    const col = (h) => headers.indexOf(h) + 1;
    let held = 0;
    for (let r = 2; r <= sheet.rowCount; r++) {
      const row = sheet.getRow(r);
      const grid = row.getCell(col('网格编码'));
      assert.equal(grid.type, ExcelJS.ValueType.String, 'grid code as text');
      assert.match(grid.value, /^\d{15}$/);
      const id = row.getCell(col('公民身份号码'));
      assert.equal(id.type, ExcelJS.ValueType.String, 'ID number as text');
      assert.match(id.value, masked ? /^\d{6}\*{8}[\dX]{4}$/ : /^\d{17}[\dX]$/);
      const birth = row.getCell(col('出生日期'));
      assert.equal(birth.type, ExcelJS.ValueType.Date, `birth date as a date, row ${r}`);
      assert.equal(birth.numFmt, 'yyyy-mm-dd');
      if (row.getCell(col('包保责任人')).text) held++;
    }
    assert.ok(held > 0, '包保责任人 named');
    assert.ok(sheet.getColumn(col('网格编码')).width >= 17, 'the 15-digit code fits');
    assert.ok(sheet.getColumn(col('公民身份号码')).width >= 20, 'the ID number fits');
    assert.equal(sheet.autoFilter, `A1:P${sheet.rowCount}`, 'a filter over every column');
    assert.equal(sheet.views[0].state, 'frozen');
    assert.equal(sheet.views[0].ySplit, 1, 'header row frozen');
    const ps = sheet.pageSetup;
    assert.deepEqual([ps.paperSize, ps.orientation, ps.fitToPage, ps.fitToWidth, ps.fitToHeight], [9, 'landscape', true, 1, 0], 'A4 landscape, one page wide');
    assert.match(sheet.headerFooter.oddHeader, /居民台账.*导出时间：\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
  };

  await step('download the XLSX ledger and read it back: typed cells, widths, filter, A4 landscape, 包保责任人, masked', async () => {
    await page.goto(`${BASE}/web/t/${COMMUNITY}`);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('a[href^="/web/export/ledger.xlsx"]'),
    ]);
    const file = path.join(ARTIFACTS, 'ledger.xlsx');
    await download.saveAs(file);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(readFileSync(file));
    const sheet = wb.getWorksheet('居民台账');
    assert.ok(sheet, 'sheet 居民台账');
    opensRight(sheet, { masked: true });
    const summary = wb.getWorksheet('各网格汇总');
    assert.ok(summary, 'summary sheet per grid');
    assert.equal(summary.rowCount - 1, 3);
    const sh = summary.getRow(1).values.slice(1);
    const total = [2, 3, 4].reduce((n, r) => n + Number(summary.getRow(r).getCell(sh.indexOf('户数') + 1).value), 0);
    assert.equal(total, expected.households);
    const coverage = summary.getRow(2).getCell(sh.indexOf('走访覆盖率') + 1);
    assert.equal(coverage.type, ExcelJS.ValueType.Number, 'coverage as a number');
    assert.equal(coverage.numFmt, '0.0%');
    exported = true;
  });

  await step('the unmasked export button asks for a reason, then gives the full ledger', async () => {
    await page.goto(`${BASE}/web/t/${COMMUNITY}`);
    await Promise.all([page.waitForLoadState('load'), page.click('#export-full')]);
    assert.equal(new URL(page.url()).pathname, '/web/export/full');
    // Blanks pass the browser's `required` but not the server.
    await page.fill('textarea[name="reason"]', '   ');
    await Promise.all([page.waitForLoadState('load'), page.click('#export-full-submit')]);
    assert.match(await text(page, '#export-full-error'), /请填写导出原因/);
    await shot(page, '05b-export-full-reason');
    await page.fill('textarea[name="reason"]', '核对低保名单');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#export-full-submit'),
    ]);
    const file = path.join(ARTIFACTS, 'ledger-full.xlsx');
    await download.saveAs(file);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(readFileSync(file));
    opensRight(wb.getWorksheet('居民台账'), { masked: false });
  });

  await step('dispatch a report from the web; the phone core sees it dispatched', async () => {
    await page.goto(`${BASE}/web/reports?code=${COMMUNITY}`);
    await shot(page, '06-reports');
    const row = page.locator('#report-list tr[data-stage="accepted"]').first();
    const id = await row.getAttribute('data-id');
    await row.locator('select[name=assignee]').selectOption({ index: 0 });
    await Promise.all([page.waitForLoadState('load'), row.locator('button.step-dispatch').click()]);
    // Every step asks for confirmation first (a second page, no JavaScript).
    assert.match(await text(page, 'h1'), /确认派遣/);
    await page.fill('textarea[name=note]', '请尽快处置');
    await Promise.all([page.waitForLoadState('load'), page.click('#confirm-step')]);
    assert.match(await text(page, '#done'), /已派遣/);
    const after = page.locator(`#report-list tr[data-id="${id}"]`);
    assert.equal(await after.getAttribute('data-stage'), 'dispatched');
    assert.equal((await after.locator('td.stage').textContent()).trim(), '处置中');
    await shot(page, '07-report-dispatched');
    shequPhone.sync();
    const shown = shequPhone.json('show', id);
    const kinds = Object.values(shown.events ?? {}).map((e) => e.kind);
    assert.ok(kinds.includes('dispatch'), 'the dispatch reached the phone');
  });

  await step('accepting a report twice is refused with the workflow rule, in Chinese', async () => {
    const row = page.locator('#report-list tr[data-stage="reported"]').first();
    const form = row.locator('form:has(button.step-accept)');
    // The form opens the confirmation; the confirmation's form takes the step.
    const action = (await form.getAttribute('action')).replace(/\/confirm$/, '/step');
    const csrf = await form.locator('input[name=csrf]').getAttribute('value');
    const body = new URLSearchParams({ csrf, kind: 'accept', back: COMMUNITY });
    const first = await page.request.post(`${BASE}${action}`, { form: Object.fromEntries(body), maxRedirects: 0 });
    assert.equal(first.status(), 303);
    const again = await page.request.post(`${BASE}${action}`, { form: Object.fromEntries(body), maxRedirects: 0 });
    assert.equal(again.status(), 400);
    assert.match(await again.text(), /不能受理/);
    const forged = await page.request.post(`${BASE}${action}`, {
      form: { csrf: 'forged', kind: 'accept', back: COMMUNITY }, maxRedirects: 0,
    });
    assert.equal(forged.status(), 400, 'a form without the session token is refused');
  });

  await step('the report page: timeline, deadline, source, urgency; 受理 with a note and a confirmation', async () => {
    await page.goto(`${BASE}/web/reports?code=${COMMUNITY}&stage=reported`);
    const rows = page.locator('#report-list tbody tr[data-stage]');
    assert.ok(await rows.count() > 0, 'reports waiting to be accepted');
    for (const s of await rows.evaluateAll((trs) => trs.map((t) => t.dataset.stage))) assert.equal(s, 'reported');
    // 待受理 has its own time limit: the demo's reports waited eight days.
    assert.match(await rows.first().locator('td.due').textContent(), /受理.*（超期）/);
    const id = await rows.first().getAttribute('data-id');
    await Promise.all([page.waitForLoadState('load'), rows.first().locator('a.open-report').click()]);
    assert.equal(new URL(page.url()).pathname, `/web/reports/${id}`);
    assert.equal(await text(page, '#report-source'), '巡查');
    assert.equal(await text(page, '#report-urgency'), '一般');
    assert.match(await text(page, '#report-due'), /（超期）/);
    assert.ok(await page.locator('#timeline tr[data-kind="report"]').count() === 1, 'the report on the timeline');
    const form = page.locator('form.step-form:has(button.step-accept)');
    await form.locator('input[name=note]').fill('已电话联系上报人');
    await Promise.all([page.waitForLoadState('load'), form.locator('button.step-accept').click()]);
    assert.match(await text(page, 'h1'), /确认受理/);
    assert.equal(await page.inputValue('textarea[name=note]'), '已电话联系上报人');
    await Promise.all([page.waitForLoadState('load'), page.click('#confirm-step')]);
    assert.match(await text(page, '#done'), /已受理/);
    const accept = page.locator('#timeline tr[data-kind="accept"]');
    assert.equal(await accept.count(), 1);
    assert.match(await accept.locator('td.note').textContent(), /已电话联系上报人/);
    assert.match(await accept.locator('td.who').textContent(), /社区\/街道管理员/);
    // 吹哨报到: the dispatch list offers the departments.
    const options = await page.$$eval('form.step-form select[name=assignee] option', (os) => os.map((o) => o.textContent));
    for (const d of ['区城管执法局', '区住房和城乡建设委员会', '区消防救援支队']) {
      assert.ok(options.some((o) => o.includes(d)), d);
    }
    await shot(page, 'report-page-accepted');
  });

  await step('the report list filters by department and overdue, and pages', async () => {
    await page.goto(`${BASE}/web/reports?code=${COMMUNITY}`);
    await page.selectOption('#filters select[name=dept]', 'chengguan');
    await Promise.all([page.waitForLoadState('load'), page.click('#filters button')]);
    const cg = await page.$$eval('#report-list td.assignee', (tds) => tds.map((t) => t.textContent.trim()));
    assert.ok(cg.length > 0);
    for (const a of cg) assert.equal(a, '区城管执法局');
    await page.goto(`${BASE}/web/reports?code=${COMMUNITY}&overdue=1`);
    const due = await page.$$eval('#report-list td.due', (tds) => tds.map((t) => t.textContent));
    assert.ok(due.length > 0);
    for (const d of due) assert.match(d, /（超期）/);
    assert.match(await text(page, '#paging'), /共 \d+ 件/);
  });

  await step('the 城管 user signs in to the web, works its queue (处置, 反馈) and sees nothing else', async () => {
    const { context, page: d } = await signIn('chengguan');
    assert.equal(new URL(d.url()).pathname, '/web/queue', 'a department lands on its queue');
    assert.match(await text(d, 'h1'), /区城管执法局/);
    const rows = d.locator('#queue tbody tr[data-id]');
    assert.ok(await rows.count() > 0, 'reports dispatched to 城管');
    await shot(d, 'department-queue');
    const row = d.locator('#queue tbody tr[data-stage="dispatched"]').first();
    const id = await row.getAttribute('data-id');
    await row.locator('input[name=note]').fill('已到场劝离占道摊贩');
    await Promise.all([d.waitForLoadState('load'), row.locator('button.step-handle').click()]);
    assert.match(await text(d, 'h1'), /确认处置/);
    const photo = path.join(WORK, 'handled.png');
    writeFileSync(photo, png(160, 120));
    await d.setInputFiles('input[type=file][name=photo]', photo);
    await Promise.all([d.waitForLoadState('load'), d.click('#confirm-step')]);
    assert.match(await text(d, '#done'), /已处置/);
    const handled = d.locator(`#queue tr[data-id="${id}"]`);
    assert.equal(await handled.getAttribute('data-stage'), 'handled');
    await handled.locator('input[name=note]').fill('通道已恢复畅通');
    await Promise.all([d.waitForLoadState('load'), handled.locator('button.step-feedback').click()]);
    await Promise.all([d.waitForLoadState('load'), d.click('#confirm-step')]);
    assert.match(await text(d, '#done'), /已反馈/);
    await d.goto(`${BASE}/web/reports/${id}`);
    assert.match(await text(d, '#timeline'), /已到场劝离占道摊贩/);
    assert.match(await text(d, '#timeline'), /城管执法队员（职能部门）/);
    // The photo, as a thumbnail the browser could load under the CSP.
    const thumb = d.locator('#photos img').first();
    await thumb.waitFor();
    assert.ok(await thumb.evaluate((img) => img.complete && img.naturalWidth > 0), 'the thumbnail loaded');
    await shot(d, 'report-page');
    // An out-of-role step (checking its own work) is refused with the
    // reason, in Chinese.
    const csrf = await d.locator('input[name=csrf]').first().getAttribute('value');
    const refused = await d.request.post(`${BASE}/web/reports/${id}/step`, {
      form: { csrf, kind: 'verify_pass', back: 'queue' }, maxRedirects: 0,
    });
    assert.equal(refused.status(), 400);
    assert.match(await refused.text(), /职能部门不能核查通过：须由本网格网格员或上报人核查/);
    for (const url of [`/web/t/${COMMUNITY}`, `/web/t/${GRID1}`, '/web/review', `/web/export/ledger.xlsx?code=${GRID1}`]) {
      assert.equal((await d.goto(`${BASE}${url}`)).status(), 403, url);
    }
    await context.close();
  });

  await step('resolve a same-field conflict in the review queue; the choice reaches the phone', async () => {
    await page.goto(`${BASE}/web/review?code=${COMMUNITY}`);
    await shot(page, '08-review');
    const conflicts = page.locator('#conflicts tr.conflict');
    const before = await conflicts.count();
    assert.ok(before >= 1, 'the demo has a conflict');
    const doc = await conflicts.first().getAttribute('data-doc');
    const form = conflicts.first().locator('form.choose').nth(1);
    await Promise.all([page.waitForLoadState('load'), form.locator('button').click()]);
    assert.match(await text(page, '#done'), /已按所选值处理冲突/);
    assert.equal(await page.locator('#conflicts tr.conflict').count(), before - 1);
    await shot(page, '09-review-resolved');
    shequPhone.sync();
    const left = shequPhone.json('conflicts', doc);
    assert.equal(left.length, 0, 'no conflict left on the phone');
  });

  await step('dismiss a suspected duplicate', async () => {
    const dups = page.locator('#duplicates tr.duplicate');
    const before = await dups.count();
    assert.ok(before >= 1, 'the demo has a suspected duplicate');
    await Promise.all([page.waitForLoadState('load'), dups.first().locator('button.dismiss').click()]);
    assert.match(await text(page, '#done'), /已确认不是重复/);
    assert.equal(await page.locator('#duplicates tr.duplicate').count(), before - 1);
  });

  await step('merge a person recorded twice in one household', async () => {
    const twice = page.locator('#duplicates tr.duplicate:has(button.merge-residents)');
    assert.equal(await twice.count(), 1, 'the demo has one');
    await Promise.all([page.waitForLoadState('load'), twice.first().locator('button.merge-residents').click()]);
    assert.match(await text(page, '#done'), /已合并重复登记的居民/);
    assert.equal(await page.locator('#duplicates button.merge-residents').count(), 0);
  });

  await step('the overview also works on a tablet (1024×768)', async () => {
    const { page: tablet } = await signIn('jiedao', { width: 1024, height: 768 });
    assert.match(new URL(tablet.url()).pathname, /\/web\/t\/110105001$/);
    assert.equal(await num(tablet, '#kpi-households'), expected.households);
    await shot(tablet, '10-overview-street-tablet');
  });

  await step("a grid worker cannot open another grid's pages, nor the community's", async () => {
    const { context, page: w } = await signIn('wangge1');
    assert.equal(new URL(w.url()).pathname, `/web/t/${GRID1}`);
    await shot(w, '11-grid-worker-home');
    for (const url of [`/web/t/${GRID2}`, `/web/t/${COMMUNITY}`, `/web/g/${GRID2}/building`,
      `/web/export/ledger.xlsx?code=${GRID2}`, `/web/reports?code=${GRID2}`]) {
      const r = await w.goto(`${BASE}${url}`);
      assert.equal(r.status(), 403, url);
    }
    assert.match(await text(w, '#error'), /无权/);
    await shot(w, '12-grid-worker-forbidden');
    const other = households.find((h) => h.grid === GRID2);
    const r = await w.goto(`${BASE}/web/h/${other.id}`);
    assert.equal(r.status(), 403, 'household of another grid');
    const own = households.find((h) => h.grid === GRID1);
    assert.equal((await w.goto(`${BASE}/web/h/${own.id}`)).status(), 200, 'own grid');
    await context.close();
  });

  await step('admins read the audit log: the unmasked view and the export, by whom', async () => {
    assert.ok(householdUrl && exported);
    const { page: a } = await signIn('admin');
    await a.goto(`${BASE}/web/admin/audit`);
    // In words: the person by name and role, the household by its
    // address, the territory by its name, what was exported.
    const rows = await a.$$eval('#audit tbody tr', (trs) => trs.map((tr) =>
      Object.fromEntries(['who', 'action', 'target'].map((c) => [c, tr.querySelector(`td.${c}`)?.textContent.trim()]))));
    const who = '幸福社区书记（社区/街道管理员）';
    assert.ok(rows.some((r) => r.who === who && r.action === '查看完整信息' && r.target === householdAddress),
      JSON.stringify(rows));
    assert.ok(rows.some((r) => r.who === who && r.action === '导出居民台账（XLSX，已脱敏）' && r.target === '幸福社区'),
      JSON.stringify(rows));
    const all = await text(a, '#audit tbody');
    for (const raw of ['household:', 'territory:', 'ledger.xlsx', 'shequ']) assert.ok(!all.includes(raw), raw);
    await shot(a, '13-audit-log');
    const { context: sc, page: s } = await signIn('shequ');
    assert.equal((await s.goto(`${BASE}/web/admin/audit`)).status(), 403, 'supervisors cannot');
    await sc.close();
  });

  await step('signing out ends the session', async () => {
    await page.goto(`${BASE}/web/t/${COMMUNITY}`);
    await Promise.all([page.waitForLoadState('load'), page.click('header form button')]);
    assert.match(page.url(), /\/web\/login$/);
    await page.goto(`${BASE}/web/t/${COMMUNITY}`);
    assert.match(page.url(), /\/web\/login$/);
  });
} finally {
  await browser.close();
}

report(ARTIFACTS, shotWarnings);
