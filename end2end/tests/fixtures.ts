import { test as base, expect, Browser, BrowserContextOptions, Page } from "@playwright/test";
import { spawn, ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(__dirname, "..", "..");
const binary = process.env.SWITCHYARD_BIN ?? join(root, "target", "release", "switchyard");
const siteRoot = process.env.SWITCHYARD_SITE_ROOT ?? join(root, "target", "site");

export type Server = { url: string; dataDir: string };

/** The first admin's password in every test server. */
export const ADMIN_PASSWORD = "e2e-admin-password";

/** Starts `switchyard serve` on port 0 with an empty data dir; resolves once it
 * prints the address it listens on (which it does only when ready). */
async function startServer(dataDir: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(
    binary,
    ["serve", "--bind", "127.0.0.1:0", "--data-dir", dataDir, "--site-root", siteRoot],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RUST_LOG: "warn", SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    },
  );
  let output = "";
  const url = await new Promise<string>((resolveUrl, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = output.match(/listening on (http:\/\/\S+)/);
      if (m) resolveUrl(m[1]);
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    proc.on("exit", (code) => reject(new Error(`switchyard exited with ${code}:\n${output}`)));
    proc.on("error", reject);
  });
  return { proc, url };
}

/** Logs the page's browser context in through the login form's endpoint. */
export async function login(page: Page, url: string, name: string, password: string) {
  const res = await page.request.post(`${url}/auth/login`, {
    form: { name, password, next: "/" },
    maxRedirects: 0,
  });
  expect(res.status()).toBe(303);
  expect(res.headers()["set-cookie"] ?? "").toContain("switchyard_session=");
}

/** Creates a user with `role` through the admin API (the page must be an admin's). */
export async function addUser(page: Page, url: string, name: string, role: string, password: string) {
  const res = await page.request.post(`${url}/api/v1/users`, { data: { name, role, password } });
  expect(res.status()).toBe(201);
}

/** A new browser context (e.g. without JavaScript) logged in as the admin. */
export async function loggedInContext(browser: Browser, url: string, options: BrowserContextOptions = {}) {
  const context = await browser.newContext({ baseURL: url, ...options });
  const res = await context.request.post(`${url}/auth/login`, {
    form: { name: "admin", password: ADMIN_PASSWORD, next: "/" },
    maxRedirects: 0,
  });
  expect(res.status()).toBe(303);
  return context;
}

export const test = base.extend<{ server: Server; anonymous: Page }>({
  server: async ({}, use) => {
    const dataDir = mkdtempSync(join(tmpdir(), "switchyard-e2e-"));
    const { proc, url } = await startServer(dataDir);
    await use({ url, dataDir });
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    rmSync(dataDir, { recursive: true, force: true });
  },
  baseURL: async ({ server }, use) => use(server.url),
  // Every test's page starts logged in as the first admin; `anonymous` is a
  // page of a fresh context without a session.
  page: async ({ page, server }, use) => {
    await login(page, server.url, "admin", ADMIN_PASSWORD);
    await use(page);
  },
  // API calls of the tests themselves go out as the logged-in page.
  request: async ({ page }, use) => {
    await use(page.request);
  },
  anonymous: async ({ browser, server }, use) => {
    const context = await browser.newContext({ baseURL: server.url });
    const page = await context.newPage();
    await use(page);
    await context.close();
  },
});

/** Waits until the wasm has hydrated the page, so clicks reach handlers. */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
}

export { expect };
