// Browser test of the Swagger UI at /docs: a real (headless) Chromium logs in through
// the OAuth2 password dialog and creates an order with "Try it out", as a user would.
//
//   ORDER_SERVICE_URL=http://127.0.0.1:8000 node tests/browser/swagger_ui.test.mjs
//
// Needs Debian's chromium (/usr/bin/chromium, `scripts/setup --browser`; skipped when
// absent; CHROMIUM_PATH overrides) and a running api (the runner starts one). Saves a
// screenshot to docs/images/swagger-ui.png (SCREENSHOT_PATH overrides; empty = none).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT = process.env.SCREENSHOT_PATH ?? path.join(REPO, 'docs', 'images', 'swagger-ui.png');
const STEP_MS = 30_000; // per step (navigation, selector wait, request)
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function baseUrl() {
  const raw = process.env.ORDER_SERVICE_URL;
  assert.ok(raw, 'ORDER_SERVICE_URL is not set: start an api (e.g. scripts/run) and set it to its ' +
                 'base URL, e.g. ORDER_SERVICE_URL=http://127.0.0.1:8000');
  return raw.replace(/\/+$/, '');
}

async function fetchOk(url, init, expected) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(STEP_MS) });
  const body = await res.text();
  assert.equal(res.status, expected, `${init?.method ?? 'GET'} ${url} -> ${res.status}: ${body}`);
  return body;
}

test('Swagger UI: authorize with the password flow, then create an order with Try it out',
     { timeout: 240_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not found: install Debian's chromium (scripts/setup --browser) ` +
           'or set CHROMIUM_PATH to run the browser test');
    return;
  }
  const base = baseUrl();
  const { chromium } = await import('playwright-core');

  // A fresh user, registered through the API like any client would.
  const email = `swagger-${Date.now()}-${Math.random().toString(16).slice(2, 8)}@example.com`;
  const password = 'correct-horse-battery';
  const created = JSON.parse(await fetchOk(`${base}/register/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  }, 201));

  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'order-service-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    timeout: STEP_MS,
  });
  const problems = [];
  try {
    context.setDefaultTimeout(STEP_MS);
    context.setDefaultNavigationTimeout(STEP_MS);
    const page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => !r.url().endsWith('/favicon.ico') && problems.push(`request failed: ${r.method()} ${r.url()} ` +
                                                  `(${r.failure()?.errorText})`));
    page.on('response', (r) => {
      const { pathname } = new URL(r.url());
      if (r.status() >= 400 && !pathname.startsWith('/orders') && pathname !== '/favicon.ico') {
        problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
      }
    });

    await t.test('the page loads the document', async () => {
      await page.goto(`${base}/docs`, { waitUntil: 'load' });
      await page.locator('.swagger-ui .info .title').first().waitFor();
      const title = await page.locator('.swagger-ui .info .title').first().innerText();
      assert.match(title, /order-service/);
      await page.locator('#operations-orders-create_order').waitFor();
    });

    await t.test('Authorize with the OAuth2 password flow', async () => {
      await page.locator('.scheme-container button.btn.authorize').click();
      const dialog = page.locator('.dialog-ux .modal-ux');
      await dialog.waitFor();
      await dialog.locator('#oauth_username').fill(email);
      await dialog.locator('#oauth_password').fill(password);
      const [tokenResponse] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname.replace(/\/$/, '') === '/token' &&
                                    r.request().method() === 'POST'),
        dialog.locator('button.btn.modal-btn.auth.authorize', { hasText: 'Authorize' }).click(),
      ]);
      assert.equal(tokenResponse.status(), 200, `POST /token/ from Swagger UI: ${await tokenResponse.text()}`);
      // Authorized: the dialog shows Logout instead of Authorize.
      await dialog.locator('button.btn.modal-btn.auth.authorize', { hasText: 'Logout' }).waitFor();
      await dialog.locator('button.btn-done').first().click();
      await dialog.waitFor({ state: 'detached' });
      await page.locator('.scheme-container button.btn.authorize.locked').waitFor();
    });

    await t.test('POST /orders/ with Try it out returns 201 and the order', async () => {
      const op = page.locator('#operations-orders-create_order');
      await op.locator('.opblock-summary-control').click();
      await op.locator('button.try-out__btn').click();
      const body = op.locator('textarea.body-param__text');
      await body.waitFor();
      const items = [{ product_id: 42, quantity: 3, price: 0.1 }, { product_id: 7, quantity: 1, price: 19.99 }];
      await body.fill(JSON.stringify({ items }, null, 2));
      const [orderResponse] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname.replace(/\/$/, '') === '/orders' &&
                                    r.request().method() === 'POST'),
        op.locator('button.btn.execute').click(),
      ]);
      assert.match(orderResponse.request().headers()['authorization'] ?? '', /^Bearer .+/,
                   'Swagger UI did not send the bearer token');
      assert.equal(orderResponse.status(), 201, `POST /orders/ from Swagger UI: ${await orderResponse.text()}`);

      const live = op.locator('.live-responses-table');
      await live.waitFor();
      const status = await live.locator('tbody .response .response-col_status').first().innerText();
      assert.equal(status.trim(), '201');
      const shown = await live.locator('.response-col_description pre').first().innerText();
      const order = JSON.parse(shown);
      assert.match(order.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.equal(order.user_id, created.id);
      assert.equal(order.status, 'PENDING');
      assert.equal(order.total_price, 20.29);
      assert.deepEqual(order.items, items);
      assert.equal(order.processed_at, null);

      if (SCREENSHOT) {
        await mkdir(path.dirname(SCREENSHOT), { recursive: true });
        // From the top of the page down to the server response of the operation.
        await live.scrollIntoViewIfNeeded();
        const bottom = await live.evaluate((el) => el.getBoundingClientRect().bottom + window.scrollY);
        await page.screenshot({
          path: SCREENSHOT,
          fullPage: true,
          clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) + 24 },
        });
        t.diagnostic(`screenshot: ${path.relative(REPO, SCREENSHOT)}`);
      }
    });

    assert.deepEqual(problems, [], `the browser saw problems:\n${problems.join('\n')}`);
  } finally {
    await context.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
});
