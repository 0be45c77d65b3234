// Every supervisor web page at phone width (390×844) and on an office
// screen (1366×768), in real headless Chromium against the real server
// started by run.sh with the demo data (after supervisor.test.mjs).
//
// For each page and size: a screenshot (`phone-<page>.png`,
// `desktop-<page>.png`) and measurable checks that fail on a page a phone
// cannot use: no sideways scrolling of the page itself; every header link,
// button, form field and every table's last column on screen, or reachable
// by scrolling the box it sits in; header texts not broken into a column of
// characters; chart labels at least 11 px as rendered and not cut by the
// chart's edge; at phone width, buttons and fields at least 40 px tall for
// a finger.
//
// Then, at desktop size, two walks of issue 14 item 8: a resident edited on
// a phone (the `gridsync` command-line client, the phone's core) shows in
// the household's history in words, not codes; and the unmasked-export
// button asks for a reason that the audit log then shows.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PASSWORD, launch, pages, runner } from './lib.mjs';

const BASE = process.env.GRIDSYNC_URL ?? 'http://127.0.0.1:8080';
const CLI = process.env.GRIDSYNC_CLI ?? 'target/debug/gridsync';
const WORK = process.env.GRIDSYNC_WORK ?? mkdtempSync(path.join(tmpdir(), 'gs-phone-'));
const ARTIFACTS = process.env.ARTIFACTS ?? 'target/browser-artifacts';
const { step, report } = runner();

const STREET = '110105001';
const COMMUNITY = '110105001001';
const GRID1 = '110105001001001';

const SIZES = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1366, height: 768 },
};
/** Smallest chart label, px as rendered. */
const MIN_CHART_TEXT = 11;
/** Smallest touch target at phone width, px. */
const MIN_TOUCH = 40;

