import { test as base, expect, Page } from "@playwright/test";
import { spawn, ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(__dirname, "..", "..");
const binary = process.env.SWITCHYARD_BIN ?? join(root, "target", "release", "switchyard");
const siteRoot = process.env.SWITCHYARD_SITE_ROOT ?? join(root, "target", "site");

export type Server = { url: string; dataDir: string };

/** Starts `switchyard serve` on port 0 with an empty data dir; resolves once it
 * prints the address it listens on (which it does only when ready). */
async function startServer(dataDir: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(
    binary,
    ["serve", "--bind", "127.0.0.1:0", "--data-dir", dataDir, "--site-root", siteRoot],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "warn" } },
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

export const test = base.extend<{ server: Server }>({
  server: async ({}, use) => {
    const dataDir = mkdtempSync(join(tmpdir(), "switchyard-e2e-"));
    const { proc, url } = await startServer(dataDir);
    await use({ url, dataDir });
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    rmSync(dataDir, { recursive: true, force: true });
  },
  baseURL: async ({ server }, use) => use(server.url),
});

/** Waits until the wasm has hydrated the page, so clicks reach handlers. */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
}

export { expect };