// ---- the phone's core, for the history walk
function cli(store, ...args) {
  // The password only to the command that reads it: writing to one that
  // has already exited fails with EPIPE.
  return execFileSync(CLI, args, {
    env: { ...process.env, GRIDSYNC_STORE: store },
    input: args.includes('--password-stdin') ? `${PASSWORD}\n` : '',
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
function phone(username) {
  const store = path.join(WORK, `phone-test-${username}.sqlite3`);
  cli(store, 'login', '--server', BASE, '--username', username, '--password-stdin');
  cli(store, 'sync');
  return {
    run: (...args) => cli(store, ...args),
    sync: () => cli(store, 'sync'),
    json: (...args) => JSON.parse(cli(store, '--json', ...args)),
  };
}

/**
 * What is wrong with the page's layout at `size` (a list of sentences; empty
 * when nothing is). Measured in the page: positions after scrolling each
 * element into view, so a wide table that scrolls inside its own box passes
 * and one that pushes the page sideways, or hides behind a clipping box,
 * does not.
 */
async function layoutProblems(page, size) {
  const problems = await page.evaluate(({ touch, minChart }) => {
    const out = [];
    const vw = document.documentElement.clientWidth;
    const vh = window.innerHeight;
    const name = (el) => {
      const t = (el.textContent || el.getAttribute('aria-label') || el.getAttribute('name') || '').trim().replace(/\s+/g, ' ');
      return `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}> "${t.slice(0, 24)}"`;
    };
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
    };

    // 1. The page itself does not scroll sideways.
    const sw = document.documentElement.scrollWidth;
    if (sw > vw + 1) out.push(`the page scrolls sideways: ${sw}px wide in a ${vw}px window`);

    // 2. Reachable: after scrolling it into view, inside the window and
    //    inside every box around it that clips.
    const reachable = (el, what) => {
      el.scrollIntoView({ block: 'center', inline: 'center' });
      const r = el.getBoundingClientRect();
      if (window.scrollX !== 0) out.push(`${what} ${name(el)}: the page had to scroll sideways (${window.scrollX}px) to show it`);
      if (r.left < -1 || r.right > vw + 1) {
        out.push(`${what} ${name(el)}: off screen at x ${Math.round(r.left)}–${Math.round(r.right)} of ${vw}px`);
        return;
      }
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const ox = getComputedStyle(a).overflowX;
        if (ox === 'visible') continue;
        const b = a.getBoundingClientRect();
        if (r.left < b.left - 1 || r.right > b.right + 1) {
          out.push(`${what} ${name(el)}: cut off by ${name(a)} (overflow-x ${ox})`);
          return;
        }
      }
    };
    const header = document.querySelector('header');
    const headerItems = header ? [...header.querySelectorAll('a, button, .brand, .who')].filter(visible) : [];
    for (const el of headerItems) reachable(el, 'header');
    const controls = [...document.querySelectorAll(
      'main button, main a.button, main input[type=submit], main input[type=text], main input:not([type]), main select, main textarea, form.login input, form.login button',
    )].filter(visible);
    for (const el of controls) reachable(el, 'control');
    // The last column (超期, 操作…): its heading, and its cell in the first
    // row (a table shown as stacked rows has no visible heading).
    for (const table of [...document.querySelectorAll('main table')].filter(visible)) {
      for (const last of [table.querySelector('thead tr > :last-child'), table.querySelector('tbody tr > :last-child')]) {
        // (a row saying the table is empty spans every column: not a column)
        if (last && visible(last) && last.colSpan === 1) reachable(last, `last column of table${table.id ? ` #${table.id}` : ''}`);
      }
    }
    window.scrollTo(0, 0);
    for (const s of document.querySelectorAll('*')) if (s.scrollLeft) s.scrollLeft = 0;

    // 3. Header texts are words on a line or two, not a column of characters.
    for (const el of headerItems) {
      const s = getComputedStyle(el);
      const line = s.lineHeight === 'normal' ? parseFloat(s.fontSize) * 1.4 : parseFloat(s.lineHeight);
      const h = el.getBoundingClientRect().height;
      // a button's own padding and border are not lines of text
      const pad = parseFloat(s.paddingTop) + parseFloat(s.paddingBottom) + parseFloat(s.borderTopWidth) + parseFloat(s.borderBottomWidth);
      const lines = (h - pad) / line;
      if (lines > 3.2) out.push(`header ${name(el)}: ${lines.toFixed(1)} lines tall (${Math.round(h)}px)`);
    }
    if (header && header.getBoundingClientRect().height > vh * 0.3) {
      out.push(`the header takes ${Math.round(header.getBoundingClientRect().height)}px of a ${vh}px screen`);
    }

    // 4. Chart labels readable as rendered: font size times the SVG's
    //    scale; and whole, not cut by the edge of the drawing.
    for (const t of [...document.querySelectorAll('svg text')].filter(visible)) {
      const ctm = t.getScreenCTM();
      const scale = ctm ? Math.hypot(ctm.a, ctm.b) : 1;
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < minChart - 0.05) out.push(`chart text "${t.textContent.trim()}": ${px.toFixed(1)}px`);
      const r = t.getBoundingClientRect();
      const box = t.ownerSVGElement.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > box.right + 1) {
        out.push(`chart text "${t.textContent.trim()}": cut by the chart's edge (x ${Math.round(r.left)}–${Math.round(r.right)}, chart ${Math.round(box.left)}–${Math.round(box.right)})`);
      }
    }

    // 5. At phone width, targets a finger can hit.
    if (touch) {
      const targets = [...headerItems.filter((el) => el.matches('a, button')), ...controls.filter((el) => !el.matches('textarea'))];
      for (const el of targets) {
        const h = el.getBoundingClientRect().height;
        if (h < touch - 0.5) out.push(`touch target ${name(el)}: ${Math.round(h)}px tall`);
      }
    }
    return out;
  }, { touch: size === 'phone' ? MIN_TOUCH : 0, minChart: MIN_CHART_TEXT });
  // One line per kind of problem and element, so a table of 20 rows does
  // not print the same button 20 times.
  return [...new Set(problems)];
}

async function expectUsable(page, size) {
  const problems = await layoutProblems(page, size);
  for (const p of problems) console.log(`     ${size} ${new URL(page.url()).pathname}: ${p}`);
  assert.deepEqual(problems, [], `${problems.length} layout problem(s) at ${size} size:\n  ${problems.slice(0, 25).join('\n  ')}`);
}

const browser = await launch();
const { shot, signIn, shotWarnings } = pages(browser, BASE, ARTIFACTS);
const text = async (page, sel) => (await page.textContent(sel))?.trim();

async function go(page, url) {
  const r = await page.goto(`${BASE}${url}`);
  await page.waitForLoadState('load');
  return r;
}

try {
  for (const [size, viewport] of Object.entries(SIZES)) {
    const contexts = [];
    const as = async (user) => {
      const s = await signIn(user, viewport);
      contexts.push(s.context);
      return s.page;
    };

    await step(`${size}: the login form`, async () => {
      const context = await browser.newContext({ viewport, locale: 'zh-CN' });
      contexts.push(context);
      const p = await context.newPage();
      await go(p, '/web/login');
      assert.ok(await p.locator('form.login').isVisible());
      await shot(p, `${size}-login`, { fullPage: size === 'phone' });
      await expectUsable(p, size);
    });

    const shequ = await as('shequ');
    const jiedao = await as('jiedao');
    const chengguan = await as('chengguan');
    const admin = await as('admin');

    // The pages reached by links are found the way a person finds them.
    await go(shequ, `/web/t/${GRID1}`);
    const building = await shequ.getAttribute('#children tbody tr:first-child a', 'href');
    await go(shequ, building);
    const household = await shequ.getAttribute('table.households tbody tr:first-child a', 'href');
    await go(shequ, `/web/reports?code=${COMMUNITY}`);
    const reportLink = await shequ.getAttribute('#report-list a.open-report', 'href');

    const walk = [
      ['overview', shequ, `/web/t/${COMMUNITY}`, async (p) => assert.match(await text(p, 'h1'), /幸福社区/)],
      ['overview-street', jiedao, `/web/t/${STREET}`, async (p) => assert.ok(await p.locator('#chart text').count() > 0, 'a chart')],
      ['overview-grid', shequ, `/web/t/${GRID1}`, async (p) => assert.ok(await p.locator('#children tbody tr').count() > 0)],
      ['building', shequ, building, async (p) => assert.ok(await p.locator('table.households tbody tr').count() > 0)],
      ['household', shequ, household, async (p) => assert.ok(await p.locator('#residents tbody tr').count() > 0)],
      ['reports', shequ, `/web/reports?code=${COMMUNITY}`, async (p) => assert.ok(await p.locator('#report-list tbody tr[data-id]').count() > 0)],
      ['report', shequ, reportLink, async (p) => assert.ok(await p.locator('#timeline tbody tr').count() > 0)],
      ['queue', chengguan, '/web/queue', async (p) => assert.ok(await p.locator('#queue tbody tr').count() > 0)],
      ['review', shequ, `/web/review?code=${COMMUNITY}`, async (p) => assert.ok(await p.locator('#conflicts').isVisible())],
      ['export-full', shequ, `/web/export/full?file=ledger.xlsx&code=${COMMUNITY}`, async (p) => assert.ok(await p.locator('#export-full-submit').isVisible())],
      ['audit', admin, '/web/admin/audit', async (p) => assert.ok(await p.locator('#audit tbody tr').count() > 0)],
      ['hotline', admin, '/web/admin/hotline', async (p) => assert.ok(await p.locator('#credentials').isVisible())],
      ['unheld', shequ, `/web/t/${COMMUNITY}/unheld`, async (p) => assert.ok(await p.locator('table tbody tr').count() > 0)],
      ['import', shequ, '/web/import', async (p) => assert.ok(await p.locator('input[type=file]').count() > 0)],
    ];
    for (const [name, p, url, check] of walk) {
      await step(`${size}: ${name} (${url.split('?')[0]}) is usable`, async () => {
        const r = await go(p, url);
        assert.equal(r.status(), 200, url);
        await check(p);
        await shot(p, `${size}-${name}`, { fullPage: size === 'phone' });
        await expectUsable(p, size);
      });
    }

    await step(`${size}: the error page`, async () => {
      const r = await go(shequ, '/web/admin/audit');
      assert.equal(r.status(), 403);
      assert.match(await text(shequ, '#error'), /无权/);
      await shot(shequ, `${size}-error`, { fullPage: size === 'phone' });
      await expectUsable(shequ, size);
    });

    for (const c of contexts) await c.close();
  }

  // ---- item 8: the history in words after a phone's edit
  await step('desktop: a resident edited on a phone shows in the history in words (流动, 独居老人, the 民族 by name), not codes', async () => {
    const worker = phone('wangge1');
    const list = worker.json('household', 'list').filter((h) => h.grid === GRID1 && h.residents > 0);
    assert.ok(list.length > 0, 'households in grid 1');
    // Someone whose status and tag the edit changes; preferably someone
    // the tag fits: 60 or over, living alone.
    let chosen;
    for (const h of list.slice(0, 40)) {
      const full = worker.json('household', 'show', h.id);
      const current = Object.entries(full.residents ?? {}).filter(([, r]) => !r.removed && !r.merged_into);
      const open = current.filter(([, r]) => r.status !== 'floating' && !r.tags?.living_alone_elderly);
      const old = open.find(([, r]) => r.birth_date && r.birth_date <= '1960-01-01');
      if (current.length === 1 && old) { chosen = { hid: h.id, rid: old[0], r: old[1] }; break; }
      if (!chosen && open.length) chosen = { hid: h.id, rid: open[0][0], r: open[0][1] };
    }
    assert.ok(chosen, 'a resident not yet 流动 nor 独居老人 in grid 1');
    // Every field changes, so each is in the entry: 02 蒙古族 or 03 回族.
    const [code, ethnicity] = chosen.r.ethnicity === '03' ? ['02', '蒙古族'] : ['03', '回族'];
    worker.run('resident', 'edit', chosen.hid, chosen.rid,
      '--status', 'floating', '--tag', 'living_alone_elderly', '--ethnicity', code);
    worker.sync();

    const { context, page } = await signIn('shequ');
    const r = await go(page, `/web/h/${chosen.hid}`);
    assert.equal(r.status(), 200);
    const rows = await page.$$eval('#history tbody tr', (trs) => trs.map((tr) => tr.textContent.replace(/\s+/g, ' ').trim()));
    const edit = rows.find((t) => t.includes('第1网格网格员') && t.includes('流动'));
    assert.ok(edit, `the phone's edit in the history:\n${rows.join('\n')}`);
    assert.match(edit, /居住状态: 流动/);
    assert.match(edit, /独居老人/);
    assert.match(edit, new RegExp(`民族: ${ethnicity}`));
    for (const raw of ['floating', 'living_alone_elderly', `民族: ${code}`, 'status', 'tags', 'ethnicity', 'true']) {
      assert.ok(!edit.includes(raw), `raw "${raw}" in: ${edit}`);
    }
    await shot(page, 'desktop-household-history-words');
    await context.close();
  });

  // ---- item 8: the unmasked export, from the button to the audit log
  await step('desktop: the unmasked-export button → reason → download; the audit log names the person, the export and the reason', async () => {
    const reason = `核对独居老人名单（浏览器测试 ${Date.now()}）`;
    const { context, page } = await signIn('shequ');
    await go(page, `/web/t/${COMMUNITY}`);
    await Promise.all([page.waitForLoadState('load'), page.click('#export-full')]);
    assert.equal(new URL(page.url()).pathname, '/web/export/full');
    await page.selectOption('select[name=file]', 'ledger.csv');
    await page.fill('textarea[name="reason"]', reason);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-full-submit')]);
    const file = path.join(ARTIFACTS, 'ledger-full-phone-test.csv');
    await download.saveAs(file);
    assert.match(download.suggestedFilename(), /\.csv$/);
    await context.close();

    const { context: ac, page: a } = await signIn('admin');
    await go(a, '/web/admin/audit');
    const rows = await a.$$eval('#audit tbody tr', (trs) => trs.map((tr) => tr.textContent.replace(/\s+/g, ' ').trim()));
    const entry = rows.find((t) => t.includes(reason));
    assert.ok(entry, `the reason in the audit log:\n${rows.slice(0, 10).join('\n')}`);
    assert.match(entry, /幸福社区书记/);
    assert.match(entry, /居民台账/);
    assert.match(entry, /未脱敏|完整信息/);
    assert.match(entry, /幸福社区/);
    await shot(a, 'desktop-audit-export-reason');
    await ac.close();
  });

  await step('desktop: the building head\'s 群众诉求 is an open need; its household shows the contact; the unit head who never synced is flagged', async () => {
    const { context, page } = await signIn('shequ');
    await go(page, `/web/t/${COMMUNITY}`);
    const need = page.locator('#needs tr.need', { hasText: '请物业清理三楼楼道杂物' });
    assert.equal(await need.count(), 1, 'the 楼栋长\'s need is listed');
    assert.match(await need.textContent(), /孙桂英/);
    const never = await page.$$eval('#syncs tbody tr', (trs) => trs.map((tr) => tr.textContent.replace(/\s+/g, ' ')));
    assert.ok(never.some((t) => t.includes('周明') && t.includes('单元长') && t.includes('从未同步')), never.join('\n'));
    assert.ok(never.some((t) => t.includes('孙桂英') && t.includes('楼栋长') && !t.includes('从未同步')), 'the building head synced');
    await Promise.all([page.waitForLoadState('load'), need.locator('a').first().click()]);
    const visits = await page.textContent('body');
    assert.match(visits, /孙桂英（楼栋长）/);
    assert.match(visits, /请物业清理三楼楼道杂物/);
    await shot(page, 'desktop-household-building-head-contact');
    await context.close();
  });
} finally {
  await browser.close();
}

report(ARTIFACTS, shotWarnings);
